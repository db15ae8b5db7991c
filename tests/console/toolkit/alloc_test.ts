import assert from "node:assert/strict";
import { closeToolkit, createToolkit } from "../../../console/toolkit/mod.ts";
import {
  SnippetBuffer,
  type SnippetStep,
} from "../../../console/snippet_buffer.ts";

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
    assert.equal(site.file, "tests/console/toolkit/alloc_test.ts");
    assert.equal(site.mapped, true);
    const source = await Deno.readTextFile(new URL(import.meta.url));
    const defined = source.split("\n").findIndex((l) =>
      l.startsWith("function allocationHeavy(")
    ) + 1;
    assert.equal(site.line, defined, "the .ts line of the definition");
    assert.ok(site.column > 0);
    assert.doesNotThrow(() =>
      JSON.parse(JSON.stringify(top))
    );
    assert.equal(top[0], site, "the heaviest site comes first");
    assert.ok(site.bytes > 1_000_000 && site.share > 0.5);
    assert.match(
      Deno.inspect(top),
      new RegExp(
        `allocationHeavy\\s+tests/console/toolkit/alloc_test\\.ts:${defined}:`,
      ),
    );
    const final = await toolkit.alloc.stop(3);
    assert.ok(final.length <= 3);
    await assert.rejects(toolkit.alloc.top(), /alloc\.start\(\)/);
  } finally {
    retained.length = 0;
    await closeToolkit();
  }
});

Deno.test("`alloc.top()` leaves the console's own allocations out unless `{ all: true }`", async () => {
  const toolkit = createToolkit({ progress: () => {} });
  const kept: SnippetStep[] = [];
  try {
    await toolkit.alloc.start({ interval: 4096 });
    // The console's snippet buffer copies and trims every line of a long
    // paste: a megabyte of strings allocated by console code.
    const buffer = new SnippetBuffer();
    buffer.add("[");
    buffer.settle(true);
    for (let i = 0; i < 2_000; i++) {
      kept.push(buffer.add(`${"x".repeat(500)},`));
      buffer.settle(true);
    }
    allocationHeavy(50_000);
    const isConsole = (s: { file: string }) => s.file.startsWith("console/");
    const mine = await toolkit.alloc.top(50);
    assert.ok(!mine.some(isConsole), Deno.inspect(mine));
    assert.ok(mine.some((s) => s.function === "allocationHeavy"));
    assert.match(Deno.inspect(mine), /of the console's own left out/);
    const all = await toolkit.alloc.top({ all: true });
    const buffered = all.filter((s) => s.file === "console/snippet_buffer.ts");
    assert.ok(buffered.length > 0, Deno.inspect(all));
    assert.ok(
      buffered.reduce((sum, s) => sum + s.bytes, 0) > 500_000,
      Deno.inspect(all),
    );
    assert.deepEqual(
      (await toolkit.alloc.top(1, { all: true })).length,
      1,
    );
    for (const bad of [0, -1, 1.5, "3", NaN]) {
      await assert.rejects(
        toolkit.alloc.top(bad as number),
        RangeError,
        String(bad),
      );
    }
    await assert.rejects(
      toolkit.alloc.top(3, "all" as never),
      TypeError,
    );
    await toolkit.alloc.stop();
  } finally {
    kept.length = 0;
    retained.length = 0;
    await closeToolkit();
  }
});

function storeEntry(i: number): void {
  retained.push({ index: i, tags: [`tag ${i}`, "seen"] });
}

function recordVisits(n: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) {
    storeEntry(i);
    total += i;
  }
  return total;
}

Deno.test("`alloc.top()` names the function that allocates, even one the optimizer inlines, and the path to it", async () => {
  const toolkit = createToolkit({ progress: () => {} });
  try {
    // Hot first: V8 optimizes recordVisits() with storeEntry() inlined.
    for (let k = 0; k < 100; k++) recordVisits(2000);
    retained.length = 0;
    await toolkit.alloc.start({ interval: 4096 });
    for (let k = 0; k < 50; k++) recordVisits(2000);
    const top = await toolkit.alloc.top(10);
    const site = top.find((s) => s.function === "storeEntry");
    assert.ok(site, Deno.inspect(top));
    const source = await Deno.readTextFile(new URL(import.meta.url));
    const lineOf = (text: string) =>
      source.split("\n").findIndex((l) => l.startsWith(text)) + 1;
    assert.equal(site.line, lineOf("function storeEntry("));
    assert.equal(site.origin, "service");
    assert.ok(
      site.path.endsWith(
        `alloc_test.ts:${lineOf("function recordVisits(")} › alloc_test.ts:${
          lineOf("function storeEntry(")
        }`,
      ),
      site.path,
    );
    assert.match(
      Deno.inspect(top),
      /storeEntry +tests\/console\/toolkit\/alloc_test\.ts:\d+:\d+ +alloc_test\.ts:\d+ › alloc_test\.ts:\d+ › alloc_test\.ts:\d+\n/,
    );
    await toolkit.alloc.stop();
  } finally {
    retained.length = 0;
    await closeToolkit();
  }
});
