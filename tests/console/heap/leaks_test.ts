import assert from "node:assert/strict";
import { HeapAnalysis } from "../../../console/heap/analysis.ts";
import { SnapshotParser } from "../../../console/heap/parser.ts";
import {
  type FixtureEdge,
  type FixtureNode,
  makeSnapshot,
  split,
} from "./_fixture.ts";
import { HeapBuilder } from "./_builder.ts";
import { consoleOwnership } from "../../../console/heap/code_kinds.ts";

const USERS_URL = "file:///app/lib/users.ts";
const CONSOLE_URL = "file:///app/console/toolkit/heap.ts";

const edge = (type: string, name: string | number, to: number) => ({
  type,
  name,
  to,
});

/** A fixture node; its edge list always exists, so tests can add to it. */
const node = (
  type: string,
  name: string,
  size: number,
  edges: FixtureEdge[] = [],
): FixtureNode => ({ type, name, size, edges });

/**
 * A module `lib/users.ts` exporting `cache` (a Map of users) with a
 * module-level `registry` array, a closure `tick` of that module, and a
 * console module whose closure holds an array of its own.
 */
function moduleHeap(users: number): FixtureNode[] {
  const nodes: FixtureNode[] = [
    // 0 root, 1 global handles
    node("synthetic", "", 0, [edge("element", 1, 1)]),
    node("synthetic", "(Global handles)", 0, [
      edge("internal", "0", 2),
      edge("internal", "1", 15),
    ]),
    // 2 the module record: exports table, then its generator
    node("native", "system / SourceTextModule", 100, [
      edge("hidden", 0, 3),
      edge("hidden", 5, 9),
    ]),
    // 3 exports table: name, cell
    node("array", "", 32, [edge("internal", "0", 4), edge("internal", "1", 5)]),
    node("string", "cache", 16),
    node("native", "system / Cell", 16, [edge("internal", "value", 6)]),
    // 6 the Map and its table
    node("object", "Map", 32, [edge("internal", "table", 7)]),
    node("array", "", 8 * users),
    // 8 the module context: registry, and the module it belongs to
    node("object", "system / Context", 40, [
      edge("context", "registry", 13),
      edge("internal", "extension", 2),
    ]),
    // 9 generator → 10 closure → 11 shared → 12 script
    node("object", "Generator", 40, [
      edge("internal", "function", 10),
      edge("internal", "context", 8),
    ]),
    node("closure", "tick", 32, [
      edge("internal", "shared", 11),
      edge("internal", "context", 8),
    ]),
    node("code", "system / SharedFunctionInfo", 40, [
      edge("internal", "script", 12),
    ]),
    node("code", `system / Script / ${USERS_URL}`, 40),
    // 13 registry array
    node("object", "Array", 16),
    node("object", "Unused", 1),
    // 15 a console closure holding 16, its own array
    node("closure", "render", 32, [
      edge("internal", "shared", 17),
      edge("internal", "context", 18),
    ]),
    node("object", "Array", 1000),
    node("code", "system / SharedFunctionInfo", 40, [
      edge("internal", "script", 19),
    ]),
    node("object", "system / Context", 40, [edge("context", "rows", 16)]),
    node("code", `system / Script / ${CONSOLE_URL}`, 40),
  ];
  // Users after everything else: their ids are the newest.
  const first = nodes.length;
  for (let i = 0; i < users; i++) {
    nodes[7]!.edges!.push(edge("element", i, first + 2 * i));
    nodes.push(
      node("object", "Object", 40, [
        edge("property", "name", first + 2 * i + 1),
      ]),
      node("string", `user ${i}`, 24),
    );
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
  // The hops from the holder as a shape: any index reads `*`.
  assert.deepEqual(a.heldBy(user).via, ["{table}", "[*]"]);
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
  assert.deepEqual(
    owned.retainerGraph(16).leftOut,
    { console: 1, overflow: 0 },
    "the graph says what it left out",
  );
  assert.equal(owned.retainerGraph(16, { all: true }).leftOut.console, 0);
});

