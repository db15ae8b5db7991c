/**
 * A fully analysed heap snapshot and the queries the toolkit asks of it:
 * census, shortest retaining path, largest retainers, retainer graph.
 *
 * @module
 */

import { type Census, type ClassStats, takeCensus } from "./census.ts";
import { computeDominators } from "./dominators.ts";
import { HeapGraph } from "./graph.ts";
import type { RawSnapshot } from "./parser.ts";
import {
  NO_EDGE,
  type ShortestPaths,
  shortestPaths,
} from "./shortest_paths.ts";
import { buildRetainers, isEssentialEdge } from "./retainers.ts";
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
}

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
}

/** Options for {@link HeapAnalysis.retainerGraph}. */
export interface RetainerGraphOptions {
  /** How many retainer hops to follow back from the target (default 4). */
  depth?: number;
  /** At most this many nodes (default 40). */
  maxNodes?: number;
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
  /** The graph. */
  readonly graph: HeapGraph;
  /** BFS tree from the root. */
  readonly paths: ShortestPaths;
  /** Immediate dominator of each node. */
  readonly dominator: Uint32Array;
  /** Retained size of each node. */
  readonly retained: Float64Array;
  /** Census by class. */
  readonly census: Census;

  /**
   * Runs every analysis phase.
   *
   * @param graph The graph.
   * @param progress Called after each phase.
   */
  constructor(graph: HeapGraph, progress: ProgressFn = () => {}) {
    const total = 4;
    const scratch = new Scratch(graph.nodeCount);
    this.graph = graph;
    const firstRetainer = scratch.takeZeroed();
    this.paths = shortestPaths(graph, scratch, firstRetainer);
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
      reachable,
      scratch,
    );
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
  static from(raw: RawSnapshot, progress?: ProgressFn): HeapAnalysis {
    return new HeapAnalysis(new HeapGraph(raw), progress);
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
    const reachable = this.paths.reachable;
    for (let n = 0; n < graph.nodeCount; n++) {
      if (reachable[n] === 1) {
        reachableCount++;
        reachableSize += graph.selfSize(n);
      }
    }
    return {
      nodeCount: graph.nodeCount,
      edgeCount: graph.edgeCount,
      reachableCount,
      totalSize: graph.nodeCount > 0 ? this.retained[0]! : 0,
      reachableSize,
      textLength: graph.textLength,
    };
  }

  /**
   * The most common classes by instance count.
   *
   * @param n How many rows (default all).
   * @returns Rows, most instances first.
   */
  top(n = Infinity): ClassStats[] {
    return this.census.classes
      .filter((c) => c.count > 0 && !isGrouping(c.name))
      .sort((a, b) => b.count - a.count || b.retainedSize - a.retainedSize)
      .slice(0, n)
      .map((c) => ({ ...c }));
  }

  /**
   * Instance count per class name, for growth comparisons.
   *
   * @returns Instance count per class name, for growth comparisons.
   */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.census.classes) {
      if (c.count > 0 && !isGrouping(c.name)) out[c.name] = c.count;
    }
    return out;
  }

  /**
   * Describes one node.
   *
   * @param node Ordinal.
   * @returns Its id, class, sizes and label.
   */
  info(node: number): NodeInfo {
    const { graph } = this;
    return {
      id: graph.nodeId(node),
      className: this.census.classes[this.census.classOf[node]!]!.name,
      type: graph.nodeType(node),
      name: graph.nodeName(node),
      selfSize: graph.selfSize(node),
      retainedSize: this.retained[node]!,
      label: node === 0 ? "(root)" : graph.label(node),
    };
  }

  /**
   * Finds the node to report for a target: a snapshot id, or a class name
   * (then its most recently allocated reachable instance: highest id).
   *
   * @param target Snapshot id or class name.
   * @returns The ordinal, or -1.
   */
  resolve(target: number | string): number {
    const { graph } = this;
    if (typeof target === "number") return graph.findById(target);
    const { classes, classOf } = this.census;
    const cls = classes.findIndex((c) => c.name === target);
    if (cls < 0) return -1;
    // Reachable instances first, then the newest (highest id).
    let best = -1;
    let bestKey = -1;
    const reachable = this.paths.reachable;
    for (let n = 0; n < graph.nodeCount; n++) {
      if (classOf[n] !== cls) continue;
      const key = reachable[n]! * 2 ** 32 + graph.nodeId(n);
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
   * @returns The path; `reachable` is false when no strong chain exists.
   */
  path(node: number): RetainingPath {
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
    this.#nameSteps(steps, [at, ...edges.map((e) => graph.edgeTarget(e))]);
    return { target: this.info(node), reachable, steps };
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
   * @returns Rows, largest retained size first.
   */
  largest(n = 10): LargeObject[] {
    const { graph, retained, dominator } = this;
    const count = graph.nodeCount;
    // Nodes that pass ≥ 95% of their retained size to one dominated child.
    const passThrough = new Uint8Array(count);
    for (let v = 1; v < count; v++) {
      const d = dominator[v]!;
      if (retained[v]! >= retained[d]! * 0.95) passThrough[d] = 1;
    }
    const reachable = this.paths.reachable;
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
      };
    });
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
   * The retainers around a node as Graphviz DOT: every retainer up to
   * `depth` hops back (weak edges skipped), plus the shortest path from the
   * root drawn in bold.
   *
   * @param node Ordinal.
   * @param options Depth and size limits.
   * @returns DOT source.
   */
  retainerGraph(node: number, options: RetainerGraphOptions = {}): string {
    const depth = options.depth ?? 4;
    const maxNodes = options.maxNodes ?? 40;
    const { graph } = this;
    const reachable = this.paths.reachable;
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
            if (included.size >= maxNodes) continue;
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
    return renderDot(this, node, included, drawn, bold);
  }
}

/** Classes of JS-visible objects (not V8 internals, strings, arrays...). */
function isUserClassName(name: string): boolean {
  return name !== "" && !name.startsWith("(") && !name.startsWith("system /");
}

function isGrouping(name: string): boolean {
  return name === "(synthetic)";
}

function renderDot(
  analysis: HeapAnalysis,
  target: number,
  nodes: Map<number, number>,
  edges: Array<[number, number]>,
  bold: Set<number>,
): string {
  const { graph } = analysis;
  const lines = [
    "digraph retainers {",
    "  rankdir=BT;",
    '  node [shape=box, style="rounded,filled", fillcolor="#f5f5f5", fontname="Helvetica", fontsize=10];',
    '  edge [fontname="Helvetica", fontsize=9, color="#777777"];',
  ];
  for (const n of nodes.keys()) {
    const info = analysis.info(n);
    const label = [
      dotEscape(info.label),
      dotEscape(
        `${formatSize(info.selfSize)} self, ${
          formatSize(info.retainedSize)
        } retained`,
      ),
    ].join("\\n");
    const color = n === target
      ? ', fillcolor="#ffd7d7", penwidth=2'
      : n === 0
      ? ', fillcolor="#d7e8ff"'
      : "";
    lines.push(`  n${n} [label="${label}"${color}];`);
  }
  for (const [e, from] of edges) {
    const to = graph.edgeTarget(e);
    if (!nodes.has(to) || !nodes.has(from)) continue;
    const style = bold.has(e) ? ', penwidth=2.5, color="#c0392b"' : "";
    lines.push(
      `  n${from} -> n${to} [label="${
        dotEscape(graph.edgeLabel(e))
      }"${style}];`,
    );
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

function dotEscape(text: string): string {
  return text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\n\r]/g, " ");
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
