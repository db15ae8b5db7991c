import assert from "node:assert/strict";
import { HeapAnalysis } from "../../../console/heap/analysis.ts";
import { SnapshotParser } from "../../../console/heap/parser.ts";
import { type FixtureNode, makeSnapshot, split } from "./_fixture.ts";

const USERS_URL = "file:///app/lib/users.ts";
const CONSOLE_URL = "file:///app/console/toolkit/heap.ts";

const edge = (type: string, name: string | number, to: number) => ({
  type,
  name,
  to,
});

/**
 * A module `lib/users.ts` exporting `cache` (a Map of users) with a
 * module-level `registry` array, a closure `tick` of that module, and a
 * console module whose closure holds an array of its own.
 */
function moduleHeap(users: number): FixtureNode[] {
  const nodes: FixtureNode[] = [
    // 0 root, 1 global handles
    { type: "synthetic", name: "", size: 0, edges: [edge("element", 1, 1)] },
    {
      type: "synthetic",
      name: "(Global handles)",
      size: 0,
      edges: [edge("internal", "0", 2), edge("internal", "1", 15)],
    },
    // 2 the module record: exports table, then its generator
    {
      type: "native",
      name: "system / SourceTextModule",
      size: 100,
      edges: [edge("hidden", 0, 3), edge("hidden", 5, 9)],
    },
    // 3 exports table: name, cell
    {
      type: "array",
      name: "",
      size: 32,
      edges: [edge("internal", "0", 4), edge("internal", "1", 5)],
    },
    { type: "string", name: "cache", size: 16 },
    {
      type: "native",
      name: "system / Cell",
      size: 16,
      edges: [edge("internal", "value", 6)],
    },
    // 6 the Map and its table
    {
      type: "object",
      name: "Map",
      size: 32,
      edges: [edge("internal", "table", 7)],
    },
    { type: "array", name: "", size: 8 * users, edges: [] },
    // 8 the module context: registry, and the module it belongs to
    {
      type: "object",
      name: "system / Context",
      size: 40,
      edges: [
        edge("context", "registry", 13),
        edge("internal", "extension", 2),
      ],
    },
    // 9 generator → 10 closure → 11 shared → 12 script
    {
      type: "object",
      name: "Generator",
      size: 40,
      edges: [edge("internal", "function", 10), edge("internal", "context", 8)],
    },
    {
      type: "closure",
      name: "tick",
      size: 32,
      edges: [edge("internal", "shared", 11), edge("internal", "context", 8)],
    },
    {
      type: "code",
      name: "system / SharedFunctionInfo",
      size: 40,
      edges: [edge("internal", "script", 12)],
    },
    { type: "code", name: `system / Script / ${USERS_URL}`, size: 40 },
    // 13 registry array
    { type: "object", name: "Array", size: 16, edges: [] },
    { type: "object", name: "Unused", size: 1 },
    // 15 a console closure holding 16, its own array
    {
      type: "closure",
      name: "render",
      size: 32,
      edges: [edge("internal", "shared", 17), edge("internal", "context", 18)],
    },
    { type: "object", name: "Array", size: 1000 },
    {
      type: "code",
      name: "system / SharedFunctionInfo",
      size: 40,
      edges: [edge("internal", "script", 19)],
    },
    {
      type: "object",
      name: "system / Context",
      size: 40,
      edges: [edge("context", "rows", 16)],
    },
    { type: "code", name: `system / Script / ${CONSOLE_URL}`, size: 40 },
  ];
  // Users after everything else: their ids are the newest.
  const first = nodes.length;
  for (let i = 0; i < users; i++) {
    nodes[7]!.edges!.push(edge("element", i, first + 2 * i));
    nodes.push({
      type: "object",
      name: "Object",
      size: 40,
      edges: [edge("property", "name", first + 2 * i + 1)],
    });
    nodes.push({ type: "string", name: `user ${i}`, size: 24 });
  }
  return nodes;
}

