import assert from "node:assert/strict";
import { HeapAnalysis } from "../../../console/heap/analysis.ts";
import { SnapshotParser } from "../../../console/heap/parser.ts";
import {
  captureChunks,
  type FixtureNode,
  makeSnapshot,
  split,
} from "./_fixture.ts";

function analyse(nodes: FixtureNode[]): HeapAnalysis {
  const parser = new SnapshotParser();
  for (const c of split(makeSnapshot(nodes), 13)) parser.push(c);
  return HeapAnalysis.from(parser.finish());
}

const p = (to: number, name = `p${to}`) => ({ type: "property", name, to });
const weak = (to: number) => ({ type: "weak", name: `w${to}`, to });

// root(0) -> A(1), B(2); A,B -> C(3); C -> D(4); A -weak-> E(5); E -> F(6);
// D -> A (a cycle back up); root -> G(7) -> D (a second way to D).
const KNOWN: FixtureNode[] = [
  { type: "synthetic", name: "", size: 0, edges: [p(1), p(2), p(7)] },
  { type: "object", name: "A", size: 10, edges: [p(3), weak(5)] },
  { type: "object", name: "B", size: 20, edges: [p(3)] },
  { type: "object", name: "C", size: 30, edges: [p(4)] },
  { type: "object", name: "D", size: 40, edges: [p(1, "back")] },
  { type: "object", name: "E", size: 50, edges: [p(6)] },
  { type: "object", name: "F", size: 60 },
  { type: "object", name: "G", size: 70, edges: [p(4)] },
];

Deno.test("`HeapAnalysis` computes exact dominators and retained sizes", () => {
  const a = analyse(KNOWN);
  assert.deepEqual(Array.from(a.dominator), [0, 0, 0, 0, 0, 0, 5, 0]);
  // E and F are held only weakly: they hang off the root, not off A.
  assert.equal(a.retained[1], 10);
  assert.equal(a.retained[5], 110);
  assert.equal(a.retained[0], 280, "root retains every self size");
});

Deno.test("`HeapAnalysis.path()` finds the shortest strong path and skips weak edges", () => {
  const nodes: FixtureNode[] = [
    { type: "synthetic", name: "", size: 0, edges: [weak(3), p(1)] },
    { type: "object", name: "Y", size: 1, edges: [p(2, "z")] },
    { type: "object", name: "Z", size: 1, edges: [p(3, "target")] },
    { type: "object", name: "T", size: 1 },
  ];
  const a = analyse(nodes);
  const path = a.path(3);
  assert.ok(path.reachable);
  assert.deepEqual(path.steps.map((s) => s.edge), ["", ".p1", ".z", ".target"]);
  assert.deepEqual(path.steps.map((s) => s.node.className), [
    "(synthetic)",
    "Y",
    "Z",
    "T",
  ]);
  const known = analyse(KNOWN);
  assert.equal(
    known.path(5).reachable,
    false,
    "a weak-only node has no strong path",
  );
  assert.equal(
    known.path(4).steps.length,
    3,
    "root -> G -> D beats root -> A -> C -> D",
  );
  // A node reached through an unnamed edge gets the name another holder uses.
  const cell: FixtureNode[] = [
    {
      type: "synthetic",
      name: "",
      size: 0,
      edges: [{ type: "internal", name: "value", to: 1 }, p(2)],
    },
    { type: "object", name: "Map", size: 32 },
    { type: "object", name: "Namespace", size: 8, edges: [p(1, "cache")] },
  ];
  const viaCell = analyse(cell).path(1);
  assert.deepEqual(viaCell.steps.map((s) => s.edge), ["", "{value}"]);
  assert.equal(viaCell.steps[1]!.alias, ".cache");
});

