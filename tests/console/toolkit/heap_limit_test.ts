/**
 * A capture under a capped V8 heap, in a real service process: refused with a
 * clear message instead of V8 aborting the process, and nothing written.
 */

import assert from "node:assert/strict";
import { runMain, spawnMain } from "../../_process.ts";

const TOKEN = "heap-limit-" + crypto.randomUUID();

Deno.test("a capture that would pass V8's heap limit is refused, the service lives on", async () => {
  const home = Deno.env.get("HOME")!;
  const service = await spawnMain(
    ["serve", "--port", "0", "--console-port", "0"],
    {
      denoFlags: ["--v8-flags=--max-old-space-size=64"],
      env: { CONSOLE_TOKEN: TOKEN },
    },
  );
  try {
    const line = await service.stdout.waitFor(/^console listening on /);
    const port = line.match(/:(\d+)$/)![1]!;
    const run = (code: string) =>
      runMain(["console", "--port", port, "-e", code], {
        task: "console",
        env: { CONSOLE_TOKEN: TOKEN },
      });
    // ~20 MiB of live objects: the case (18 MiB used), which V8
    // aborted on before. 6.5 × 20 MiB is well past a 64 MiB old generation.
    const grown = await run(
      "globalThis.kept = Array.from({ length: 200_000 }, (_, i) => ({ i, s: `item ${i}` })); kept.length",
    );
    assert.equal(grown.stdout.trim(), "200000", grown.stderr);
    const limit = await run("mem().heapLimit");
    assert.equal(Number(limit.stdout.trim()), 64 * 2 ** 20, limit.stderr);

    const top = await run("heap.top(3)");
    assert.equal(top.code, 1);
    assert.match(top.stderr, /Refusing heap\.top\(\)/);
    assert.match(top.stderr, /V8's heap limit is 64\.0 MiB/);
    assert.match(top.stderr, /--max-old-space-size/);
    const snapshot = await run("heap.snapshot()");
    assert.equal(snapshot.code, 1);
    assert.match(snapshot.stderr, /Refusing heap\.snapshot\(\)/);

    // Still serving, and nothing was written.
    assert.equal((await run("kept.length")).stdout.trim(), "200000");
    const written: string[] = [];
    try {
      for await (const entry of Deno.readDir(`${home}/.leakwatch/snapshots`)) {
        written.push(entry.name);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    assert.deepEqual(written.filter((n) => /heapsnapshot/.test(n)), []);
  } finally {
    try {
      service.child.kill("SIGTERM");
    } catch {
      // Already gone: V8 aborted it (the status says so below).
    }
    const { signal } = await service.finish();
    assert.notEqual(signal, "SIGABRT", "V8 did not abort");
  }
});