function analyse(nodes: FixtureNode[], consoleScripts: string[] = []) {
  const parser = new SnapshotParser();
  const text = makeSnapshot(nodes, { locations: [[10, 6, 2]] });
  for (const c of split(text, 97)) parser.push(c);
  return HeapAnalysis.from(parser.finish(), undefined, { consoleScripts });
}

Deno.test("`HeapAnalysis.heldBy()` names exports, module bindings and closures", () => {
  const a = analyse(moduleHeap(3));
  assert.deepEqual(a.heldBy(6), {
    holder: { kind: "export", name: "cache", url: USERS_URL },
    via: [],
  });
  assert.deepEqual(a.heldBy(13), {
    holder: { kind: "module", name: "registry", url: USERS_URL },
    via: [],
  });
  const user = a.resolve("Object");
  assert.deepEqual(a.heldBy(user).via, ["{table}", `[${(user - 20) / 2}]`]);
  assert.deepEqual(a.info(10).closure, {
    kind: "closure",
    name: "tick",
    url: USERS_URL,
    line: 6,
    column: 2,
  });
  const path = a.path(user);
  assert.deepEqual(path.steps.find((s) => s.holder)?.holder, {
    kind: "module",
    name: "",
    url: USERS_URL,
  });
  assert.equal(path.steps.at(-3)!.holder?.name, "cache");
});

Deno.test("`HeapAnalysis.leaks()` groups new objects by holder, strings inside their user", () => {
  const a = analyse(moduleHeap(50));
  const since = a.info(19).id;
  const groups = a.leaks(since);
  assert.equal(groups.length, 1, JSON.stringify(groups, null, 1));
  const [cache] = groups;
  assert.equal(cache!.holder?.name, "cache");
  assert.deepEqual(cache!.via, ["{table}", "[*]"]);
  assert.equal(cache!.className, "Object");
  assert.equal(cache!.count, 50);
  assert.equal(cache!.retainedSize, 50 * (40 + 24), "each user with its name");
  assert.equal(cache!.example.target.className, "Object");
  // Nothing newer than the newest node: nothing leaked.
  assert.deepEqual(a.leaks(a.summary().maxNodeId), []);
});

Deno.test("`HeapAnalysis` leaves the console's objects out unless asked", () => {
  const plain = analyse(moduleHeap(2));
  const owned = analyse(moduleHeap(2), ["file:///app/console/"]);
  const arrays = (a: HeapAnalysis, all = false) =>
    a.top(Infinity, { all }).find((c) => c.name === "Array")?.count;
  assert.equal(arrays(plain), 2);
  assert.equal(arrays(owned), 1, "the console closure's array is left out");
  assert.equal(arrays(owned, true), 2);
  assert.equal(owned.ownerOf(16), "console");
  assert.equal(owned.ownerOf(13), "app");
  assert.equal(owned.summary().consoleCount, 5);
  assert.ok(
    !owned.largest(20).some((r) => r.id === owned.info(16).id),
    "largest leaves it out",
  );
  assert.ok(
    owned.largest(20, { all: true }).some((r) => r.id === owned.info(16).id),
  );
  assert.equal(owned.resolve("Array"), 13, "a type name picks the service's");
});

Deno.test("`HeapAnalysis.largestGroups()` adds closures of one function up", () => {
  const nodes = moduleHeap(1);
  // Three more closures of `tick`, each holding 500 bytes.
  for (let i = 0; i < 3; i++) {
    const at = nodes.length;
    nodes[13]!.edges!.push(edge("element", i, at));
    nodes.push({
      type: "closure",
      name: "tick",
      size: 32,
      edges: [
        edge("internal", "shared", 11),
        edge("internal", "context", at + 1),
      ],
    });
    nodes.push({ type: "object", name: "system / Context", size: 500 });
  }
  const a = analyse(nodes);
  const rows = a.largestGroups(50);
  const tick = rows.filter((r) => r.closure?.name === "tick");
  // Positions differ (only the first has a location): two kinds of tick.
  const total = tick.reduce((n, r) => n + r.count, 0);
  assert.equal(total, 4);
  const many = tick.find((r) => r.count === 3)!;
  assert.equal(many.retainedSize, 3 * 532);
});