Deno.test("`HeapAnalysis.largestGroups()` adds closures of one function up", () => {
  const nodes = moduleHeap(1);
  // Three more closures of `tick`, each holding 500 bytes.
  for (let i = 0; i < 3; i++) {
    const at = nodes.length;
    nodes[13]!.edges!.push(edge("element", i, at));
    nodes.push(
      node("closure", "tick", 32, [
        edge("internal", "shared", 11),
        edge("internal", "context", at + 1),
      ]),
      node("object", "system / Context", 500),
    );
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

// ------------------------------------------------- one row per leak

const LIB = "file:///app/lib/";

/** The id above which nodes are new: everything built so far is old. */
function baseline(b: HeapBuilder): number {
  return b.idOf(b.nodes.length - 1);
}

Deno.test("`HeapAnalysis.leaks()` makes a dictionary keyed per request one row", () => {
  const b = new HeapBuilder();
  const responses = b.dictionary();
  b.module(`${LIB}responses.ts`, { responseCache: responses });
  const store = responses + 1;
  const since = baseline(b);
  for (let i = 0; i < 30; i++) {
    const entry = b.node("object", "Object", 56);
    const body = b.node("string", `body ${i}`, 2_000);
    const key = b.node("string", `GET /profile/${i}`, 40);
    b.prop(responses, `GET /profile/${i}`, entry);
    b.prop(entry, "body", body);
    b.edge(store, "internal", String(i), key);
  }
  const [row, ...rest] = b.analyse().leaks(since);
  assert.deepEqual(rest, [], "one row");
  assert.equal(row!.holder?.name, "responseCache");
  assert.deepEqual(row!.via, [".<key>"]);
  assert.deepEqual(
    row!.classes.map((c) => [c.name, c.count]),
    [["Object", 30], ["(string)", 30]],
  );
  assert.equal(row!.retainedSize, 30 * (56 + 2_000 + 40), "counted once");
});

Deno.test("`HeapAnalysis.leaks()` makes a linked list one row, reached from its head and its tail", () => {
  const b = new HeapBuilder();
  const queue = b.node("object", "RetryQueue", 40);
  b.module(`${LIB}retry.ts`, { retryQueue: queue });
  const since = baseline(b);
  const nodes: number[] = [];
  for (let i = 0; i < 40; i++) {
    const node = b.node("object", "Node", 48);
    const payload = b.node("object", "Uint16Array", 800);
    b.prop(node, "payload", payload);
    const prev = nodes.at(-1);
    if (prev !== undefined) {
      b.prop(prev, "next", node);
      b.prop(node, "prev", prev);
    }
    nodes.push(node);
  }
  b.prop(queue, "head", nodes[0]!);
  b.prop(queue, "tail", nodes.at(-1)!);
  const rows = b.analyse().leaks(since);
  assert.equal(rows.length, 1, JSON.stringify(rows.map((r) => r.via)));
  assert.equal(rows[0]!.holder?.name, "retryQueue");
  assert.equal(rows[0]!.count, 40);
  assert.equal(rows[0]!.retainedSize, 40 * (48 + 800));
});

Deno.test("`HeapAnalysis.leaks()` keeps two leaks under one module apart", () => {
  const b = new HeapBuilder();
  const script = b.module(`${LIB}two.ts`, {});
  void script;
  const since = baseline(b);
  const sessions = b.node("object", "Map", 32);
  const tokens = b.node("object", "Map", 32);
  // Both bindings are assigned new Maps after the baseline.
  const context = b.nodes.findIndex((n) => n.name === "system / Context");
  b.edge(context, "context", "sessions", sessions);
  b.edge(context, "context", "tokens", tokens);
  for (let i = 0; i < 10; i++) {
    b.edge(sessions, "internal", String(i), b.node("object", "Session", 64));
    b.edge(tokens, "internal", String(i), b.node("object", "Token", 32));
  }
  const rows = b.analyse().leaks(since);
  assert.deepEqual(
    rows.map((r) => [r.holder?.name, r.className, r.count]).sort(),
    // Each Map is counted by what it holds.
    [["sessions", "Session", 10], ["tokens", "Token", 10]],
  );
});

Deno.test("`HeapAnalysis.leaks()` reads many names under an object as keys, a chain by its links", () => {
  const b = new HeapBuilder();
  const byUser = b.node("object", "Object", 40);
  const head = b.node("object", "Object", 24);
  b.module(`${LIB}index.ts`, { byUser, head });
  const since = baseline(b);
  for (let i = 0; i < 12; i++) {
    b.prop(byUser, `user${i}`, b.node("object", "Entry", 100));
  }
  let link = head;
  for (let i = 0; i < 25; i++) {
    const next = b.node("object", "Link", 30);
    b.prop(link, "next", next);
    link = next;
  }
  const rows = b.analyse().leaks(since);
  const entries = rows.find((r) => r.className === "Entry")!;
  assert.equal(entries.count, 12, "one row for the 12 names");
  assert.deepEqual(entries.via, [".<key>"]);
  const chain = rows.find((r) => r.className === "Link")!;
  assert.equal(chain.holder?.name, "head");
  assert.equal(chain.count, 25, "counted by its links");
  assert.equal(chain.retainedSize, 25 * 30);
  assert.equal(rows.length, 2);
});

Deno.test("`HeapAnalysis.pick()` stands for the largest group of a class, new ones first", () => {
  const b = new HeapBuilder();
  const small = b.node("object", "Map", 32);
  const large = b.node("object", "Map", 32);
  b.module(`${LIB}maps.ts`, { small, large });
  const old = b.node("object", "User", 500);
  b.edge(small, "internal", "0", old);
  const since = baseline(b);
  for (let i = 0; i < 3; i++) {
    b.edge(small, "internal", String(i + 1), b.node("object", "User", 300));
  }
  for (let i = 0; i < 20; i++) {
    b.edge(large, "internal", String(i), b.node("object", "User", 100));
  }
  const a = b.analyse();
  const picked = a.pick("User", { since })!;
  assert.equal(picked.count, 20);
  assert.equal(picked.since, since);
  assert.equal(a.heldBy(picked.node).holder?.name, "large");
  assert.equal(a.pick("User")!.count, 20, "without a baseline: all of them");
  const none = a.pick("User", { since: b.idOf(b.nodes.length) });
  assert.equal(none?.since, 0, "none new: among all");
  assert.equal(a.pick("NoSuchClass"), undefined);
});

Deno.test("`HeapAnalysis.leaks()` names a new session's variables, also when only its hook keeps them", () => {
  const ownership = consoleOwnership("file:///app/console/");
  for (const closed of [false, true]) {
    for (const retyped of [false, true]) {
      const b = new HeapBuilder();
      const users = b.node("object", "Object", 40);
      b.module(`${LIB}app.ts`, { users });
      const scopeScript = b.script("file:///app/console/eval/scope.ts");
      b.root(b.closure("createSessionScope", scopeScript));
      // A hook's snippet compiled by `new Function` (named by its
      // `//# sourceURL`): before the baseline when the operator retyped a
      // snippet the console had cached.
      const snippet = () => {
        const script = b.node("code", "system / Script", 160);
        b.edge(script, "hidden", 5, b.node("string", "<console:2>", 32));
        return script;
      };
      const cached = retyped ? snippet() : -1;
      // The console's cache keeps the compiled snippet.
      if (retyped) b.root(b.closure("", cached));
      const since = baseline(b);
      // The session, opened after the baseline: its variables, its
      // fallback layer (whose setter closes over them), the layers a
      // snippet is bound to, and the hook it installed, whose scope
      // resolves names through the layers.
      const vars = b.node("object", "Object", 24);
      const fallback = b.node("object", "Object", 24);
      const setter = b.closure("set", scopeScript);
      b.scope(setter, { vars, fallbackLayer: fallback });
      b.prop(fallback, "set total", setter);
      const layers = b.node("object", "Object", 40);
      b.prop(layers, "vars", vars);
      b.prop(layers, "fallback", fallback);
      const hook = b.closure("", retyped ? cached : snippet());
      const factory = b.node("object", "system / Context", 40);
      b.edge(factory, "context", "__ce$", layers);
      const withFallback = b.node("object", "system / Context", 40);
      b.edge(withFallback, "internal", "extension", fallback);
      b.edge(withFallback, "internal", "previous", factory);
      const withVars = b.node("object", "system / Context", 40);
      b.edge(withVars, "internal", "extension", vars);
      b.edge(withVars, "internal", "previous", withFallback);
      b.edge(hook, "internal", "context", withVars);
      b.prop(users, "lookup", hook);
      if (!closed) {
        // The console's evaluator holds an open session's layers.
        const evaluate = b.closure(
          "evaluate",
          b.script("file:///app/console/eval/evaluator.ts"),
        );
        b.scope(evaluate, { layers });
        b.root(evaluate);
      }
      // What the hook keeps: `kept.push(...)` per request.
      const kept = b.node("object", "Array", 16);
      b.prop(vars, "kept", kept);
      const elements = b.node("array", "", 160);
      b.edge(kept, "internal", "elements", elements);
      for (let i = 0; i < 20; i++) {
        const entry = b.node("object", "Object", 40);
        b.edge(elements, "element", i, entry);
        b.prop(entry, "pad", b.node("string", "x".repeat(20) + i, 360));
      }
      const rows = b.analyse(ownership).leaks(since);
      const what = `closed: ${closed}, retyped: ${retyped}: ${
        JSON.stringify(rows.map((r) => [r.holder, r.via, r.retainedSize]))
      }`;
      const [row, ...rest] = rows;
      assert.deepEqual(row?.holder, { kind: "session", name: "kept" }, what);
      assert.equal(row.via.at(-1), "[*]", what);
      assert.equal(row.owner, "session", what);
      assert.equal(row.count, 20, what);
      assert.equal(row.retainedSize, 16 + 160 + 20 * 400, what);
      // The rest (the hook, a closed session's scope) is small, and does
      // not count `kept` again: the rows add up to no more than is new.
      for (const other of rest) assert.ok(other.retainedSize < 1_000, what);
      const fresh = b.nodes.reduce(
        (sum, n, i) => b.idOf(i) > since ? sum + n.size : sum,
        0,
      );
      const counted = rows.reduce((sum, r) => sum + r.retainedSize, 0);
      assert.ok(counted <= fresh, `${counted} > ${fresh}: ${what}`);
    }
  }
});
