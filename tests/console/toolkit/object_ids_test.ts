/**
 * V8's map of heap object ids is the toolkit's to drop once no console
 * session keeps a baseline made of them.
 */

import assert from "node:assert/strict";
import { heapObjectId } from "../../../console/toolkit/inspector_handles.ts";
import {
  closeToolkitState,
  holdObjectIds,
  objectIdHolders,
  post,
  releaseObjectIds,
} from "../../../console/toolkit/toolkit_state.ts";

Deno.test("`releaseObjectIds()` drops V8's ids with the last session that kept them", async () => {
  const kept = { name: "kept across the baseline" };
  try {
    // What a baseline does: every live object gets its id.
    await post("HeapProfiler.startTrackingHeapObjects", {
      trackAllocations: false,
    });
    const id = await heapObjectId(kept);
    assert.ok(id > 0);
    const first = {};
    const second = {};
    holdObjectIds(first);
    holdObjectIds(second);
    holdObjectIds(second);
    assert.equal(objectIdHolders(), 2);
    // One session left: the other still compares with its baseline.
    assert.equal(await releaseObjectIds(first), false);
    assert.equal(await heapObjectId(kept), id);
    // A session that held nothing changes nothing.
    assert.equal(await releaseObjectIds({}), false);
    assert.equal(await heapObjectId(kept), id);
    // The last one: the ids go (0: the object has none any more).
    assert.equal(await releaseObjectIds(second), true);
    assert.equal(objectIdHolders(), 0);
    assert.equal(await heapObjectId(kept), 0);
    // Releasing twice is harmless.
    assert.equal(await releaseObjectIds(second), false);
  } finally {
    await closeToolkitState();
  }
});

Deno.test("allocation sampling goes on when the ids are dropped", async () => {
  const owner = {};
  try {
    await post("HeapProfiler.startSampling", { samplingInterval: 1024 });
    holdObjectIds(owner);
    assert.equal(await releaseObjectIds(owner), true);
    const made: object[] = [];
    for (let i = 0; i < 20_000; i++) made.push({ i, made: "after" });
    const { profile } = await post<{ profile: { samples: unknown[] } }>(
      "HeapProfiler.getSamplingProfile",
    );
    assert.ok(profile.samples.length > 0, `${made.length} objects, no samples`);
  } finally {
    await post("HeapProfiler.stopSampling").catch(() => {});
    await closeToolkitState();
  }
});
