import assert from "node:assert/strict";
import { HeapBuilder } from "./_builder.ts";

const APP = "file:///app/lib/";
const CONSOLE = "file:///app/console/";
const OWNERSHIP = {
  consoleScripts: [CONSOLE],
  sessionSlots: [{ script: "/console/eval/scope.ts", variable: "vars" }],
};

Deno.test("`HeapAnalysis.heldBy()` names a property of the global object as `globalThis.name`", () => {
  // Deno's and Chrome's V8 name the global object `global_object`; Node
  // 20's lists it as the native context's `extension`. Either points back
  // at its proxy.
  for (const edge of ["global_object", "extension"]) {
    const b = new HeapBuilder();
    const native = b.node("object", "system / NativeContext", 100);
    b.root(native);
    const global = b.node("object", "Window", 60);
    const proxy = b.node("object", "Window", 24);
    b.edge(native, "internal", edge, global);
    b.edge(native, "internal", "global_proxy_object", proxy);
    b.edge(global, "internal", "global_proxy", proxy);
    const registry = b.node("object", "Object", 24);
    const sessions = b.node("object", "Array", 16);
    const session = b.node("object", "Object", 40);
    b.prop(global, "registry", registry);
    b.prop(registry, "sessions", sessions);
    b.edge(sessions, "element", 7, session);
    // A module's context also has an `extension` (its module record), not
    // a global object: its properties are no globals.
    const other = b.node("object", "Object", 24);
    const kept = b.node("object", "Object", 40);
    b.edge(native, "internal", "extension", other);
    b.prop(other, "kept", kept);
    const a = b.analyse();
    assert.deepEqual(a.heldBy(session), {
      holder: { kind: "global", name: "registry" },
      via: [".sessions", "[*]"],
    }, edge);
    assert.notEqual(a.heldBy(kept).holder?.kind, "global", edge);
  }
});

Deno.test("`HeapAnalysis.heldBy()` names a static field by its class and a captured variable by its function", () => {
  const b = new HeapBuilder();
  const script = b.script(`${APP}tracer.ts`);
  const tracer = b.closure("Tracer", script, 16);
  const finished = b.node("object", "Array", 16);
  const span = b.node("object", "Span", 40);
  b.prop(tracer, "finished", finished);
  b.edge(finished, "element", 0, span);
  const memoized = b.closure("memoized", script, 9);
  const memo = b.node("object", "Map", 32);
  b.scope(memoized, { quoteMemo: memo });
  b.module(`${APP}tracer.ts`, { Tracer: tracer, quote: memoized });
  const a = b.analyse();
  const fn = (name: string, line: number) => ({
    kind: "closure",
    name,
    url: `${APP}tracer.ts`,
    line,
    column: 2,
  });
  assert.deepEqual(a.heldBy(span), {
    holder: { kind: "static", name: "finished", owner: fn("Tracer", 16) },
    via: ["[*]"],
  });
  assert.deepEqual(a.heldBy(memo), {
    holder: { kind: "context", name: "quoteMemo", owner: fn("memoized", 9) },
    via: [],
  });
});

Deno.test("`HeapAnalysis.heldBy()` prefers the developer's name to a package's nearer one", () => {
  const b = new HeapBuilder();
  const router = b.node("object", "Router", 40);
  const app = b.node("object", "Hono", 40);
  b.prop(app, "router", router);
  const pkg = b.script(
    "file:///deno/npm/registry.npmjs.org/hono/4.0.0/router.js",
  );
  const match = b.closure("match", pkg, 3);
  b.prop(router, "match", match);
  const table = b.node("object", "Array", 16);
  b.scope(match, { routes: table });
  b.module(`${APP}app.ts`, { app });
  const a = b.analyse();
  const held = a.heldBy(table);
  assert.equal(held.holder?.name, "app");
  assert.deepEqual(held.via, [
    ".router",
    ".match",
    "{context}",
    "context routes",
  ]);
});

