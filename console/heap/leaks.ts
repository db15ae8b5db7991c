/**
 * Leak finding, memlab's three-snapshot method done live with two: the
 * objects allocated after a baseline snapshot (V8 hands out node ids in
 * allocation order, stable within one process) that are still alive, the
 * console's own left out, grouped so that one leak is one row.
 *
 * The unit is a *leak root*: a new object that no other new object
 * dominates (a user, not its strings; a promise chain's head, not each
 * link), so sizes add up without double counting. Each root hangs off an
 * *anchor*: the nearest object of the old heap on its dominator chain (the
 * Map, the array, the dictionary, the linked list that grew). Roots group
 * by anchor; under an anchor that is a namespace rather than a container
 * (a module's or a closure's scope, a class instance, `globalThis`) also by
 * the name they hang from, unless many names hold alike objects (a
 * dictionary in fast mode). Roots that reference each other (the nodes of
 * a linked list, reached from its head and its tail) are one group.
 *
 * @module
 */

import type {
  HeapAnalysis,
  LeakClass,
  LeakGroup,
  LeakReport,
  Tally,
} from "./analysis.ts";
import {
  describeHolder,
  isDictionary,
  isTimeout,
  wildcard,
} from "./describe.ts";
import { NO_EDGE } from "./shortest_paths.ts";
import type { Holder } from "./holders.ts";
import { isDeveloperCode, isSnippetCode } from "./code_kinds.ts";
import { isAllocatedIn } from "./snapshot_ids.ts";
import { namePrefixTest } from "./graph.ts";

/** Node types that can be a leaked object (not V8's internal storage). */
const CANDIDATE_TYPES = new Set([
  "object",
  "closure",
  "string",
  "concatenated string",
  "sliced string",
  "regexp",
  "bigint",
]);

/** Distinct names under one namespace that make it a dictionary. */
const MANY_KEYS = 8;
/** A root with this many new children that hold most of it is a container. */
const MANY_CHILDREN = 8;
/** Links of one class along a dominator chain that make it a chain. */
const MANY_LINKS = 8;

/** Result of climbing a node's dominator chain through the new heap. */
const enum Climb {
  /** Another new object dominates it. */
  Dominated,
  /** It hangs off the old heap (or the root) at the anchor. */
  Anchored,
}

/**
 * Groups the new live objects of an analysis.
 *
 * @param analysis The analysed snapshot.
 * @param since The baseline snapshot's highest node id.
 * @param n How many groups.
 * @param all Include the console's objects.
 * @param until The target snapshot's highest id, in the three-snapshot
 *   method: objects first seen after it are not counted.
 * @returns The largest groups, and what was left out.
 */
export function findLeaks(
  analysis: HeapAnalysis,
  since: number,
  n: number,
  all: boolean,
  until = Infinity,
): LeakReport {
  const finder = new LeakFinder(analysis, since, until, all);
  return finder.report(n);
}

/** One group being built. */
interface Group {
  owner: number;
  anchor: number;
  hop: string;
  members: number[];
}

class LeakFinder {
  readonly #a: HeapAnalysis;
  readonly #since: number;
  readonly #until: number;
  readonly #all: boolean;
  readonly #candidateType: Uint8Array;
  /** V8 internals (`system / ...`) are storage, not objects. */
  readonly #isInternal: (node: number) => boolean;
  /** Per node: 0 unknown, 1 hangs off code, 2 does not. */
  readonly #underCode: Uint8Array;
  readonly #codeType: number;
  readonly #syntheticType: number;
  readonly #arrayType: number;
  readonly #closureType: number;
  /** The nodes looked at: reachable, and not the console's unless `all`. */
  readonly #mask: Uint8Array;
  /**
   * Per new object that dominates a session's variables object (a hook
   * that alone keeps a closed session's scope): what that scope retains,
   * which is counted under the scope's own rows, not again under it.
   */
  #scopesUnder: Map<number, number> | undefined;
  /** Climb results per node: the node reached (-1: not climbed yet). */
  readonly #climbTo: Int32Array;
  /** And whether that node dominates it (see {@link Climb}). */
  readonly #climbKind: Uint8Array;

