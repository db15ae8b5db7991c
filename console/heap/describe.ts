/**
 * What holds an object, in the developer's terms: the nearest name on its
 * retaining path that the developer wrote (a module binding, a property of
 * `globalThis`, a static field, a closure's variable, a session variable),
 * or the timer whose callback holds it, and the hops from there as a
 * *shape*: indices and dictionary keys as `*` and `<key>`, repeated link
 * chains (`.next.next…`) once, listener tables as `"type" listeners`,
 * promise reaction chains as `promise chain`.
 *
 * @module
 */

import type { HeapGraph } from "./graph.ts";
import type { Holder, HolderIndex } from "./holders.ts";
import { NO_EDGE, type ShortestPaths } from "./shortest_paths.ts";
import { isDeveloperCode } from "./code_kinds.ts";

/** The nearest named holder of a node and the hops from it. */
export interface HeldBy {
  /** The holder (undefined: no binding on the way to the root). */
  holder?: Holder;
  /** Hops from the holder (or the root) to the node, as a shape. */
  via: string[];
}

/** What {@link describeHolder} reads. */
export interface PathSource {
  /** The graph. */
  readonly graph: HeapGraph;
  /** Its BFS tree. */
  readonly paths: ShortestPaths;
  /** Its names. */
  readonly holders: HolderIndex;
}

/** Most hops a description walks up from a node (a longer chain is cut). */
const MAX_HOPS = 100_000;

/**
 * The holder of a node and the shape of the hops from it. A timer on the
 * way (a `Timeout` with its `_onTimeout` callback) names the holder by its
 * callback; otherwise the nearest name the developer wrote wins over the
 * runtime's and packages' names nearer to the node, which win over none.
 *
 * @param source The analysed graph.
 * @param node Ordinal.
 * @param depth Nesting (a WeakMap's holder is described in turn).
 * @returns The holder and the hops from it.
 */
export function describeHolder(
  source: PathSource,
  node: number,
  depth = 0,
): HeldBy {
  const { graph, paths, holders } = source;
  // Edges from the node up to the root.
  const up: number[] = [];
  for (let at = node, hops = 0; at !== 0 && hops < MAX_HOPS; hops++) {
    const e = paths.parentEdge[at]!;
    if (e === NO_EDGE) break;
    up.push(e);
    at = graph.edgeSource(e);
  }
  // A timer: its callback is the name; what schedules it does not matter,
  // nor do the wrappers between the timer and the callback. A binding the
  // developer wrote below the timer (a module's variable the callback's
  // scope reaches, as in Node, where a pending timer is the shortest way
  // to a module's scope) names the object instead.
  for (let i = -1; i < up.length; i++) {
    const at = i < 0 ? node : graph.edgeSource(up[i]!);
    const e = up[i + 1];
    if (
      e !== undefined && isBinding(holders, holders.hop(e, graph.edgeSource(e)))
    ) break;
    if (!isTimeout(graph, at)) continue;
    const timer = timerHolder(source, at);
    if (!timer) break;
    const below = up.slice(0, i + 1);
    const through = below.findIndex((e) =>
      graph.edgeTarget(e) === timer.callback
    );
    return {
      holder: timer.holder,
      via: through < 0 ? [] : shape(source, below.slice(0, through)),
    };
  }
  let fallback: { holder: Holder; at: number } | undefined;
  for (let i = 0; i < up.length; i++) {
    const e = up[i]!;
    const from = graph.edgeSource(e);
    // A WeakMap's value: held by the map (while its key lives), so named
    // by the map's holder rather than the key's.
    const map = weakMapOf(graph, e);
    if (map >= 0 && depth < 4) {
      const outer = describeHolder(source, map, depth + 1);
      return {
        ...(outer.holder ? { holder: outer.holder } : {}),
        via: [
          ...outer.via,
          `{WeakMap value of ${graph.className(from)}}`,
          ...shape(source, up.slice(0, i)),
        ],
      };
    }
    let holder = holders.hop(e, from) ?? sessionHop(source, e, from);
    if (!holder && graph.nodeType(from) === "closure" && from !== node) {
      holder = holders.closure(from);
    }
    if (!holder) continue;
    if (isDevelopers(holders, holder)) {
      return { holder, via: shape(source, up.slice(0, i)) };
    }
    fallback ??= { holder, at: i };
  }
  if (fallback) {
    return {
      holder: fallback.holder,
      via: shape(source, up.slice(0, fallback.at)),
    };
  }
  return { via: shape(source, up) };
}

