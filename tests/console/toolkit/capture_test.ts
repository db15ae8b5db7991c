import assert from "node:assert/strict";
import {
  analysisClient,
  capture,
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