  constructor(
    analysis: HeapAnalysis,
    since: number,
    until: number,
    all: boolean,
  ) {
    this.#a = analysis;
    this.#since = since;
    this.#until = until;
    this.#all = all;
    const { graph } = analysis;
    this.#candidateType = new Uint8Array(graph.nodeTypes.length);
    graph.nodeTypes.forEach((t, i) => {
      if (CANDIDATE_TYPES.has(t)) this.#candidateType[i] = 1;
    });
    this.#isInternal = namePrefixTest(graph, "system /");
    this.#underCode = new Uint8Array(graph.nodeCount);
    this.#codeType = graph.nodeTypes.indexOf("code");
    this.#syntheticType = graph.nodeTypes.indexOf("synthetic");
    this.#arrayType = graph.nodeTypes.indexOf("array");
    this.#closureType = graph.nodeTypes.indexOf("closure");
    this.#mask = all ? analysis.paths.reachable : analysis.counted;
    this.#climbTo = new Int32Array(graph.nodeCount).fill(-1);
    this.#climbKind = new Uint8Array(graph.nodeCount);
  }

  report(n: number): LeakReport {
    const { graph, paths } = this.#a;
    const mask = this.#mask;
    const roots: number[] = [];
    const fresh: Tally = { count: 0, size: 0 };
    const mine: Tally = { count: 0, size: 0 };
    const code: Tally = { count: 0, size: 0 };
    for (let v = 1; v < graph.nodeCount; v++) {
      if (paths.reachable[v] !== 1 || !this.#isNew(v)) continue;
      const self = graph.selfSize(v);
      add(fresh, 1, self);
      if (mask[v] !== 1) {
        add(mine, 1, self);
        continue;
      }
      if (!this.#isCandidate(v)) continue;
      if (this.#isCode(v)) {
        add(code, 1, self);
        continue;
      }
      if (this.#climb(v) === Climb.Anchored) roots.push(v);
    }
    const groups = this.#group(roots);
    const sized = groups.map((g) => ({ group: g, size: this.#sizeOf(g) }));
    sized.sort((x, y) => y.size - x.size);
    // Described (the largest ones): groups that read the same (the same
    // holder, hops and class under several old objects, as a closure made
    // per call with a Map each) are one row; a promise chain the console
    // started is the console's work in flight.
    const shown: LeakGroup[] = [];
    const byText = new Map<string, LeakGroup>();
    let total = 0;
    let undescribed = 0;
    for (const [i, { group, size }] of sized.entries()) {
      total += size;
      if (i >= n * 2 + 16) {
        undescribed++;
        continue;
      }
      const row = this.#describe(group, size);
      if (
        !this.#all && this.#a.holders.isConsoleUrl(row.started?.url ?? "")
      ) {
        add(mine, row.count, row.retainedSize);
        total -= size;
        continue;
      }
      const key = JSON.stringify([
        row.holder ?? null,
        row.via,
        row.className,
        row.owner,
      ]);
      const same = byText.get(key);
      if (same) {
        merge(same, row);
        continue;
      }
      byText.set(key, row);
      shown.push(row);
    }
    shown.sort((x, y) => y.retainedSize - x.retainedSize);
    return {
      groups: shown.slice(0, n),
      groupCount: shown.length + undescribed,
      newObjects: fresh,
      retainedSize: total,
      leftOut: { console: mine, code },
    };
  }

  /**
   * Allocated in the window: after the baseline and, with three snapshots,
   * up to the target. Anything else (older, allocated after the target, an
   * embedder's node) is the old heap a leak hangs off.
   */
  #isNew(v: number): boolean {
    return isAllocatedIn(this.#a.graph.nodeId(v), this.#since, this.#until);
  }

  /**
   * What a member retains that is its own: its retained size less the
   * session scopes it dominates (anchors of rows of their own).
   */
  #retained(v: number): number {
    if (!this.#scopesUnder) this.#indexScopesUnder();
    return this.#a.retained[v]! - (this.#scopesUnder!.get(v) ?? 0);
  }

  #indexScopesUnder(): void {
    const { retained, dominator } = this.#a;
    const under = new Map<number, number>();
    for (const scope of this.#a.holders.sessionScopes()) {
      // The nearest member above the scope, then each member above it.
      let at = dominator[scope]!;
      for (let hops = 0; hops < 1_000_000; hops++) {
        if (at === 0 || this.#isAnchor(at) || this.#isMember(at)) break;
        const d = dominator[at]!;
        if (d === at) break;
        at = d;
      }
      for (let hops = 0; hops < 1_000_000 && this.#isMember(at); hops++) {
        under.set(at, (under.get(at) ?? 0) + retained[scope]!);
        if (this.#climb(at) !== Climb.Dominated) break;
        at = this.#climbTo[at]!;
      }
    }
    this.#scopesUnder = under;
  }

  /** Counted (not the console's, unless `all`), new, and a JS-level object. */
  #isMember(v: number): boolean {
    return this.#mask[v] === 1 && this.#isNew(v) && this.#isCandidate(v) &&
      !this.#isCode(v);
  }

  /**
   * A JS-level object, not storage: V8's internals, and the objects in
   * which a console session keeps its variables (its variables are what
   * may leak, each one on its own, see {@link LeakFinder.#isAnchor}).
   */
  #isCandidate(v: number): boolean {
    const graph = this.#a.graph;
    if (this.#candidateType[graph.nodeTypeCode(v)] !== 1) return false;
    return !this.#isInternal(v) && !this.#a.holders.isSessionScope(v);
  }

  /**
   * Where a leak hangs off: the old heap, or a console session's variables
   * object however new (a session opened after the baseline): what a
   * session's variable holds is the operator's, named by the variable,
   * never folded into the console's objects that hold the session.
   */
  #isAnchor(v: number): boolean {
    return !this.#isNew(v) || this.#a.holders.isSessionScope(v);
  }

  /**
   * Climbs the dominator chain of `v` through new storage (and the
   * console's wrappers) to the first new object (then `v` is part of it)
   * or the first anchor (see {@link LeakFinder.#isAnchor}).
   */
  #climb(v: number): Climb {
    const { dominator } = this.#a;
    const walked: number[] = [];
    let at = v;
    let kind = Climb.Anchored;
    let to = 0;
    for (let hops = 0; hops < 1_000_000; hops++) {
      const d = dominator[at]!;
      if (d === at || d === 0) {
        to = 0;
        break;
      }
      if (this.#isAnchor(d)) {
        to = d;
        break;
      }
      const known = this.#climbTo[d]!;
      if (known >= 0 && !this.#isMember(d)) {
        to = known;
        kind = this.#climbKind[d]!;
        break;
      }
      if (this.#isMember(d)) {
        to = d;
        kind = Climb.Dominated;
        break;
      }
      walked.push(d);
      at = d;
    }
    this.#climbTo[v] = to;
    this.#climbKind[v] = kind;
    for (const w of walked) {
      this.#climbTo[w] = to;
      this.#climbKind[w] = kind;
    }
    return kind;
  }

  /** The anchor of a root: its climb's end, or for the root or a GC-root
   * category (held from several roots), the nearest old node on its path. */
  #anchorOf(v: number): number {
    const { graph, paths, dominator } = this.#a;
    let to = this.#climbTo[v]!;
    // V8's storage (a Map's table, an object's property or element store)
    // stands for the object that owns it: keys and values are one leak.
    for (
      let hops = 0;
      hops < 8 && graph.nodeTypeCode(to) === this.#arrayType;
      hops++
    ) {
      const d = dominator[to]!;
      if (
        d === to || d === 0 || graph.nodeTypeCode(d) === this.#syntheticType
      ) {
        break;
      }
      to = d;
    }
    if (to !== 0 && graph.nodeTypeCode(to) !== this.#syntheticType) return to;
    let first = -1;
    for (let at = v, hops = 0; at !== 0 && hops < 1_000_000; hops++) {
      const e = paths.parentEdge[at]!;
      if (e === NO_EDGE) break;
      const from = graph.edgeSource(e);
      if (from === 0 || graph.nodeTypeCode(from) === this.#syntheticType) {
        break;
      }
      first = from;
      if (this.#isAnchor(from)) return from;
      at = from;
    }
    return first >= 0 ? first : to;
  }

  /** The edge by which `v`'s path leaves its anchor, as a generic label. */
  #hopFrom(anchor: number, v: number, memo: Map<number, string>): string {
    const { graph, paths } = this.#a;
    const walked: number[] = [];
    let hop = "";
    for (let at = v, hops = 0; at !== 0 && hops < 1_000_000; hops++) {
      const known = memo.get(at);
      if (known !== undefined) {
        hop = known;
        break;
      }
      const e = paths.parentEdge[at]!;
      if (e === NO_EDGE) break;
      walked.push(at);
      const from = graph.edgeSource(e);
      if (from === anchor) {
        hop = wildcard(graph.edgeLabel(e));
        break;
      }
      at = from;
    }
    for (const w of walked) memo.set(w, hop);
    return hop;
  }

  /** The label of the edge by which `v`'s path leaves `anchor`. */
  #anchorHop(anchor: number, v: number): string | undefined {
    const { graph, paths } = this.#a;
    for (let at = v, hops = 0; at !== 0 && hops < 1_000_000; hops++) {
      const e = paths.parentEdge[at]!;
      if (e === NO_EDGE) return undefined;
      const from = graph.edgeSource(e);
      if (from === anchor) return wildcard(graph.edgeLabel(e));
      at = from;
    }
    return undefined;
  }

  /**
   * Whether an anchor is a container (everything new under it is one leak)
   * rather than a namespace (each name under it may be a leak of its own).
   */
  #isContainer(anchor: number): boolean {
    const { graph, holders } = this.#a;
    const type = graph.nodeType(anchor);
    if (type === "array") return true;
    if (type !== "object") return false;
    if (holders.isGlobal(anchor) || holders.isSessionScope(anchor)) {
      return false;
    }
    if (graph.child(anchor, "table") >= 0) return true;
    if (isDictionary(graph, anchor)) return true;
    const end = graph.firstEdge[anchor + 1]!;
    for (let e = graph.firstEdge[anchor]!; e < end; e++) {
      if (graph.edgeTypeCode(e) === graph.elementEdge) return true;
    }
    return false;
  }

  #group(roots: number[]): Group[] {
    const { graph, paths } = this.#a;
    const groups: Group[] = [];
    const byKey = new Map<string, number>();
    // Per node: its group's index, or -1 (not a root).
    const groupOf = new Int32Array(graph.nodeCount).fill(-1);
    const container = new Map<number, boolean>();
    const hopMemos = new Map<number, Map<number, string>>();
    for (const v of roots) {
      const anchor = this.#anchorOf(v);
      let isContainer = container.get(anchor);
      if (isContainer === undefined) {
        isContainer = this.#isContainer(anchor);
        container.set(anchor, isContainer);
      }
      let hop = "*";
      if (!isContainer) {
        let memo = hopMemos.get(anchor);
        if (!memo) {
          memo = new Map();
          hopMemos.set(anchor, memo);
        }
        hop = this.#hopFrom(anchor, v, memo);
      }
      const owner = paths.owner[v]!;
      const key = `${owner}:${anchor}:${hop}`;
      let index = byKey.get(key);
      if (index === undefined) {
        index = groups.length;
        groups.push({ owner, anchor, hop, members: [] });
        byKey.set(key, index);
      }
      groupOf[v] = index;
      groups[index]!.members.push(v);
    }
    // Union-find over groups.
    const parent = groups.map((_, i) => i);
    const find = (i: number): number => {
      while (parent[i] !== i) {
        parent[i] = parent[parent[i]!]!;
        i = parent[i]!;
      }
      return i;
    };
    const union = (i: number, j: number) => {
      const a = find(i);
      const b = find(j);
      if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
    };
    // Roots that reference each other under one anchor: one structure.
    for (const v of roots) {
      const gv = groupOf[v]!;
      const end = graph.firstEdge[v + 1]!;
      for (let e = graph.firstEdge[v]!; e < end; e++) {
        if (graph.edgeTypeCode(e) === graph.weakEdge) continue;
        const gu = groupOf[graph.edgeTarget(e)]!;
        if (gu < 0 || gu === gv) continue;
        const a = groups[gu]!;
        const b = groups[gv]!;
        if (a.anchor === b.anchor && a.owner === b.owner) union(gu, gv);
      }
    }
    // Many names under one namespace holding alike objects: a dictionary.
    const named = new Map<string, number[]>();
    groups.forEach((g, i) => {
      if (g.hop === "*" || !/^(\.|context )/.test(g.hop)) return;
      const key = `${g.owner}:${g.anchor}:${
        this.#a.census.classOf[g.members[0]!]
      }`;
      let list = named.get(key);
      if (!list) named.set(key, list = []);
      list.push(i);
    });
    for (const list of named.values()) {
      if (list.length < MANY_KEYS) continue;
      for (const i of list) {
        union(list[0]!, i);
        groups[i]!.hop = groups[i]!.hop.startsWith("context ")
          ? "context <key>"
          : ".<key>";
      }
    }
    const merged = new Map<number, Group>();
    groups.forEach((g, i) => {
      const r = find(i);
      const into = merged.get(r);
      if (!into) merged.set(r, { ...g, members: g.members.slice() });
      else into.members.push(...g.members);
    });
    return [...merged.values()];
  }

  /**
   * What a group retains, counted once: its roots' retained sizes (their
   * dominator subtrees do not overlap) and the new storage between them
   * and the anchor (a Map's table grown for them, an array's backing
   * store).
   */
  #sizeOf(group: Group): number {
    const { dominator, graph } = this.#a;
    const mask = this.#mask;
    let size = 0;
    const seen = new Set<number>();
    for (const m of group.members) {
      size += this.#retained(m);
      for (let at = dominator[m]!, hops = 0; hops < 1_000; hops++) {
        if (
          at === 0 || at === group.anchor || this.#isAnchor(at) || seen.has(at)
        ) break;
        seen.add(at);
        if (mask[at] === 1) size += graph.selfSize(at);
        const d = dominator[at]!;
        if (d === at) break;
        at = d;
      }
    }
    return size;
  }

