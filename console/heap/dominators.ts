/**
 * Dominator tree and retained sizes of a heap graph: semidominators by
 * Lengauer-Tarjan (iterative DFS, path compression), immediate dominators by
 * Semi-NCA (no buckets: fewer arrays than the classic second half), over
 * typed arrays.
 *
 * @module
 */

import type { HeapGraph } from "./graph.ts";
import { isEssentialEdge, type Retainers } from "./retainers.ts";
import { free, type Scratch } from "./scratch.ts";

/** The dominator tree of a heap graph. */
export interface Dominators {
  /** Immediate dominator ordinal of each node; the root's is itself. */
  dominator: Uint32Array;
  /** Retained size of each node: its own plus everything it dominates. */
  retained: Float64Array;
}

/**
 * Computes immediate dominators and retained sizes. Node 0 is the root.
 * Nodes the root cannot reach hang under the root (those held only weakly
 * first, like DevTools and memlab do), so `retained[0]` is the total of all
 * self sizes and weakly held objects count towards nobody else.
 *
 * @param graph The graph.
 * @param retainers Strong reverse edges (see `buildRetainers`); freed once
 *   used, since they are the largest array of the phase.
 * @param reachable 1 for nodes the root reaches through retaining edges.
 * @param scratch Pool of node-sized arrays.
 * @returns The dominator of each node and its retained size.
 */
export function computeDominators(
  graph: HeapGraph,
  retainers: Retainers,
  reachable: Uint8Array,
  scratch: Scratch,
): Dominators {
  const order = numberDepthFirst(graph, retainers, reachable, scratch);
  computeSemidominators(retainers, order);
  free(retainers.retainerNode);
  free(retainers.firstRetainer);
  const dominator = immediateDominators(order);
  const retained = retainedSizes(graph, order, dominator);
  // Shift to ordinals in place: entry o reads o + 1, already past.
  const count = graph.nodeCount;
  for (let o = 0; o < count; o++) dominator[o] = dominator[o + 1]! - 1;
  scratch.give(order.vertex);
  return { dominator: dominator.subarray(0, count), retained };
}

/**
 * The DFS numbering the dominator passes share. Vertices are ordinal + 1,
 * so that 0 can mean "none".
 */
interface DfsOrder {
  /** Vertices numbered (reached by the DFS, virtual edges included). */
  n: number;
  /** DFS number of each vertex (0: unvisited); later its semidominator's. */
  semi: Uint32Array;
  /** Vertex of each DFS number. */
  vertex: Uint32Array;
  /** DFS tree parent of each vertex; becomes the dominator. */
  parent: Uint32Array;
  /** Vertices hung under the root through a virtual edge (usually few). */
  virtualChild: Set<number>;
  /** Free for later passes: zeroed forest links. */
  ancestor: Uint32Array;
  /** Free for later passes: eval labels. */
  label: Uint32Array;
  /** The DFS edge cursor; later the path-compression stack. */
  cursor: Uint32Array;
}

const ROOT = 1;

/**
 * Numbers vertices depth first from the root over retaining edges, then
 * from each node left unvisited: those held only weakly (no strong retainer
 * at all) first, then whatever garbage is left, each hung under the root.
 */
function numberDepthFirst(
  graph: HeapGraph,
  retainers: Retainers,
  reachable: Uint8Array,
  scratch: Scratch,
): DfsOrder {
  const count = graph.nodeCount;
  const { firstRetainer } = retainers;
  const order: DfsOrder = {
    n: 0,
    semi: scratch.takeZeroed(),
    vertex: scratch.take(),
    parent: scratch.take(),
    ancestor: scratch.takeZeroed(),
    label: scratch.take(),
    cursor: scratch.take(),
    virtualChild: new Set<number>(),
  };
  if (count === 0) return order;
  order.parent[ROOT] = 0;
  depthFirst(graph, reachable, order, ROOT);
  if (order.n < count) {
    for (let pass = 0; pass < 2; pass++) {
      for (let v = 2; v <= count; v++) {
        if (order.semi[v] !== 0) continue;
        if (pass === 0 && firstRetainer[v]! !== firstRetainer[v - 1]!) continue;
        order.parent[v] = ROOT;
        order.virtualChild.add(v);
        depthFirst(graph, reachable, order, v);
      }
    }
  }
  return order;
}

