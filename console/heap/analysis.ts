/**
 * A fully analysed heap snapshot and the queries the toolkit asks of it:
 * census, shortest retaining path, largest retainers, retainer graph.
 *
 * @module
 */

import {
  type Census,
  type ClassStats,
  retainedByClass,
  takeCensus,
} from "./census.ts";
import { computeDominators } from "./dominators.ts";
import { HeapGraph } from "./graph.ts";
import type { RawSnapshot } from "./parser.ts";
import { type Holder, HolderIndex, type Ownership } from "./holders.ts";
import {
  NO_EDGE,
  OWNER_CONSOLE,
  OWNER_SESSION,
  type ShortestPaths,
  shortestPaths,
} from "./shortest_paths.ts";
import { buildRetainers, isEssentialEdge } from "./retainers.ts";
import { findLeaks } from "./leaks.ts";
import { isHeapObjectId } from "./snapshot_ids.ts";
import { Scratch } from "./scratch.ts";

import type { ProgressFn } from "./progress.ts";

/** One node, as queries report it. */
export interface NodeInfo {
  /** Snapshot id (stable across snapshots of one process). */
  id: number;
  /** Class name as the census counts it. */
  className: string;
  /** V8 node type: `object`, `closure`, `string`... */
  type: string;
  /** V8 node name (constructor name, string value, function name...). */
  name: string;
  /** Shallow size in bytes. */
  selfSize: number;
  /** Retained size in bytes. */
  retainedSize: number;
  /** One-line label, e.g. `Map @1234`. */
  label: string;
  /** Who holds it: the service, a console session, the console, or nobody. */
  owner: OwnerName;
  /** Closures: the function's name, script and position. */
  closure?: Holder;
}

/** Who holds a node (see `shortestPaths`). */
export type OwnerName = "app" | "session" | "console" | "none";

/** One hop of a retaining path. */
export interface PathStep {
  /** How the previous node refers to this one: `.cache`, `[3]`, `{table}`. */
  edge: string;
  /** V8 edge type: `property`, `element`, `context`, `internal`... */
  edgeType: string;
  /** The node reached. */
  node: NodeInfo;
  /**
   * A named reference that also holds the node, when the path reaches it
   * through an unnamed one (`{value}` of a module's export cell, `{4}`):
   * e.g. `.cache` or `context cache`.
   */
  alias?: string;
  /** The binding this hop names the node by: `cache` of `lib/users.ts`... */
  holder?: Holder;
}

/** A retaining path from the root to a node. */
export interface RetainingPath {
  /** The node the path leads to. */
  target: NodeInfo;
  /** False when only weak references (or garbage) hold the target. */
  reachable: boolean;
  /** The root, then one step per edge, ending at the target. */
  steps: PathStep[];
}

/** A node that retains a lot, with the path that keeps it alive. */
export interface LargeObject extends NodeInfo {
  /** Edge labels from the root, e.g. `context cache` at the end. */
  path: string;
  /** The nearest binding, closure or variable that holds it. */
  holder?: Holder;
  /** Edge labels from the holder to the object (empty: the holder names it). */
  via: string[];
}

/** The nearest named holder of a node and the hops from it. */
export interface HeldBy {
  /** The holder (undefined: no binding on the way to the root). */
  holder?: Holder;
  /** Edge labels from the holder (or the root) to the node. */
  via: string[];
}

/** Objects of one kind, with their retained size counted once. */
export interface LargeGroup {
  /** Constructor name, or the function for closures, `(string)`... */
  kind: string;
  /** Closures: the function (name, script, position). */
  closure?: Holder;
  /** Instances. */
  count: number;
  /** Retained size of them all, nested instances counted once. */
  retainedSize: number;
  /** The largest instance's id. */
  exampleId: number;
}

/** A census row with what is new since a given snapshot id. */
export interface ClassDelta {
  /** Class name. */
  name: string;
  /** Live instances. */
  count: number;
  /** Their shallow sizes, in bytes. */
  size: number;
  /** Instances with an id above `since`: allocated after that snapshot. */
  newCount: number;
  /** Their shallow sizes. */
  newSize: number;
}