  /**
   * A group as reported: its units (a single container root is counted by
   * what it contains, a chain by its links), classes, an example and its
   * holder.
   */
  #describe(group: Group, size: number): LeakGroup {
    const a = this.#a;
    const { graph } = a;
    const retained = (v: number) => this.#retained(v);
    // A member holding much of the group may be a container or a chain:
    // counted by what it holds.
    const units = group.members.flatMap((m) =>
      retained(m) >= size * 0.1 ? this.#unfold(m) : [m]
    );
    const classes = new Map<string, LeakClass>();
    let example = units[0]!;
    for (const u of units) {
      const name = this.#unitClass(u);
      let row = classes.get(name);
      if (!row) classes.set(name, row = { name, count: 0, retainedSize: 0 });
      row.count++;
      row.retainedSize += retained(u);
      if (retained(u) > retained(example)) example = u;
    }
    const rows = [...classes.values()].sort((x, y) =>
      y.retainedSize - x.retainedSize
    );
    const main = rows[0]!;
    // The example is one of the main class.
    if (this.#unitClass(example) !== main.name) {
      example = units.filter((u) => this.#unitClass(u) === main.name)
        .reduce((x, y) => retained(y) > retained(x) ? y : x);
    }
    const held = describeHolder(a, example);
    if (group.hop.endsWith("<key>")) {
      // Names read as keys: the example's own name reads `<key>` too.
      const concrete = this.#anchorHop(group.anchor, example);
      const at = concrete === undefined ? -1 : held.via.indexOf(concrete);
      if (at >= 0) held.via[at] = group.hop;
    }
    const info = a.info(example);
    const started = main.name === "Promise"
      ? this.#chainStart(group.members[0]!)
      : undefined;
    return {
      ...(held.holder ? { holder: held.holder } : {}),
      owner: a.ownerOf(example),
      via: held.via,
      className: main.name,
      classes: rows,
      ...(info.closure ? { closure: info.closure } : {}),
      ...(started ? { started } : {}),
      count: units.length,
      retainedSize: size,
      anchorId: graph.nodeId(group.anchor),
      example: a.path(example, false),
    };
  }