/** One iterative DFS from `start`, numbering what it reaches. */
function depthFirst(
  graph: HeapGraph,
  reachable: Uint8Array,
  order: DfsOrder,
  start: number,
): void {
  const { firstEdge, edges } = graph;
  const ef = graph.edgeFieldCount;
  const typeAt = graph.edgeTypeOffset;
  const toAt = graph.edgeToOffset;
  const { semi, vertex, parent, label, cursor } = order;
  let n = order.n;
  cursor[start] = firstEdge[start - 1]!;
  let v = start;
  while (v !== 0) {
    if (semi[v] === 0) {
      semi[v] = ++n;
      vertex[n] = v;
      label[v] = v;
    }
    let next = parent[v]!;
    const from = v - 1;
    const end = firstEdge[from + 1]!;
    let e = cursor[v]!;
    for (let f = e * ef; e < end; e++, f += ef) {
      const to = edges[f + toAt]!;
      if (semi[to + 1] !== 0) continue;
      if (!isEssentialEdge(graph, reachable, from, edges[f + typeAt]!, to)) {
        continue;
      }
      const w = to + 1;
      parent[w] = v;
      cursor[w] = firstEdge[to]!;
      next = w;
      e++;
      break;
    }
    cursor[v] = e;
    v = next;
  }
  order.n = n;
}

/**
 * Semidominators, in decreasing DFS order, with path compression
 * (Lengauer-Tarjan's first half). The DFS cursor serves as the compression
 * stack.
 */
function computeSemidominators(
  retainers: Retainers,
  order: DfsOrder,
): void {
  const { firstRetainer, retainerNode } = retainers;
  const { semi, vertex, parent, ancestor, label, virtualChild } = order;
  const stack = order.cursor;
  for (let i = order.n; i >= 2; i--) {
    const w = vertex[i]!;
    const to = w - 1;
    let best = virtualChild.has(w) ? 1 : semi[w]!;
    const start = firstRetainer[to]!;
    const end = firstRetainer[to + 1]!;
    if (start === end) best = 1;
    for (let r = start; r < end; r++) {
      let v = retainerNode[r]! + 1;
      if (ancestor[v] !== 0) {
        // eval(v): compress the path to the forest root, keep the minimum.
        let top = 0;
        let x = v;
        while (ancestor[ancestor[x]!] !== 0) {
          stack[top++] = x;
          x = ancestor[x]!;
        }
        while (top > 0) {
          const y = stack[--top]!;
          const a = ancestor[y]!;
          if (semi[label[a]!]! < semi[label[y]!]!) label[y] = label[a]!;
          ancestor[y] = ancestor[a]!;
        }
        v = label[v]!;
      }
      if (semi[v]! < best) best = semi[v]!;
    }
    semi[w] = best;
    ancestor[w] = parent[w]!;
  }
}

/**
 * Semi-NCA: the immediate dominator is the nearest ancestor (in the
 * dominator tree built so far) of the DFS parent numbered at most semi.
 * `parent` becomes the dominator array (of vertices) in place; the other
 * work arrays are freed.
 */
function immediateDominators(order: DfsOrder): Uint32Array {
  const { semi, vertex, parent, n } = order;
  const num = order.ancestor;
  for (let i = 1; i <= n; i++) num[vertex[i]!] = i;
  for (let i = 2; i <= n; i++) {
    const w = vertex[i]!;
    const sd = semi[w]!;
    let d = parent[w]!;
    while (num[d]! > sd) d = parent[d]!;
    parent[w] = d;
  }
  parent[ROOT] = ROOT;
  for (const a of [semi, order.ancestor, order.label, order.cursor]) free(a);
  return parent;
}

/** Retained sizes: reverse DFS order reaches every node before its dominator. */
function retainedSizes(
  graph: HeapGraph,
  order: DfsOrder,
  dominator: Uint32Array,
): Float64Array {
  const count = graph.nodeCount;
  const retained = new Float64Array(count);
  const nodes = graph.nodes;
  const nf = graph.nodeFieldCount;
  const sizeAt = graph.sizeOffset;
  for (let o = 0; o < count; o++) retained[o] = nodes[o * nf + sizeAt]!;
  const { vertex } = order;
  for (let i = order.n; i >= 2; i--) {
    const w = vertex[i]!;
    const d = dominator[w]! - 1;
    retained[d] = retained[d]! + retained[w - 1]!;
  }
  return retained;
}