/** Objects allocated after a baseline and alive now, grouped by holder and path. */
export interface LeakGroup {
  /** The nearest named holder (undefined: none on the way to the root). */
  holder?: Holder;
  /** Who holds the group: the service or a console session. */
  owner: OwnerName;
  /** Edge labels from the holder to each object, indices as `*`. */
  via: string[];
  /** Class of the objects. */
  className: string;
  /** Closures: the function of the first one. */
  closure?: Holder;
  /** New objects in the group (each counted with what only it holds). */
  count: number;
  /** Their retained sizes added up. */
  retainedSize: number;
  /** One of them, with its full path from the root. */
  example: RetainingPath;
}

/** Which objects the queries look at. */
export interface ScopeOptions {
  /** Include the console's own objects (default false). */
  all?: boolean;
}

/** Which new objects {@link HeapAnalysis.leaks} looks at. */
export interface LeakOptions extends ScopeOptions {
  /**
   * Only objects with an id up to this: the target snapshot's highest, for
   * memlab's three-snapshot method (allocated between baseline and target,
   * alive in the final one). Default: no upper bound.
   */
  until?: number;
}

/** Totals of an analysed snapshot. */
export interface SnapshotSummary {
  /** Number of nodes. */
  nodeCount: number;
  /** Number of edges. */
  edgeCount: number;
  /** Nodes reachable from the root through retaining edges. */
  reachableCount: number;
  /** Sum of all self sizes (equals the root's retained size). */
  totalSize: number;
  /** Sum of self sizes of reachable nodes. */
  reachableSize: number;
  /** Characters of snapshot text. */
  textLength: number;
  /** The highest heap-object id: objects allocated later get higher ones. */
  maxNodeId: number;
  /** Reachable nodes held only by the console. */
  consoleCount: number;
}

/** A node of a {@link RetainerGraph}. */
export interface GraphNode {
  /** The node. */
  info: NodeInfo;
  /** The binding a drawn edge names it by. */
  holder?: Holder;
  /** The target, the root, or a retainer. */
  role: "target" | "root" | "retainer";
}

/** An edge of a {@link RetainerGraph}, between node ids. */
export interface GraphEdge {
  /** Source node id. */
  from: number;
  /** Target node id. */
  to: number;
  /** How the source refers to the target: `.cache`, `[3]`... */
  label: string;
  /** Whether it is on the shortest path from the root. */
  onPath: boolean;
}

/** The retainers around a node. */
export interface RetainerGraph {
  /** The node whose retainers these are. */
  target: NodeInfo;
  /** Target, retainers and the nodes of the shortest path. */
  nodes: GraphNode[];
  /** Retaining edges among them. */
  edges: GraphEdge[];
}

/** Options for {@link HeapAnalysis.retainerGraph}. */
export interface RetainerGraphOptions {
  /** How many retainer hops to follow back from the target (default 4). */
  depth?: number;
  /** At most this many nodes (default 40). */
  maxNodes?: number;
  /** Include the console's retainers (default false). */
  all?: boolean;
}

/** Node types that only group other nodes and never count as objects. */
const GROUPING_TYPES = new Set(["synthetic"]);

/**
 * Analyses a parsed snapshot: reverse edges, shortest retaining paths from
 * the root, dominator tree, retained sizes and the census by class.
 *
 * @example
 * ```ts ignore
 * const analysis = HeapAnalysis.from(parser.finish());
 * console.log(analysis.top(5));
 * ```
 */
export class HeapAnalysis {
  readonly #userClass: Uint8Array;
  readonly #holders: HolderIndex | undefined;
  #allCensus: Census | undefined;
  /** The graph. */
  readonly graph: HeapGraph;
  /** BFS tree from the root. */
  readonly paths: ShortestPaths;
  /** Immediate dominator of each node. */
  readonly dominator: Uint32Array;
  /** Retained size of each node. */
  readonly retained: Float64Array;
  /** Census by class (the console's objects left out when it is known). */
  readonly census: Census;
  /** 1 for reachable nodes the console does not own. */
  readonly counted: Uint8Array;

