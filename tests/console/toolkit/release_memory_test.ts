import assert from "node:assert/strict";
import { findLibc } from "../../../console/toolkit/libc.ts";
import {
  trimAllocator,
  trimAvailable,
} from "../../../console/toolkit/release_memory.ts";

const CHILD = new URL("./_trim_child.ts", import.meta.url).pathname;
const LIBC = findLibc();

interface ChildReport {
  stats: {
    rssBefore: number;
    rssAfter: number;
    trimmed: boolean;
    lastEstimate: number;
    lastPeak: number | null;
    lastPauseMs: number;
  };
  lastCapture: { rssBefore: number; rssAfter: number; trimmed: boolean };
  text: string;
}

async function captureInChild(ffi: boolean): Promise<ChildReport> {
  const dir = await Deno.makeTempDir();
  try {
    const { code, stdout, stderr } = await new Deno.Command("deno", {
      args: [
        "run",
        "--allow-sys",
        `--allow-read`,
        `--allow-write=${dir}`,
        ...(ffi ? [`--allow-ffi=${LIBC}`] : []),
        CHILD,
        dir,
      ],
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(stdout);
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    return JSON.parse(text.trim().split("\n").at(-1)!);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("`trimAllocator()` does nothing without --allow-ffi", () => {
  // The test task grants no FFI.
  assert.equal(trimAvailable(), false);
  assert.equal(trimAllocator(), false);
});

Deno.test({
  name:
    "a capture's freed native memory stays in RSS, and comes back with malloc_trim",
  ignore: Deno.build.os !== "linux" || LIBC === undefined,
  async fn() {
    const plain = await captureInChild(false);
    const trimmed = await captureInChild(true);
    const grew = (r: ChildReport) => r.stats.rssAfter - r.stats.rssBefore;
    assert.equal(plain.stats.trimmed, false);
    assert.equal(trimmed.stats.trimmed, true);
    assert.deepEqual(plain.lastCapture, {
      rssBefore: plain.stats.rssBefore,
      rssAfter: plain.stats.rssAfter,
      trimmed: false,
      mode: "in-process",
      estimate: plain.stats.lastEstimate,
      peak: plain.stats.lastPeak,
      pauseMs: plain.stats.lastPauseMs,
    });
    assert.match(plain.text, /rss before last capture\s+[\d.]+ MiB/);
    assert.match(
      plain.text,
      /rss after last capture\s+[\d.]+ MiB.*deno task start:fork/,
    );
    assert.match(trimmed.text, /after a GC and malloc_trim/);
    // Measured: +250 MiB without, a few MiB with (a 28 MiB heap).
    assert.ok(grew(plain) > 100 * 2 ** 20, `without: +${grew(plain)} bytes`);
    assert.ok(
      grew(trimmed) < grew(plain) / 4,
      `with: +${grew(trimmed)} vs +${grew(plain)} bytes`,
    );
  },
});