  /** The class a unit is counted under (a timer reads `Timeout`). */
  #unitClass(u: number): string {
    const a = this.#a;
    if (isTimeout(a.graph, u)) return "Timeout";
    return a.census.classes[a.census.classOf[u]!]!.name;
  }

  /**
   * The units of one root: the root itself, the objects a container root
   * holds (when many of them make up most of it), or the links of a chain
   * the root heads (each dominating the next: a singly linked list, a
   * promise chain).
   */
  #unfold(root: number): number[] {
    const retained = (v: number) => this.#retained(v);
    const chain = new Map<string, number[]>();
    let at = root;
    for (let steps = 0; steps < 1_000_000; steps++) {
      const kids = this.#children(at);
      let held = 0;
      let big = -1;
      for (const k of kids) {
        held += retained(k);
        if (big < 0 || retained(k) > retained(big)) big = k;
      }
      if (kids.length >= MANY_CHILDREN && held >= retained(at) * 0.5) {
        return kids;
      }
      const cls = this.#unitClass(at);
      let links = chain.get(cls);
      if (!links) chain.set(cls, links = []);
      links.push(at);
      // Down the spine: the part holding most of it, or the next link of
      // a chain (same class) however little is left below.
      if (big < 0) break;
      if (retained(big) < retained(at) * 0.8) {
        const link = kids.find((k) => this.#unitClass(k) === cls);
        if (link === undefined) break;
        big = link;
      }
      at = big;
    }
    let longest: number[] = [];
    for (const links of chain.values()) {
      if (links.length > longest.length) longest = links;
    }
    return longest.length >= MANY_LINKS ? longest : [root];
  }

  /**
   * New objects by the new object that dominates them, as one list sorted
   * by dominator: `#childStart[d]` to `#childStart[d + 1]` in `#childList`
   * (typed arrays: a leak of a million objects would make a million small
   * arrays otherwise).
   */
  #childStart: Int32Array | undefined;
  #childList: Int32Array | undefined;

  /** The new objects `at` dominates (the index is made on first use). */
  #children(at: number): number[] {
    if (!this.#childStart) this.#indexChildren();
    const start = this.#childStart!;
    return Array.from(this.#childList!.subarray(start[at]!, start[at + 1]!));
  }

  #indexChildren(): void {
    const { graph } = this.#a;
    const count = graph.nodeCount;
    // Counts per dominator, then their running sums: where each one's
    // children start.
    const start = new Int32Array(count + 1);
    for (let v = 1; v < count; v++) {
      if (!this.#isChild(v)) continue;
      const d = this.#climbTo[v]! + 1;
      start[d] = start[d]! + 1;
    }
    for (let d = 0; d < count; d++) start[d + 1] = start[d + 1]! + start[d]!;
    const list = new Int32Array(start[count]!);
    const next = start.slice(0, count);
    for (let v = 1; v < count; v++) {
      if (!this.#isChild(v)) continue;
      const d = this.#climbTo[v]!;
      list[next[d]!] = v;
      next[d] = next[d]! + 1;
    }
    this.#childStart = start;
    this.#childList = list;
  }

  /** A member that another new object dominates (see {@link Climb}). */
  #isChild(v: number): boolean {
    return this.#isMember(v) && this.#climb(v) === Climb.Dominated;
  }

  /**
   * Where a promise chain was started: the first function of the
   * developer's code found inside it (a suspended async function's, a
   * reaction's handler).
   */
  #chainStart(root: number): Holder | undefined {
    const a = this.#a;
    const { graph, dominator, holders } = a;
    const seen = new Set<number>([root]);
    let level = [root];
    for (let depth = 0; depth < 64 && level.length > 0; depth++) {
      const next: number[] = [];
      for (const n of level) {
        if (graph.nodeType(n) === "closure") {
          const fn = holders.closure(n);
          if (fn.url && /^file:/.test(fn.url) && !fn.url.includes("/npm/")) {
            return fn;
          }
        }
        const end = graph.firstEdge[n + 1]!;
        for (let e = graph.firstEdge[n]!; e < end; e++) {
          const to = graph.edgeTarget(e);
          if (graph.edgeTypeCode(e) === graph.weakEdge || seen.has(to)) {
            continue;
          }
          // Stay inside what the root holds.
          if (dominator[to] !== n && !this.#isNew(to)) continue;
          seen.add(to);
          next.push(to);
        }
      }
      level = next.slice(0, 4_096);
    }
    return undefined;
  }

  /**
   * Whether `v` is code, or module loading rather than data: it hangs off
   * compiled code (a script's source, a function reached through its
   * shared info), or off a module of the runtime or a package loaded since
   * the baseline (its record, or a function of its new script). A
   * developer's module loaded since then is not: what it holds may leak.
   * Nor is a function a console session made, nor what it holds: its
   * scope (the session's variables, a variable it closes over) and its
   * properties are the operator's data, whatever holds the function; its
   * code hangs off code nodes (shared info, feedback), met first on the
   * way up.
   */
  #isCode(v: number): boolean {
    const { graph, paths } = this.#a;
    const walked: number[] = [];
    let answer = this.#isLoaded(v) ? 1 : 0;
    let at = v;
    for (let hops = 0; answer === 0 && hops < 100_000; hops++) {
      const known = this.#underCode[at]!;
      if (known !== 0) {
        answer = known;
        break;
      }
      walked.push(at);
      const e = paths.parentEdge[at]!;
      if (e === NO_EDGE) {
        answer = 2;
        break;
      }
      const from = graph.edgeSource(e);
      if (from === 0 || this.#isSnippetFunction(from)) {
        answer = 2;
        break;
      }
      if (graph.nodeTypeCode(from) === this.#codeType || this.#isLoaded(from)) {
        answer = 1;
        break;
      }
      at = from;
    }
    for (const w of walked) this.#underCode[w] = answer;
    return answer === 1;
  }

  /** A function compiled by a console session (`<console:N>`). */
  #isSnippetFunction(n: number): boolean {
    const { graph, holders } = this.#a;
    return graph.nodeTypeCode(n) === this.#closureType &&
      isSnippetCode(holders.closureUrl(n));
  }

  /**
   * A module record, or a function, of a runtime or package module
   * loaded since the baseline (not the developer's code: a local module
   * or a console snippet).
   */
  #isLoaded(n: number): boolean {
    const { graph, holders } = this.#a;
    if (!this.#isNew(n)) return false;
    const type = graph.nodeType(n);
    if (type === "closure") {
      const script = holders.closureScript(n);
      return script >= 0 && this.#isNew(script) &&
        !isDeveloperCode(holders.closureUrl(n));
    }
    if (type !== "native" && type !== "hidden" && type !== "object") {
      return false;
    }
    return holders.isModuleRecord(n) && !isDeveloperCode(holders.moduleUrl(n));
  }
}

