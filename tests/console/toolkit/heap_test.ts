import assert from "node:assert/strict";
import { SnapshotParser } from "../../../console/heap/parser.ts";
import {
  closeToolkit,
  createToolkit,
  type ToolkitIO,
} from "../../../console/toolkit/mod.ts";

class Leaked {
  readonly payload: number[];
  constructor(readonly id: number) {
    this.payload = [id, id + 1, id + 2, id + 3];
  }
}
class Watched {
  readonly blob = new Array(1000).fill(7);
}
class Grower {}

// The shape under test: 12 345 Leaked in a module-level Map; 100 Watched
// held by `strong` and also through WeakRefs; Grower count rises on demand.
const cache = new Map<number, Leaked>();
for (let i = 0; i < 12_345; i++) cache.set(i, new Leaked(i));
const strong: Watched[] = Array.from({ length: 100 }, () => new Watched());
const weakRefs = strong.map((w) => new WeakRef(w));
const growers: Grower[] = [];

function recorder(): ToolkitIO & { calls: Array<[string, number, number]> } {
  const calls: Array<[string, number, number]> = [];
  return {
    calls,
    progress: (label, done, total) => calls.push([label, done, total]),
  };
}

Deno.test("`heap.path()` leads through the cache Map to a leaked object", async () => {
  const io = recorder();
  const { heap } = createToolkit(io);
  try {
    const target = cache.get(4242)!;
    const path = await heap.path(target);
    assert.ok(path.reachable);
    assert.equal(path.target.className, "Leaked");
    const hop = path.steps.findIndex((s) => s.edge === "context cache");
    assert.ok(hop > 0, Deno.inspect(path));
    assert.equal(path.steps[hop]!.node.className, "Map");
    assert.equal(path.steps.at(-1)!.node.id, path.target.id);
    assert.ok(!path.steps.some((s) => s.edgeType === "weak"));
    const text = Deno.inspect(path);
    assert.match(text, /--context cache--> Map @\d+/);
    assert.match(text, /--\{table\}--> \(array\) @\d+/);

    // Progress: capture, parse in characters up to the total, analysis phases.
    const labels = new Set(io.calls.map(([label]) => label));
    for (
      const l of [
        "capture",
        "parse",
        "analyse: retainers",
        "analyse: dominators",
      ]
    ) {
      assert.ok(labels.has(l), `progress ${l}`);
    }
    const parse = io.calls.filter(([l]) => l === "parse");
    assert.equal(parse.at(-1)![1], parse.at(-1)![2]);

    // A type name picks the newest instance; reuse skips a new capture.
    const before = io.calls.length;
    const byName = await heap.path("Leaked", { reuse: true });
    assert.equal(io.calls.length, before, "reuse: no capture");
    assert.ok(byName.steps.some((s) => s.edge === "context cache"));
    await assert.rejects(heap.path("NoSuchType", { reuse: true }), RangeError);
  } finally {
    await closeToolkit();
  }
});

Deno.test("`heap.path()` never goes through weak references", async () => {
  const { heap } = createToolkit({ progress: () => {} });
  try {
    const path = await heap.path(strong[3]!);
    assert.ok(
      path.steps.some((s) => s.edge === "context strong"),
      Deno.inspect(path),
    );
    // The WeakRef holders retain none of their targets.
    const refs = await heap.path(weakRefs, { reuse: true });
    const blobs = 100 * 1000 * 4;
    assert.ok(
      refs.target.retainedSize < blobs / 10,
      `${refs.target.retainedSize}`,
    );
    const held = await heap.path(strong, { reuse: true });
    assert.ok(held.target.retainedSize >= blobs, `${held.target.retainedSize}`);
  } finally {
    await closeToolkit();
  }
});

Deno.test("`heap.top()` and `heap.largest()` show the leak and sizes that add up", async () => {
  const { heap } = createToolkit({ progress: () => {} });
  try {
    const top = await heap.top(1000);
    const leaked = top.find((r) => r.type === "Leaked");
    assert.ok(leaked);
    assert.equal(leaked.count, 12_345);
    assert.ok(leaked.retainedSize > leaked.shallowSize);
    const three = await heap.top(3, { reuse: true });
    assert.equal(three.length, 3);
    assert.match(Deno.inspect(three), /type\s+count\s+shallow\s+retained/);
    const largest = await heap.largest(3, { reuse: true });
    const map = largest.find((r) =>
      r.className === "Map" && r.path.endsWith("context cache")
    );
    assert.ok(map, Deno.inspect(largest));
    // The Map retains at least every entry's shallow size; nested Leaked
    // instances never overlap, so the class total fits inside the Map's.
    assert.ok(map.retainedSize >= leaked.shallowSize);
    assert.ok(map.retainedSize >= leaked.retainedSize);
    assert.ok(map.retainedSize < leaked.retainedSize * 1.5);
    assert.equal(
      top.find((r) => r.type === "Grower")?.count ?? 0,
      growers.length,
    );
  } finally {
    await closeToolkit();
  }
});

Deno.test("`heap.growth()` sets a baseline, then reports exactly the delta", async () => {
  const { heap } = createToolkit({ progress: () => {} });
  try {
    const first = await heap.growth();
    assert.deepEqual(first, []);
    assert.match(Deno.inspect(first), /baseline set/);
    for (let i = 0; i < 777; i++) growers.push(new Grower());
    const second = await heap.growth(1000);
    const row = second.find((r) => r.type === "Grower");
    assert.deepEqual(row, {
      type: "Grower",
      count: growers.length,
      increase: 777,
    });
    assert.equal(second.find((r) => r.type === "Leaked"), undefined);
    // Another session has its own baseline.
    const other = createToolkit({ progress: () => {} });
    assert.deepEqual(await other.heap.growth(10, { reuse: true }), []);
  } finally {
    await closeToolkit();
  }
});

Deno.test("`heap.graph()` writes DOT and an SVG through Graphviz", async () => {
  const { heap } = createToolkit({ progress: () => {} });
  const dir = await Deno.makeTempDir();
  try {
    const report = await heap.graph(cache.get(7)!, `${dir}/leak.svg`);
    assert.equal(report.dotFile, `${dir}/leak.dot`);
    const dot = await Deno.readTextFile(report.dotFile);
    assert.equal(dot, report.dot);
    assert.match(dot, /^digraph retainers \{/);
    assert.match(dot, /label="context cache"/);
    assert.match(dot, /Leaked @\d+/);
    if (report.imageFile) {
      assert.match(await Deno.readTextFile(report.imageFile), /<svg/);
    } else {
      assert.match(report.note ?? "", /dot/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await closeToolkit();
  }
});

Deno.test("`heap.snapshot()` writes a file in the V8 format", async () => {
  const io = recorder();
  const { heap } = createToolkit(io);
  const dir = await Deno.makeTempDir();
  try {
    const report = await heap.snapshot(`${dir}/x.heapsnapshot`);
    const text = await Deno.readTextFile(report.path);
    assert.equal(report.bytes, text.length);
    const json = JSON.parse(text);
    assert.deepEqual(json.snapshot.meta.node_fields.slice(0, 3), [
      "type",
      "name",
      "id",
    ]);
    const parser = new SnapshotParser();
    parser.push(text);
    const raw = parser.finish();
    assert.equal(raw.nodeCount, json.snapshot.node_count);
    assert.ok(json.strings.includes("Leaked"));
    assert.ok(io.calls.some(([l]) => l === "write"));
    assert.match(Deno.inspect(report), /Chrome DevTools/);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await closeToolkit();
  }
});
