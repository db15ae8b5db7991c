import assert from "node:assert/strict";
import { closeToolkit, createToolkit } from "../../../console/toolkit/mod.ts";

const retained: unknown[] = [];

function allocationHeavy(n: number): void {
  for (let i = 0; i < n; i++) retained.push({ index: i, label: `item ${i}` });
}

Deno.test("`alloc.top()` without `alloc.start()` is a clear error", async () => {
  const toolkit = createToolkit({ progress: () => {} });
  try {
    await assert.rejects(toolkit.alloc.top(), /call alloc\.start\(\) first/);
    assert.deepEqual(await toolkit.alloc.stop(), []);
  } finally {
    await closeToolkit();
  }
});

Deno.test("`alloc.top()` reports the allocating function of this file", async () => {
  const toolkit = createToolkit({ progress: () => {} });
  try {
    const started = await toolkit.alloc.start({ interval: 4096 });
    assert.equal(started.running, true);
    assert.equal((await toolkit.alloc.start()).alreadyRunning, true);
    allocationHeavy(100_000);
    const top = await toolkit.alloc.top(5);
    const site = top.find((s) => s.function === "allocationHeavy");
    assert.ok(site, Deno.inspect(top));
    assert.match(site.file, /alloc_test\.ts$/);
    assert.ok(site.line > 0 && site.column > 0);
    assert.equal(top[0], site, "the heaviest site comes first");
    assert.ok(site.bytes > 1_000_000 && site.share > 0.5);
    assert.match(
      Deno.inspect(top),
      /allocationHeavy\s+\S*alloc_test\.ts:\d+:\d+/,
    );
    const final = await toolkit.alloc.stop(3);
    assert.ok(final.length <= 3);
    await assert.rejects(toolkit.alloc.top(), /alloc\.start\(\)/);
  } finally {
    retained.length = 0;
    await closeToolkit();
  }
});