/** Adds objects to a tally. */
function add(tally: Tally, count: number, size: number): void {
  tally.count += count;
  tally.size += size;
}

/** Adds a group that reads the same as `into` to it. */
function merge(into: LeakGroup, row: LeakGroup): void {
  into.count += row.count;
  into.retainedSize += row.retainedSize;
  for (const c of row.classes) {
    const same = into.classes.find((x) => x.name === c.name);
    if (same) {
      same.count += c.count;
      same.retainedSize += c.retainedSize;
    } else into.classes.push({ ...c });
  }
  into.classes.sort((x, y) => y.retainedSize - x.retainedSize);
}

/** A representative instance of a class, and the group it stands for. */
export interface Representative {
  /** The instance's ordinal. */
  node: number;
  /** Instances in its group (alike: held by the same object). */
  count: number;
  /** What the group retains. */
  retainedSize: number;
  /** Instances of the class considered in all. */
  total: number;
}

/**
 * A representative of the largest group of a class's instances allocated
 * after `since` (all live ones for 0): instances group by the object that
 * dominates them (the Map's table, the array, the list), nested instances
 * inside the outermost one; the largest group by retained size wins, and
 * its largest instance stands for it. Never an arbitrary recent object.
 *
 * @param analysis The analysed snapshot.
 * @param className A class name as the census counts it.
 * @param since Only instances with a higher id (0: all).
 * @param all Include the console's objects.
 * @returns The representative, or undefined when there is no such instance.
 */