Deno.test("`HeapAnalysis.top()` counts classes and never counts nested instances twice", () => {
  const nodes: FixtureNode[] = [
    {
      type: "synthetic",
      name: "",
      size: 0,
      edges: [p(1), p(4), p(5), p(6), p(8)],
    },
    { type: "object", name: "Foo", size: 100, edges: [p(2), p(3)] },
    { type: "object", name: "Foo", size: 10 },
    { type: "string", name: "text", size: 5 },
    { type: "concatenated string", name: "a+b", size: 7 },
    { type: "closure", name: "fn", size: 9 },
    { type: "array", name: "", size: 11 },
    { type: "object", name: "Ghost", size: 1000 },
    { type: "object", name: "Holder", size: 1, edges: [weak(7)] },
  ];
  const a = analyse(nodes);
  const byName = Object.fromEntries(a.top().map((c) => [c.name, c]));
  assert.deepEqual(byName["Foo"], {
    name: "Foo",
    count: 2,
    shallowSize: 110,
    retainedSize: 115,
    sessionCount: 0,
  });
  assert.equal(byName["(string)"]?.count, 2);
  assert.equal(byName["(closure)"]?.count, 1);
  assert.equal(byName["(array)"]?.count, 1);
  assert.equal(
    byName["Ghost"],
    undefined,
    "weakly held only: not counted as live",
  );
  assert.equal(a.retained[8], 1, "the weak holder does not retain its target");
});

// Dominators by definition: d dominates v when v cannot be reached once d is
// removed. Checked against the fast algorithm on random graphs.
function naiveDominators(n: number, adj: number[][]): number[] {
  const reach = (removed: number) => {
    const seen = new Uint8Array(n);
    if (removed === 0) return seen;
    const stack = [0];
    seen[0] = 1;
    while (stack.length) {
      const v = stack.pop()!;
      for (const w of adj[v]!) {
        if (w !== removed && !seen[w]) {
          seen[w] = 1;
          stack.push(w);
        }
      }
    }
    return seen;
  };
  const doms: number[][] = Array.from({ length: n }, () => [0]);
  for (let d = 1; d < n; d++) {
    const seen = reach(d);
    for (let v = 1; v < n; v++) if (v !== d && !seen[v]) doms[v]!.push(d);
  }
  // The immediate dominator is the one every other dominator dominates.
  return doms.map((ds, v) =>
    v === 0
      ? 0
      : ds.find((d) => ds.every((o) => o === d || doms[d]!.includes(o)))!
  );
}

Deno.test("`HeapAnalysis` dominators match the definition on random graphs", () => {
  let seed = 42;
  const rand = (k: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % k;
  };
  for (let round = 0; round < 200; round++) {
    const n = 2 + rand(30);
    const nodes: FixtureNode[] = [];
    const adj: number[][] = [];
    for (let v = 0; v < n; v++) {
      nodes.push({
        type: v === 0 ? "synthetic" : "object",
        name: `N${v}`,
        size: 1 + rand(100),
        edges: [],
      });
      adj.push([]);
    }
    const add = (from: number, to: number, type: string) => {
      nodes[from]!.edges!.push({
        type,
        name: `e${nodes[from]!.edges!.length}`,
        to,
      });
      if (type !== "weak" && from !== to) adj[from]!.push(to);
    };
    // Every node gets a strong retainer that comes before it, so all are live.
    for (let v = 1; v < n; v++) add(rand(v), v, "property");
    for (let k = rand(3 * n); k > 0; k--) {
      add(rand(n), 1 + rand(n - 1), rand(4) ? "property" : "weak");
    }
    const a = analyse(nodes);
    const expected = naiveDominators(n, adj);
    assert.deepEqual(Array.from(a.dominator), expected, `round ${round}`);
    // Retained = self + retained of dominated children; root holds everything.
    const sum = new Float64Array(n);
    for (let v = 0; v < n; v++) sum[v] = nodes[v]!.size;
    for (let v = 1; v < n; v++) {
      const d = expected[v]!;
      sum[d] = sum[d]! + a.retained[v]!;
    }
    for (let v = 0; v < n; v++) assert.equal(a.retained[v], sum[v]);
  }
});

Deno.test("`HeapAnalysis` retained sizes add up on a real snapshot", async () => {
  const parser = new SnapshotParser();
  for (const c of await captureChunks()) parser.push(c);
  const a = HeapAnalysis.from(parser.finish());
  const { graph, dominator, retained } = a;
  const children = new Float64Array(graph.nodeCount);
  let total = 0;
  for (let v = 0; v < graph.nodeCount; v++) {
    total += graph.selfSize(v);
    if (v !== 0) {
      const d = dominator[v]!;
      children[d] = children[d]! + retained[v]!;
    }
  }
  assert.equal(retained[0], total);
  for (let v = 0; v < graph.nodeCount; v++) {
    assert.equal(retained[v], graph.selfSize(v) + children[v]!);
  }
  const summary = a.summary();
  assert.equal(summary.totalSize, total);
  assert.ok(summary.reachableCount > 0.99 * summary.nodeCount);
});
