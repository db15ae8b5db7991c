import assert from "node:assert/strict";
import {
  analysisClient,
  capture,
  captureStats,
  captureToFile,
  closeAnalysis,
} from "../../../console/toolkit/capture.ts";
import {
  closeInspector,
  collectCaptureGarbage,
  exclusive,
  post,
} from "../../../console/toolkit/inspector.ts";

// Enough live objects that a snapshot's text is tens of MiB.
const retained: { index: number; label: string }[] = [];

async function heapUsedAfterGc(): Promise<number> {
  await post("HeapProfiler.collectGarbage");
  return Deno.memoryUsage().heapUsed;
}

Deno.test("`exclusive()` collects a capture's garbage before it returns", async () => {
  for (let i = 0; i < 60_000; i++) retained.push({ index: i, label: `#${i}` });
  try {
    // Without the collection: the snapshot text lingers in the heap.
    const base = await heapUsedAfterGc();
    let bytes = 0;
    await (async () => {
      const taken = await capture("a test", () => {});
      bytes = taken.bytes;
      await analysisClient().load(taken.chunks, () => {});
    })();
    const lingering = Deno.memoryUsage().heapUsed - base;
    assert.ok(bytes > 5 * 2 ** 20, `snapshot of ${bytes} characters`);
    assert.ok(
      lingering > bytes / 4,
      `without a collection ${lingering} bytes of ${bytes} linger`,
    );
    assert.equal(await collectCaptureGarbage(), true);
    assert.equal(await collectCaptureGarbage(), false, "once per capture");

    // Through the capture lock, as every heap.* call goes.
    const before = await heapUsedAfterGc();
    const summary = await exclusive(async () => {
      const taken = await capture("a test", () => {});
      return await analysisClient().load(taken.chunks, () => {});
    });
    assert.ok(summary);
    const after = Deno.memoryUsage().heapUsed;
    assert.ok(
      after - before < bytes / 10,
      `heap used ${before} → ${after} after a ${bytes}-character capture`,
    );

    // A failed operation is collected too.
    await assert.rejects(
      exclusive(async () => {
        await capture("a test", () => {});
        throw new Error("Analysis failed on purpose");
      }),
      /on purpose/,
    );
    assert.equal(await collectCaptureGarbage(), false, "already collected");
  } finally {
    retained.length = 0;
    closeAnalysis();
    closeInspector();
  }
});

Deno.test("`captureToFile()` writes an owner-only snapshot, or nothing at all", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/x.heapsnapshot`;
    const labels: string[] = [];
    const written = await exclusive(() =>
      captureToFile("a test", path, (label) => labels.push(label))
    );
    assert.equal(written.path, path);
    assert.equal((await Deno.stat(path)).size, written.bytes);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const json = JSON.parse(await Deno.readTextFile(path));
    assert.ok(json.snapshot.node_count > 0);
    assert.deepEqual(labels, ["capture", "capture", "write"]);
    assert.equal(captureStats().lastBytes, written.bytes);

    // A failure after the capture (here a broken progress sink) removes the
    // temporary file and leaves no partial one under the name.
    const failing = `${dir}/y.heapsnapshot`;
    await assert.rejects(
      exclusive(() =>
        captureToFile("a test", failing, (_label, done) => {
          if (done === 1) throw new Error("Progress sink broke");
        })
      ),
      /Progress sink broke/,
    );
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names, ["x.heapsnapshot"]);

    // A directory that does not exist: refused before any capture.
    const before = captureStats().captures;
    await assert.rejects(
      captureToFile("a test", `${dir}/missing/z.heapsnapshot`, () => {}),
      Deno.errors.NotFound,
    );
    assert.equal(captureStats().captures, before);
  } finally {
    closeInspector();
    await Deno.remove(dir, { recursive: true });
  }
});