export function representative(
  analysis: HeapAnalysis,
  className: string,
  since: number,
  all: boolean,
): Representative | undefined {
  const { graph, dominator, retained, census } = analysis;
  const cls = census.classes.findIndex((c) => c.name === className);
  if (cls < 0) return undefined;
  const mask = all ? analysis.paths.reachable : analysis.counted;
  const isNew = (v: number) =>
    since === 0 || isAllocatedIn(graph.nodeId(v), since);
  const isOne = (v: number) =>
    census.classOf[v] === cls && mask[v] === 1 && isNew(v);
  const size = new Map<number, number>();
  const count = new Map<number, number>();
  const best = new Map<number, number>();
  let total = 0;
  for (let v = 1; v < graph.nodeCount; v++) {
    if (!isOne(v)) continue;
    total++;
    // Nested in another instance (a user inside a user): counted in it.
    let nested = false;
    for (let at = dominator[v]!, hops = 0; hops < 10_000; hops++) {
      if (at === 0 || !isNew(at)) break;
      if (isOne(at)) {
        nested = true;
        break;
      }
      const d = dominator[at]!;
      if (d === at) break;
      at = d;
    }
    if (nested) continue;
    // Held from several roots (dominated by a GC-root category): grouped
    // by the object its path comes through instead.
    let key = dominator[v]!;
    if (key === 0 || graph.nodeType(key) === "synthetic") {
      const e = analysis.paths.parentEdge[v]!;
      key = e === NO_EDGE ? 0 : graph.edgeSource(e);
    }
    size.set(key, (size.get(key) ?? 0) + retained[v]!);
    count.set(key, (count.get(key) ?? 0) + 1);
    // The largest instance stands for the group; of equals, the newest.
    const b = best.get(key);
    if (b === undefined || retained[v]! >= retained[b]!) best.set(key, v);
  }
  let pick: number | undefined;
  for (const [key, s] of size) {
    if (
      pick === undefined || s > size.get(pick)! ||
      (s === size.get(pick)! && count.get(key)! > count.get(pick)!)
    ) pick = key;
  }
  if (pick === undefined) return undefined;
  return {
    node: best.get(pick)!,
    count: count.get(pick)!,
    retainedSize: size.get(pick)!,
    total,
  };
}