/** V8 names a WeakMap entry's edge `N / part of key (…) -> value (…) pair in WeakMap (table @ID)`. */
const EPHEMERON = /pair in WeakMap \(table @(\d+)\)$/;

/**
 * The WeakMap (or WeakSet) an ephemeron edge belongs to: the object whose
 * `table` is the edge's table.
 *
 * @returns Its ordinal, or -1.
 */
function weakMapOf(graph: HeapGraph, edge: number): number {
  const name = graph.edgeName(edge);
  if (typeof name !== "string") return -1;
  const match = name.match(EPHEMERON);
  if (!match) return -1;
  const table = graph.findById(Number(match[1]));
  if (table < 0) return -1;
  for (let n = 0; n < graph.nodeCount; n++) {
    const end = graph.firstEdge[n + 1]!;
    for (let e = graph.firstEdge[n]!; e < end; e++) {
      if (graph.edgeTarget(e) === table && graph.edgeName(e) === "table") {
        return n;
      }
    }
  }
  return -1;
}

/** A console session's variable: a property of a session's variables object. */
function sessionHop(
  source: PathSource,
  edge: number,
  from: number,
): Holder | undefined {
  const { graph, holders } = source;
  if (graph.edgeType(edge) === "property" && holders.isSessionScope(from)) {
    return { kind: "session", name: String(graph.edgeName(edge)) };
  }
  return undefined;
}

/**
 * Whether a holder is a binding the developer wrote that outlives any one
 * call: a module's variable, a global, a static field (not a variable a
 * closure captured).
 */
function isBinding(holders: HolderIndex, holder: Holder | undefined): boolean {
  if (!holder) return false;
  const { kind } = holder;
  return (kind === "module" || kind === "export" || kind === "global" ||
    kind === "static") && isDevelopers(holders, holder);
}

/** Whether a holder is a name the developer wrote (not the runtime's). */
function isDevelopers(holders: HolderIndex, holder: Holder): boolean {
  const isServiceCode = (url: string) =>
    isDeveloperCode(url) && !holders.isConsoleUrl(url);
  switch (holder.kind) {
    case "session":
    case "global":
    case "timer":
      return true;
    case "export":
    case "module":
    case "closure":
      return holder.name !== "" && isServiceCode(holder.url ?? "");
    case "static":
    case "context":
      return isServiceCode(holder.owner?.url ?? "");
  }
}

/**
 * Whether a node is a Node-style `Timeout` (Node's, and those Deno's
 * `setTimeout` and `setInterval` make): an object with `_onTimeout` and
 * `_idleTimeout` or `_repeat` (Node 20 keeps `_idleTimeout` in an unnamed
 * in-object field).
 *
 * @param graph The graph.
 * @param node Ordinal.
 * @returns True for a timer.
 */
export function isTimeout(graph: HeapGraph, node: number): boolean {
  if (graph.nodeType(node) !== "object") return false;
  let callback = false;
  let timing = false;
  const end = graph.firstEdge[node + 1]!;
  for (let e = graph.firstEdge[node]!; e < end; e++) {
    const name = graph.edgeName(e);
    if (name === "_onTimeout") callback = true;
    else if (name === "_idleTimeout" || name === "_repeat") timing = true;
    if (callback && timing) return true;
  }
  return false;
}