  /**
   * Runs every analysis phase.
   *
   * @param graph The graph.
   * @param progress Called after each phase.
   * @param ownership Which scripts are the console's (none: nothing is).
   */
  constructor(
    graph: HeapGraph,
    progress: ProgressFn = () => {},
    ownership: Ownership = {},
  ) {
    const total = 4;
    const scratch = new Scratch(graph.nodeCount);
    this.graph = graph;
    const firstRetainer = scratch.takeZeroed();
    let seeds: Uint8Array | undefined;
    if ((ownership.consoleScripts ?? []).length > 0) {
      this.#holders = new HolderIndex(graph);
      seeds = this.#holders.seeds(ownership);
    }
    this.paths = shortestPaths(graph, scratch, firstRetainer, seeds);
    this.counted = this.paths.reachable;
    if (seeds !== undefined) {
      const { reachable, owner } = this.paths;
      this.counted = new Uint8Array(graph.nodeCount);
      for (let n = 0; n < graph.nodeCount; n++) {
        if (reachable[n] === 1 && owner[n] !== OWNER_CONSOLE) {
          this.counted[n] = 1;
        }
      }
    }
    progress("analyse: paths", 1, total);
    const { reachable } = this.paths;
    const retainers = buildRetainers(graph, reachable, firstRetainer, true);
    progress("analyse: retainers", 2, total);
    const dom = computeDominators(graph, retainers, reachable, scratch);
    this.dominator = dom.dominator;
    this.retained = dom.retained;
    progress("analyse: dominators", 3, total);
    this.census = takeCensus(
      graph,
      this.dominator,
      this.retained,
      this.counted,
      scratch,
    );
    if (seeds === undefined) this.#allCensus = this.census;
    this.#userClass = new Uint8Array(this.census.classes.length);
    this.census.classes.forEach((c, i) => {
      if (isUserClassName(c.name)) this.#userClass[i] = 1;
    });
    scratch.dispose();
    progress("analyse: census", 4, total);
  }

  /**
   * Builds the graph and analyses it.
   *
   * @param raw A parsed snapshot.
   * @param progress Called after each phase.
   * @returns The analysis.
   */
  static from(
    raw: RawSnapshot,
    progress?: ProgressFn,
    ownership?: Ownership,
  ): HeapAnalysis {
    return new HeapAnalysis(new HeapGraph(raw), progress, ownership);
  }

  /** The holder index, made on first use when ownership did not need it. */
  get holders(): HolderIndex {
    return this.#holders ?? this.#lazyHolders();
  }