Deno.test("`HeapAnalysis.heldBy()` names listener tables by event type", () => {
  const b = new HeapBuilder();
  const bus = b.node("object", "EventTarget", 24);
  const data = b.node("object", "Object", 24);
  const listeners = b.node("object", "Object", 24);
  const list = b.node("object", "Array", 16);
  const record = b.node("object", "Object", 32);
  const script = b.script(`${APP}flags.ts`);
  const callback = b.closure("", script, 22);
  b.prop(bus, "<symbol>", data);
  b.prop(data, "listeners", listeners);
  b.prop(listeners, "config-changed", list);
  b.edge(list, "element", 3, record);
  b.prop(record, "callback", callback);
  const emitter = b.node("object", "EventEmitter", 24);
  const events = b.node("object", "Object", 24);
  const audit = b.node("object", "Array", 16);
  const onAudit = b.closure("recordAudit", script, 30);
  b.prop(emitter, "_events", events);
  b.prop(events, "audit", audit);
  b.edge(audit, "element", 0, onAudit);
  b.module(`${APP}flags.ts`, { bus, auditEvents: emitter });
  const a = b.analyse();
  assert.equal(a.heldBy(callback).holder?.name, "bus");
  assert.deepEqual(a.heldBy(callback).via, ['"config-changed" listeners']);
  assert.equal(a.heldBy(onAudit).holder?.name, "auditEvents");
  assert.deepEqual(a.heldBy(onAudit).via, ['"audit" listeners']);
});

/**
 * A timer as Deno keeps one: a runtime timer list holding a `Timeout`
 * whose callback is a runtime function, wrapping the console's `guarded`
 * (a hook set from a session), wrapping the developer's callback.
 */
function timerHeap(repeat: "interval" | "timeout") {
  const b = new HeapBuilder();
  const runtime = b.script("ext:deno_node/internal/timers.mjs");
  const timers = b.node("object", "Object", 40);
  b.root(timers);
  const list = b.node("object", "TimersList", 72);
  b.edge(timers, "element", 3_600_000, list);
  const timeout = b.node("object", "Timeout", 104);
  const ms = b.node("number", "smi number", 0);
  const nothing = b.node("native", "null", 0);
  b.prop(list, "_idleNext", timeout);
  b.prop(timeout, "_idlePrev", list);
  b.prop(timeout, "_idleTimeout", ms);
  b.prop(timeout, "_repeat", repeat === "interval" ? ms : nothing);
  const cb = b.closure("cb", runtime, 3);
  b.prop(timeout, "_onTimeout", cb);
  const wrapper = b.closure(
    "guarded",
    b.script(`${CONSOLE}eval/routing.ts`),
    133,
  );
  b.scope(cb, { t: wrapper });
  const poll = b.closure("", b.script(`${APP}poller.ts`), 15);
  b.scope(wrapper, { callback: poll });
  const samples = b.node("object", "Array", 80_000);
  b.scope(poll, { samples });
  return { b, timeout, poll, samples };
}

Deno.test("`HeapAnalysis.heldBy()` names a timer by the developer's callback, through the console's wrapper", () => {
  const { b, poll, samples } = timerHeap("interval");
  const a = b.analyse(OWNERSHIP);
  const held = a.heldBy(samples);
  assert.equal(held.holder?.kind, "timer");
  assert.equal(held.holder?.name, "setInterval");
  assert.equal(held.holder?.owner?.url, `${APP}poller.ts`);
  assert.equal(held.holder?.owner?.line, 15);
  assert.deepEqual(held.via, ["{context}", "context samples"]);
  // The console's wrapper is the console's; what it calls is the service's.
  assert.equal(a.ownerOf(poll), "app");
  assert.equal(a.ownerOf(samples), "app");
  assert.ok(
    a.top().some((c) => c.name === "Array" && c.count === 1),
    "the samples are counted",
  );
  const { b: other, samples: kept } = timerHeap("timeout");
  assert.equal(
    other.analyse(OWNERSHIP).heldBy(kept).holder?.name,
    "setTimeout",
  );
});