/**
 * A timer named by its callback: the first developer function it calls
 * (else the callback itself).
 */
function timerHolder(
  source: PathSource,
  timer: number,
): { holder: Holder; callback: number } | undefined {
  const { graph, holders } = source;
  // `_repeat`: the interval in ms (Node's timer record), or `true` (the
  // Timeout `setInterval` returns); null or false for `setTimeout`.
  const repeat = graph.child(timer, "_repeat");
  const interval = repeat >= 0 &&
    (graph.nodeType(repeat) === "number" || graph.nodeName(repeat) === "true");
  const start = graph.child(timer, "_onTimeout");
  if (start < 0 || graph.nodeType(start) !== "closure") return undefined;
  const found = developerFunction(source, start);
  const callback = found >= 0 ? found : start;
  return {
    holder: {
      kind: "timer",
      name: interval ? "setInterval" : "setTimeout",
      owner: holders.closure(callback),
    },
    callback,
  };
}

/**
 * The first function of the developer's code that `start` calls: itself,
 * or one its scope (or a bound function) holds, through wrappers of the
 * runtime and the console, a few hops deep.
 *
 * @param source The analysed graph.
 * @param start A closure's ordinal.
 * @returns The developer's closure, or -1.
 */
export function developerFunction(source: PathSource, start: number): number {
  const { graph, holders } = source;
  const seen = new Set<number>([start]);
  let level = [start];
  for (let depth = 0; depth < 6 && level.length > 0; depth++) {
    const next: number[] = [];
    for (const n of level) {
      const url = graph.nodeType(n) === "closure" ? holders.closureUrl(n) : "";
      if (isDeveloperCode(url) && !holders.isConsoleUrl(url)) return n;
      const end = graph.firstEdge[n + 1]!;
      for (let e = graph.firstEdge[n]!; e < end; e++) {
        const type = graph.edgeType(e);
        const name = graph.edgeName(e);
        const follow = type === "context" ||
          (type === "internal" &&
            (name === "context" || name === "bound_function" ||
              name === "previous")) ||
          (type === "element" && graph.nodeType(n) === "array");
        const to = graph.edgeTarget(e);
        if (!follow || seen.has(to)) continue;
        seen.add(to);
        next.push(to);
      }
    }
    level = next;
  }
  return -1;
}

/**
 * The hops of a path as a shape: `edgesUp` lists edges from the node
 * upwards, the result reads from the holder down.
 */
function shape(source: PathSource, edgesUp: number[]): string[] {
  const { graph, holders } = source;
  const hops: Hop[] = [];
  for (let i = edgesUp.length - 1; i >= 0; i--) {
    const e = edgesUp[i]!;
    const from = graph.edgeSource(e);
    const dictionary = isDictionary(graph, from) && !holders.isGlobal(from);
    hops.push({
      label: graph.edgeLabel(e),
      key: dictionary && graph.edgeType(e) === "property",
      // A dictionary's keys hang off its property store: `.<key>` too.
      store: dictionary && graph.edgeName(e) === "properties",
    });
  }
  return collapseRepeats(foldStructures(hops));
}

/** One hop of a shape: its label, and whether the name is a dictionary key. */
interface Hop {
  label: string;
  key: boolean;
  /** The hop from a dictionary to its property store (then to a key). */
  store: boolean;
}

/**
 * Whether an object keeps its properties in dictionary mode (V8 switches
 * an object used as a map to it): its names are keys, not fields.
 *
 * @param graph The graph.
 * @param node Ordinal.
 * @returns True for a dictionary-mode object.
 */
export function isDictionary(graph: HeapGraph, node: number): boolean {
  const properties = graph.child(node, "properties");
  return properties >= 0 &&
    graph.nodeName(properties) === "(object properties)";
}

/**
 * An edge label with its index made generic: `[12]` → `[*]`.
 *
 * @param label An edge label.
 * @returns The label with any index as `*`.
 */