  #lazy: HolderIndex | undefined;
  #lazyHolders(): HolderIndex {
    this.#lazy ??= new HolderIndex(this.graph);
    return this.#lazy;
  }

  /**
   * The census of every reachable object, or of those the console does not
   * own.
   *
   * @param all Include the console's objects.
   * @returns The census.
   */
  censusOf(all = false): Census {
    if (!all) return this.census;
    if (this.#allCensus === undefined) {
      const scratch = new Scratch(this.graph.nodeCount);
      this.#allCensus = takeCensus(
        this.graph,
        this.dominator,
        this.retained,
        this.paths.reachable,
        scratch,
      );
      scratch.dispose();
    }
    return this.#allCensus;
  }

  #mask(all: boolean): Uint8Array {
    return all ? this.paths.reachable : this.counted;
  }

  /**
   * Totals of the snapshot.
   *
   * @returns Totals of the snapshot.
   */
  summary(): SnapshotSummary {
    const { graph } = this;
    let reachableCount = 0;
    let reachableSize = 0;
    let maxNodeId = 0;
    let consoleCount = 0;
    const { reachable, owner } = this.paths;
    for (let n = 0; n < graph.nodeCount; n++) {
      const id = graph.nodeId(n);
      // Embedders' ids (even) follow no allocation order: not a cut-off.
      if (id > maxNodeId && isHeapObjectId(id)) maxNodeId = id;
      if (reachable[n] === 1) {
        reachableCount++;
        reachableSize += graph.selfSize(n);
        if (owner[n] === OWNER_CONSOLE) consoleCount++;
      }
    }
    return {
      nodeCount: graph.nodeCount,
      edgeCount: graph.edgeCount,
      reachableCount,
      totalSize: graph.nodeCount > 0 ? this.retained[0]! : 0,
      reachableSize,
      textLength: graph.textLength,
      maxNodeId,
      consoleCount,
    };
  }

  /**
   * The most common classes by instance count.
   *
   * @param n How many rows (default all).
   * @param options Include the console's objects.
   * @returns Rows, most instances first.
   */
  top(n = Infinity, options: ScopeOptions = {}): ClassStats[] {
    return this.censusOf(options.all).classes
      .filter((c) => c.count > 0 && !isGrouping(c.name))
      .sort((a, b) => b.count - a.count || b.retainedSize - a.retainedSize)
      .slice(0, n)
      .map((c) => ({ ...c }));
  }

  /**
   * Instance count and size per class, with what is newer than a snapshot
   * id, for growth comparisons.
   *
   * @param since The highest node id of an earlier snapshot (0: none).
   * @param options Include the console's objects.
   * @returns One row per class with live instances.
   */
  deltas(since = 0, options: ScopeOptions = {}): ClassDelta[] {
    const census = this.censusOf(options.all);
    const mask = this.#mask(options.all ?? false);
    const { graph } = this;
    const newCount = new Float64Array(census.classes.length);
    const newSize = new Float64Array(census.classes.length);
    if (since > 0) {
      for (let n = 0; n < graph.nodeCount; n++) {
        if (mask[n] !== 1 || graph.nodeId(n) <= since) continue;
        const c = census.classOf[n]!;
        newCount[c] = newCount[c]! + 1;
        newSize[c] = newSize[c]! + graph.selfSize(n);
      }
    }
    const rows: ClassDelta[] = [];
    census.classes.forEach((c, i) => {
      if (c.count > 0 && !isGrouping(c.name)) {
        rows.push({
          name: c.name,
          count: c.count,
          size: c.shallowSize,
          newCount: newCount[i]!,
          newSize: newSize[i]!,
        });
      }
    });
    return rows;
  }

  /**
   * Describes one node.
   *
   * @param node Ordinal.
   * @returns Its id, class, sizes and label.
   */
  info(node: number): NodeInfo {
    const { graph } = this;
    const type = graph.nodeType(node);
    return {
      id: graph.nodeId(node),
      className: this.census.classes[this.census.classOf[node]!]!.name,
      type,
      name: graph.nodeName(node),
      selfSize: graph.selfSize(node),
      retainedSize: this.retained[node]!,
      label: node === 0 ? "(root)" : graph.label(node),
      owner: this.ownerOf(node),
      ...(type === "closure" ? { closure: this.holders.closure(node) } : {}),
    };
  }

  /**
   * Who holds a node.
   *
   * @param node Ordinal.
   * @returns `app`, `session`, `console` or `none`.
   */
  ownerOf(node: number): OwnerName {
    const { reachable, owner } = this.paths;
    if (reachable[node] !== 1) return "none";
    return owner[node] === OWNER_CONSOLE
      ? "console"
      : owner[node] === OWNER_SESSION
      ? "session"
      : "app";
  }

  /**
   * Finds the node to report for a target: a snapshot id, or a class name
   * (then its most recently allocated reachable instance: highest id).
   *
   * @param target Snapshot id or class name.
   * @param options Let a type name pick one of the console's objects.
   * @returns The ordinal, or -1.
   */
  resolve(target: number | string, options: ScopeOptions = {}): number {
    const { graph } = this;
    if (typeof target === "number") return graph.findById(target);
    const { classes, classOf } = this.census;
    const cls = classes.findIndex((c) => c.name === target);
    if (cls < 0) return -1;
    // The service's reachable instances first, then the newest (highest id).
    let best = -1;
    let bestKey = -1;
    const reachable = this.paths.reachable;
    const mask = this.#mask(options.all ?? false);
    for (let n = 0; n < graph.nodeCount; n++) {
      if (classOf[n] !== cls) continue;
      const key = (reachable[n]! + mask[n]!) * 2 ** 32 + graph.nodeId(n);
      if (key > bestKey) {
        best = n;
        bestKey = key;
      }
    }
    return best;
  }

  /**
   * The shortest chain of retaining references from the root to a node
   * (weak edges skipped).
   *
   * @param node Ordinal.
   * @param aliases Look for named references to unnamed hops (one pass
   *   over every edge; default true).
   * @returns The path; `reachable` is false when no strong chain exists.
   */
  path(node: number, aliases = true): RetainingPath {
    const { graph } = this;
    const { edges, start: at } = this.#pathEdges(node);
    const reachable = at === 0;
    const steps: PathStep[] = [];
    steps.push({ edge: "", edgeType: "", node: this.info(at) });
    for (const e of edges) {
      steps.push({
        edge: graph.edgeLabel(e),
        edgeType: graph.edgeType(e),
        node: this.info(graph.edgeTarget(e)),
      });
    }
    if (aliases) {
      this.#nameSteps(steps, [at, ...edges.map((e) => graph.edgeTarget(e))]);
    }
    edges.forEach((e, i) => {
      const holder = this.#hopHolder(e);
      if (holder) steps[i + 1]!.holder = holder;
    });
    return { target: this.info(node), reachable, steps };
  }

  /**
   * The binding a hop names its target by: a module's (exported or not), a
   * closure's variable, or a console session's variable.
   */
  #hopHolder(edge: number): Holder | undefined {
    const { graph } = this;
    const from = graph.edgeSource(edge);
    const named = this.holders.hop(edge, from);
    if (named) return named;
    if (
      this.paths.owner[from] === OWNER_SESSION &&
      this.paths.owner[graph.edgeTarget(edge)] === OWNER_SESSION &&
      graph.edgeType(edge) === "property" &&
      this.ownerOf(this.#parentOf(from)) !== "session"
    ) {
      return { kind: "session", name: String(graph.edgeName(edge)) };
    }
    return undefined;
  }

  #parentOf(node: number): number {
    const e = this.paths.parentEdge[node]!;
    return e === NO_EDGE ? 0 : this.graph.edgeSource(e);
  }

  /**
   * The nearest binding, closure or variable on a node's path from the
   * root, and the hops from it to the node.
   *
   * @param node Ordinal.
   * @returns The holder and the edge labels after it.
   */
  heldBy(node: number): HeldBy {
    const { graph, paths } = this;
    const via: string[] = [];
    let at = node;
    for (let hops = 0; at !== 0 && hops < 100_000; hops++) {
      const e = paths.parentEdge[at]!;
      if (e === NO_EDGE) break;
      const holder = this.#hopHolder(e);
      if (holder) return { holder, via: via.reverse() };
      const from = graph.edgeSource(e);
      via.push(graph.edgeLabel(e));
      if (graph.nodeType(from) === "closure" && from !== node) {
        return { holder: this.holders.closure(from), via: via.reverse() };
      }
      at = from;
    }
    return { via: via.reverse() };
  }

  /** Edges of the BFS path to a node, root first, and the node it starts at. */
  #pathEdges(node: number): { edges: number[]; start: number } {
    const { graph, paths } = this;
    const edges: number[] = [];
    let at = node;
    while (at !== 0 && paths.parentEdge[at] !== NO_EDGE) {
      edges.push(paths.parentEdge[at]!);
      at = graph.edgeSource(paths.parentEdge[at]!);
    }
    return { edges: edges.reverse(), start: at };
  }

  /** Adds an alias to path steps reached through unnamed references. */
  #nameSteps(steps: PathStep[], nodes: number[]): void {
    const wanted: number[] = [];
    steps.forEach((step, i) => {
      const type = step.edgeType;
      if (i > 0 && type !== "property" && type !== "context") {
        wanted.push(nodes[i]!);
      }
    });
    const aliases = this.#aliases(wanted);
    steps.forEach((step, i) => {
      const alias = aliases.get(nodes[i]!);
      if (alias !== undefined && i > 0) step.alias = alias;
    });
  }

  /**
   * A named reference (`.cache`, else `context cache`) from a reachable
   * node to each of `nodes`, for those that have one: one pass over the
   * edges.
   */
  #aliases(nodes: number[]): Map<number, string> {
    const found = new Map<number, string>();
    if (nodes.length === 0) return found;
    const { graph } = this;
    const reachable = this.paths.reachable;
    const property = graph.edgeTypes.indexOf("property");
    const context = graph.edgeTypes.indexOf("context");
    const { edges, firstEdge } = graph;
    const ef = graph.edgeFieldCount;
    const toAt = graph.edgeToOffset;
    const typeAt = graph.edgeTypeOffset;
    const marked = new Uint8Array(graph.nodeCount);
    for (const n of nodes) marked[n] = 1;
    let left = new Set(nodes).size;
    for (let from = 0; from < graph.nodeCount && left > 0; from++) {
      if (reachable[from] !== 1) continue;
      const end = firstEdge[from + 1]!;
      for (let e = firstEdge[from]!; e < end; e++) {
        const to = edges[e * ef + toAt]!;
        if (marked[to] !== 1) continue;
        const type = edges[e * ef + typeAt]!;
        if (type !== property && type !== context) continue;
        const name = graph.edgeName(e);
        if (typeof name !== "string" || name === "" || /^\d+$/.test(name)) {
          continue;
        }
        // A property (`.cache` of the namespace) names it better than a
        // closure's variable (`context map`): keep looking until one shows.
        found.set(to, graph.edgeLabel(e));
        if (type === property) {
          marked[to] = 0;
          left--;
        }
      }
    }
    return found;
  }

  /**
   * Objects that retain the most memory. Grouping nodes (the root, GC root
   * categories) are left out; so are internal nodes that pass almost all
   * (≥ 95%) of their retained size to one dominated child, or that are
   * almost all of a user object's retained size: the memory is shown once,
   * at the object that holds it (the Map, not its scope or its table).
   *
   * @param n How many rows (default 10).
   * @param options Include the console's objects.
   * @returns Rows, largest retained size first.
   */
  largest(n = 10, options: ScopeOptions = {}): LargeObject[] {
    const { graph, retained, dominator } = this;
    const count = graph.nodeCount;
    // Nodes that pass ≥ 95% of their retained size to one dominated child.
    const passThrough = new Uint8Array(count);
    for (let v = 1; v < count; v++) {
      const d = dominator[v]!;
      if (retained[v]! >= retained[d]! * 0.95) passThrough[d] = 1;
    }
    const reachable = this.#mask(options.all ?? false);
    const { classOf } = this.census;
    const grouping = new Uint8Array(graph.nodeTypes.length);
    graph.nodeTypes.forEach((t, i) => {
      if (GROUPING_TYPES.has(t)) grouping[i] = 1;
    });
    // Keep candidates above the n-th largest seen so far: one pass, no
    // per-node sort.
    const picked: number[] = [];
    let floor = -1;
    for (let v = 1; v < count; v++) {
      if (retained[v]! <= floor || reachable[v] !== 1) continue;
      if (grouping[graph.nodeTypeCode(v)] === 1) continue;
      if (this.#userClass[classOf[v]!] !== 1) {
        // Pass-through holders (scopes, generators) and the internal storage
        // of a listed object (a Map's table) would repeat the same memory.
        if (passThrough[v] === 1) continue;
        const d = dominator[v]!;
        if (
          this.#userClass[classOf[d]!] === 1 &&
          retained[v]! >= retained[d]! * 0.95
        ) {
          continue;
        }
      }
      picked.push(v);
      if (picked.length >= n * 8 + 64) {
        picked.sort((a, b) => retained[b]! - retained[a]!);
        picked.length = n;
        floor = retained[picked[n - 1]!]!;
      }
    }
    picked.sort((a, b) => retained[b]! - retained[a]!);
    const chosen = picked.slice(0, n);
    const aliases = this.#aliases(chosen);
    return chosen.map((v) => {
      const path = this.pathText(v);
      const alias = aliases.get(v);
      // The path's last hop may be unnamed (`{value}` of a module's export
      // cell): say which named reference also holds the object.
      return {
        ...this.info(v),
        path: alias === undefined || path.endsWith(alias)
          ? path
          : `${path} (also ${alias})`,
        ...this.heldBy(v),
      };
    });
  }

  /**
   * Retained size by kind of object: constructor name, or the function for
   * closures (all closures of one function are one kind), nested instances
   * of a kind counted once; like DevTools' Summary view.
   *
   * @param n How many rows (default 10).
   * @param options Include the console's objects.
   * @returns Rows, largest retained size first.
   */
  largestGroups(n = 10, options: ScopeOptions = {}): LargeGroup[] {
    const { graph } = this;
    const census = this.censusOf(options.all);
    const mask = this.#mask(options.all ?? false);
    const groupOf = new Uint32Array(graph.nodeCount);
    const kinds: { kind: string; closure?: Holder }[] = census.classes.map((
      c,
    ) => ({ kind: c.name }));
    const byFunction = new Map<string, number>();
    const closureCode = graph.nodeTypes.indexOf("closure");
    for (let v = 0; v < graph.nodeCount; v++) {
      groupOf[v] = census.classOf[v]!;
      if (mask[v] !== 1 || graph.nodeTypeCode(v) !== closureCode) continue;
      const fn = this.holders.closure(v);
      const key = `${fn.name}\0${fn.url ?? ""}\0${fn.line ?? ""}\0${
        fn.column ?? ""
      }`;
      let g = byFunction.get(key);
      if (g === undefined) {
        g = kinds.length;
        kinds.push({ kind: "(closure)", closure: fn });
        byFunction.set(key, g);
      }
      groupOf[v] = g;
    }
    const scratch = new Scratch(graph.nodeCount);
    const totals = retainedByClass(
      groupOf,
      kinds.length,
      this.dominator,
      this.retained,
      mask,
      scratch,
    );
    scratch.dispose();
    const counts = new Float64Array(kinds.length);
    const example = new Int32Array(kinds.length).fill(-1);
    for (let v = 1; v < graph.nodeCount; v++) {
      if (mask[v] !== 1) continue;
      const g = groupOf[v]!;
      counts[g] = counts[g]! + 1;
      const e = example[g]!;
      if (e < 0 || this.retained[v]! > this.retained[e]!) example[g] = v;
    }
    const rows: LargeGroup[] = [];
    kinds.forEach((k, g) => {
      if (counts[g] === 0 || isGrouping(k.kind)) return;
      rows.push({
        kind: k.kind,
        ...(k.closure ? { closure: k.closure } : {}),
        count: counts[g]!,
        retainedSize: totals[g]!,
        exampleId: graph.nodeId(example[g]!),
      });
    });
    rows.sort((a, b) => b.retainedSize - a.retainedSize);
    return rows.slice(0, n);
  }

  /**
   * Objects allocated after a baseline snapshot (node id above `since`) and
   * alive now, grouped by their nearest named holder and the path from it,
   * largest retained size first. An object counts when no other new object
   * holds it on its path (a user, not its strings; the promise chain's
   * head, not each link), so each group's size is what freeing it would
   * return.
   *
   * @param since The baseline snapshot's highest node id.
   * @param n How many groups (default 10).
   * @param options Include the console's objects; an upper id bound.
   * @returns The groups.
   */
  leaks(since: number, n = 10, options: LeakOptions = {}): LeakGroup[] {
    return findLeaks(this, since, n, options.all ?? false, options.until);
  }

  /**
   * A path as one line of edge labels, e.g. `(GC roots) → ... → context cache`.
   *
   * @param node Ordinal.
   * @returns The text.
   */
  pathText(node: number): string {
    const { edges, start } = this.#pathEdges(node);
    if (start !== 0) return "(held only by weak references)";
    const hops = edges.map((e) => this.graph.edgeLabel(e));
    const shown = hops.length > 6
      ? [...hops.slice(0, 2), "…", ...hops.slice(-3)]
      : hops;
    return shown.join(" → ");
  }

  /**
   * The retainers around a node: every retainer up to `depth` hops back
   * (weak edges skipped, the console's left out unless `all`), plus the
   * shortest path from the root, marked `onPath`. `renderDot` draws it.
   *
   * @param node Ordinal.
   * @param options Depth and size limits.
   * @returns Nodes and edges.
   */
  retainerGraph(
    node: number,
    options: RetainerGraphOptions = {},
  ): RetainerGraph {
    const depth = options.depth ?? 4;
    const maxNodes = options.maxNodes ?? 40;
    const { graph } = this;
    const reachable = this.paths.reachable;
    const shown = this.#mask(options.all ?? false);
    const included = new Map<number, number>([[node, 0]]);
    const drawn: Array<[number, number]> = [];
    const seen = new Set<number>();
    // Reverse edges are not kept after the analysis: one scan of all edges
    // per level finds the retainers of that level's nodes.
    let level = [node];
    for (let hop = 1; hop <= depth && level.length > 0; hop++) {
      const targets = new Set(level);
      const next: number[] = [];
      for (let from = 0; from < graph.nodeCount; from++) {
        const end = graph.firstEdge[from + 1]!;
        for (let e = graph.firstEdge[from]!; e < end; e++) {
          const to = graph.edgeTarget(e);
          if (!targets.has(to)) continue;
          if (
            !isEssentialEdge(graph, reachable, from, graph.edgeTypeCode(e), to)
          ) {
            continue;
          }
          if (!included.has(from)) {
            if (included.size >= maxNodes || shown[from] !== 1) continue;
            included.set(from, hop);
            next.push(from);
          }
          seen.add(e);
          drawn.push([e, from]);
        }
      }
      level = next;
    }
    const bold = new Set<number>();
    const path = this.paths;
    for (let at = node; at !== 0 && path.parentEdge[at] !== NO_EDGE;) {
      const e = path.parentEdge[at]!;
      const from = graph.edgeSource(e);
      bold.add(e);
      if (!included.has(from)) included.set(from, -1);
      if (!seen.has(e)) {
        seen.add(e);
        drawn.push([e, from]);
      }
      at = from;
    }
    const holders = new Map<number, Holder>();
    for (const [e] of drawn) {
      const to = graph.edgeTarget(e);
      if (holders.has(to)) continue;
      const holder = this.#hopHolder(e);
      if (holder) holders.set(to, holder);
    }
    const nodes: GraphNode[] = [...included.keys()].map((n) => {
      const holder = holders.get(n);
      return {
        info: this.info(n),
        ...(holder ? { holder } : {}),
        role: n === node ? "target" : n === 0 ? "root" : "retainer",
      };
    });
    const edges: GraphEdge[] = [];
    for (const [e, from] of drawn) {
      const to = graph.edgeTarget(e);
      if (!included.has(to) || !included.has(from)) continue;
      edges.push({
        from: graph.nodeId(from),
        to: graph.nodeId(to),
        label: graph.edgeLabel(e),
        onPath: bold.has(e),
      });
    }
    return { target: this.info(node), nodes, edges };
  }
}

/** Classes of JS-visible objects (not V8 internals, strings, arrays...). */
function isUserClassName(name: string): boolean {
  return name !== "" && !name.startsWith("(") && !name.startsWith("system /");
}

function isGrouping(name: string): boolean {
  return name === "(synthetic)";
}