Deno.test("`HeapAnalysis.heldBy()` names a module's variable reached through a pending timer by the variable", () => {
  // Node's way: a CommonJS script's scope is reached only through its
  // closures, and the pending timer of one of them is the shortest way.
  const b = new HeapBuilder();
  const timeout = b.node("object", "Timeout", 104);
  b.root(timeout);
  b.prop(timeout, "_repeat", b.node("native", "null", 0));
  const script = b.script(`${APP}app.ts`);
  const next = b.closure("next", script, 31);
  b.prop(timeout, "_onTimeout", next);
  const seen = b.node("object", "Map", 32);
  const entry = b.node("object", "Object", 40);
  b.edge(seen, "internal", "table", entry);
  b.module(`${APP}app.ts`, { seen });
  const scope = b.nodes.findIndex((n) =>
    n.name === "system / Context" && n.edges?.some((e) => e.name === "seen")
  );
  b.edge(next, "internal", "context", scope);
  const a = b.analyse();
  assert.deepEqual(a.heldBy(entry), {
    holder: { kind: "module", name: "seen", url: `${APP}app.ts` },
    via: ["{table}"],
  });
  // The timer and its callback are still named by the callback.
  assert.equal(a.heldBy(timeout).holder?.kind, "timer");
  assert.equal(a.heldBy(next).holder?.owner?.name, "next");
});

Deno.test("`HeapAnalysis` labels what a console session keeps, and a hook it set, as the session's", () => {
  const b = new HeapBuilder();
  const scope = b.closure(
    "createSessionScope",
    b.script(`${CONSOLE}eval/scope.ts`),
  );
  const vars = b.node("object", "Object", 24);
  b.scope(scope, { vars });
  b.root(scope);
  const held = b.node("object", "Map", 32);
  b.prop(vars, "held", held);
  const probe = b.node("object", "LeakProbe", 40);
  b.edge(held, "internal", "table", probe);
  // A hook a session installed in the service: compiled by `new Function`,
  // so its script has no name, only its `//# sourceURL`.
  const snippet = b.node("code", "system / Script", 160);
  const url = b.node("string", "<console:4>", 32);
  b.edge(snippet, "hidden", 5, url);
  const hook = b.closure("", snippet);
  const users = b.node("object", "Object", 40);
  b.prop(users, "lookup", hook);
  b.module(`${APP}users.ts`, { users });
  const a = b.analyse(OWNERSHIP);
  assert.deepEqual(a.heldBy(probe), {
    holder: { kind: "session", name: "held" },
    via: ["{table}"],
  });
  assert.equal(a.ownerOf(probe), "session");
  assert.equal(a.ownerOf(hook), "session");
  const row = a.top().find((c) => c.name === "LeakProbe");
  assert.equal(row?.count, 1, "counted");
  assert.equal(row?.sessionCount, 1, "as the session's");
});

Deno.test("`HeapAnalysis.heldBy()` names a WeakMap's value by the map, not its key", () => {
  const b = new HeapBuilder();
  const config = b.node("object", "Object", 40);
  const map = b.node("object", "WeakMap", 24);
  const table = b.node("array", "", 64);
  b.edge(map, "internal", "table", table);
  const history = b.node("object", "Array", 16);
  b.edge(
    config,
    "internal",
    `5 / part of key (Object @${b.idOf(config)}) -> value (Array @${
      b.idOf(history)
    }) pair in WeakMap (table @${b.idOf(table)})`,
    history,
  );
  const entry = b.node("object", "Object", 40);
  b.edge(history, "element", 0, entry);
  b.module(`${APP}config.ts`, { config, historyByConfig: map });
  const a = b.analyse();
  const held = a.heldBy(entry);
  assert.equal(held.holder?.name, "historyByConfig");
  assert.deepEqual(held.via, ["{WeakMap value of Object}", "[*]"]);
});