export function wildcard(label: string): string {
  return label.replace(/^\[\d+\]$/, "[*]").replace(/^\{\d+\}$/, "{*}")
    .replace(/^<hidden \d+>$/, "<hidden *>");
}

/**
 * Listener tables and promise chains as one hop each: an `EventTarget`'s
 * `.<symbol> → .listeners → .type → [*] → .callback` and an
 * `EventEmitter`'s `._events → .type → [*]` read `"type" listeners`; a run
 * of promise reactions reads `promise chain`.
 */
function foldStructures(hops: Hop[]): string[] {
  const out: string[] = [];
  const labels = hops.map((h) => h.label);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    const next = labels[i + 1];
    if (
      (label === ".listeners" || label === "._events") &&
      next !== undefined && next.startsWith(".")
    ) {
      if (out.at(-1)?.startsWith(".<symbol")) out.pop();
      out.push(`${JSON.stringify(next.slice(1))} listeners`);
      i++;
      // The listener itself: its index and its callback.
      if (/^\[\d+\]$/.test(labels[i + 1] ?? "")) i++;
      if (labels[i + 1] === ".callback" || labels[i + 1] === ".listener") i++;
      continue;
    }
    if (hops[i]!.store && /^\{\d+\}$/.test(next ?? "")) {
      out.push(".<key>");
      i++;
      continue;
    }
    if (label === "{reactions_or_result}") {
      if (out.at(-1) === "<hidden *>") out.pop();
      if (out.at(-1) !== "promise chain") out.push("promise chain");
      while (
        /^<hidden \d+>$/.test(labels[i + 1] ?? "") ||
        labels[i + 1] === "{reactions_or_result}" ||
        labels[i + 1] === "{promise_or_capability}" ||
        labels[i + 1] === "{fulfill_handler}"
      ) i++;
      continue;
    }
    out.push(
      hops[i]!.key
        ? ".<key>"
        : EPHEMERON.test(label)
        ? "{WeakMap value}"
        : wildcard(label),
    );
  }
  return out;
}

/**
 * Collapses consecutive repeats of a run of one to three hops, as a linked
 * list's `.next → .next → .next` (or a promise chain's pairs) reads once,
 * marked `…`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { collapseRepeats } from "./describe.ts";
 * assert.deepEqual(
 *   collapseRepeats([".tail", ".prev", ".prev", ".prev", ".job"]),
 *   [".tail", ".prev…", ".job"],
 * );
 * assert.deepEqual(
 *   collapseRepeats(["[*]", ".a", ".b", ".a", ".b", ".a", ".b"]),
 *   ["[*]", ".a", ".b…"],
 * );
 * ```
 *
 * @param labels Hops, holder first.
 * @returns The hops with repeated runs once.
 */
export function collapseRepeats(labels: string[]): string[] {
  let out = labels.slice();
  for (let period = 1; period <= 3; period++) {
    const next: string[] = [];
    let i = 0;
    while (i < out.length) {
      let repeats = 0;
      while (
        i + (repeats + 2) * period <= out.length &&
        sameRun(out, i, i + (repeats + 1) * period, period)
      ) repeats++;
      if (repeats === 0) {
        next.push(out[i]!);
        i++;
        continue;
      }
      const run = out.slice(i, i + period);
      run[period - 1] = run[period - 1]!.endsWith("…")
        ? run[period - 1]!
        : `${run[period - 1]}…`;
      next.push(...run);
      i += (repeats + 1) * period;
    }
    out = next;
  }
  return out;
}

function sameRun(
  labels: string[],
  a: number,
  b: number,
  period: number,
): boolean {
  for (let k = 0; k < period; k++) {
    if (labels[a + k]!.replace(/…$/, "") !== labels[b + k]!.replace(/…$/, "")) {
      return false;
    }
  }
  return true;
}
