import assert from "node:assert/strict";
import {
  captureStats,
  closeToolkit,
  createToolkit,
  MEMORY_LIMIT_ENV,
} from "../../../console/toolkit/mod.ts";
import {
  availableMemory,
  captureCostText,
  ensureCaptureFits,
  estimateCapture,
  estimateCaptureHeap,
  heapRoom,
  parseSize,
} from "../../../console/toolkit/memory.ts";
import { sizedShape } from "../../../console/toolkit/capture_cost.ts";

Deno.test("`mem()` reports raw bytes and renders human units", () => {
  const report = createToolkit({ progress: () => {} }).mem();
  assert.ok(report.rss > report.heapUsed && report.heapUsed > 0);
  assert.ok(report.heapTotal >= report.heapUsed);
  assert.ok(report.available === null || report.available > 0);
  assert.equal(report.captureMode, "in-process");
  // The heap moves between two calls: the same estimate, give or take.
  const again = estimateCapture().need;
  assert.ok(
    Math.abs(report.snapshotEstimate - again) < again * 0.05,
    `${report.snapshotEstimate} vs ${again}`,
  );
  assert.equal(report.estimateSource, "heap size");
  assert.ok(report.capturePauseEstimate > 0);
  const text = Deno.inspect(report);
  assert.match(
    text,
    /capture mode\s+in-process\s+heap\.\* snapshot in the service: it pauses ~/,
  );
  assert.match(
    text,
    /deno task start:fork: a shorter pause, the memory in a child/,
  );
  assert.match(text, /resident \(rss\)\s+[\d.]+ MiB/);
  assert.match(text, /heap used/);
  assert.match(text, /V8 heap limit\s+[\d.]+ [MG]iB/);
  assert.ok(report.heapLimit > report.heapUsed);
  assert.ok(report.snapshotHeapEstimate > report.heapUsed);
  assert.equal(JSON.parse(JSON.stringify(report)).rss, report.rss);
});

Deno.test("`heap.top()` refuses to capture when the snapshot would not fit", async () => {
  const labels: string[] = [];
  const toolkit = createToolkit({ progress: (label) => labels.push(label) });
  const before = captureStats();
  Deno.env.set(MEMORY_LIMIT_ENV, "1M");
  try {
    assert.equal(availableMemory().available, 0);
    for (
      const call of [() => toolkit.heap.top(), () => toolkit.heap.snapshot()]
    ) {
      await assert.rejects(call(), (error: Error) => {
        assert.ok(error instanceof RangeError);
        assert.match(error.message, /needs about [\d.]+ [KMG]iB/);
        assert.match(error.message, /count\(Ctor\)/);
        assert.match(error.message, /alloc\.start\(\)/);
        return true;
      });
    }
    const after = captureStats();
    assert.equal(after.captures, before.captures, "nothing was captured");
    // Nothing written either: no empty .heapsnapshot left behind.
    const dir = `${Deno.env.get("HOME")}/.leakwatch/snapshots`;
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    assert.deepEqual(names, []);
    assert.equal(after.refused, before.refused + 2);
    assert.deepEqual(labels, [], "no capture started");
  } finally {
    Deno.env.delete(MEMORY_LIMIT_ENV);
    await closeToolkit();
  }
});

Deno.test("`parseSize()` reads bytes with optional units", () => {
  assert.equal(parseSize("1048576"), 1048576);
  assert.equal(parseSize("512M"), 512 * 2 ** 20);
  assert.equal(parseSize("2GiB"), 2 * 2 ** 30);
  assert.equal(parseSize("lots"), undefined);
});

Deno.test("`ensureCaptureFits()` refuses what V8's heap limit cannot hold", () => {
  const MiB = 2 ** 20;
  // The measured edge under --max-old-space-size=64: 10.7 MiB used was
  // captured, 11.4 MiB used died. The estimate stays on the safe side.
  assert.throws(
    () =>
      ensureCaptureFits("heap.top()", { limit: 64 * MiB, used: 11.4 * MiB }),
    (error: Error) =>
      error instanceof RangeError &&
      /V8's heap limit is 64\.0 MiB/.test(error.message) &&
      /--max-old-space-size/.test(error.message) &&
      /count\(Ctor\)/.test(error.message),
  );
  const fits = ensureCaptureFits("heap.top()", {
    limit: 64 * MiB,
    used: 8 * MiB,
  });
  assert.ok(fits.need > fits.heapNeed);
  // In-process the text is held twice (messages and chunks), in a child's
  // capture once (read back from the file).
  const shape = sizedShape(10 * MiB);
  assert.equal(
    estimateCaptureHeap(shape, "in-process", 10 * MiB) -
      estimateCaptureHeap(shape, "fork", 10 * MiB),
    shape.chars,
  );
  const room = heapRoom();
  assert.ok(room.limit > room.used);
});

Deno.test("`captureCostText()` says what a capture costs the service in each mode", () => {
  assert.match(
    captureCostText("fork", 12.4, 300 * 2 ** 20),
    /in a child process: the service pauses ~12 ms at most \(fork\(\), and for a baseline one walk of its heap for V8's object ids\) and its rss holds neither the snapshot nor its analysis; the child needs ~300\.0 MiB, capped/,
  );
  assert.match(
    captureCostText("in-process", 3700, 300 * 2 ** 20),
    /in the service: it pauses ~3\.7 s and its rss grows ~300\.0 MiB/,
  );
});
