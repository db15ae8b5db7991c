import assert from "node:assert/strict";
import { captureStats, createToolkit } from "../../../console/toolkit/mod.ts";

Deno.test("`createToolkit()` returns the seven helpers and starts nothing", () => {
  const before = captureStats();
  const toolkit = createToolkit({ progress: () => {} });
  assert.deepEqual(Object.keys(toolkit).sort(), [
    "alloc",
    "count",
    "gc",
    "heap",
    "help",
    "instances",
    "leak",
    "mem",
  ]);
  assert.deepEqual(Object.keys(toolkit.heap).sort(), [
    "graph",
    "growth",
    "largest",
    "leaks",
    "path",
    "snapshot",
    "top",
  ]);
  assert.deepEqual(Object.keys(toolkit.alloc).sort(), ["start", "stop", "top"]);
  assert.deepEqual(captureStats(), before);
});

Deno.test("`help()` lists every helper on one line and prints unquoted", () => {
  const text = createToolkit({ progress: () => {} }).help();
  for (
    const name of [
      "mem()",
      "gc()",
      "count(Ctor",
      "instances(Ctor",
      "heap.top",
      "heap.growth",
      "heap.path",
      "heap.largest",
      "heap.leaks",
      "heap.graph",
      "heap.snapshot",
      "alloc.start",
      "alloc.top",
      "alloc.stop",
    ]
  ) {
    assert.equal(
      `${text}`.split("\n").filter((l) => l.includes(name)).length,
      1,
      name,
    );
  }
  assert.equal(Deno.inspect(text), `${text}`);
  assert.equal(JSON.parse(JSON.stringify(text)), `${text}`);
});
