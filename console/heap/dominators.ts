/**
 * Dominator tree and retained sizes of a heap graph: semidominators by
 * Lengauer-Tarjan (iterative DFS, path compression), immediate dominators by
 * Semi-NCA (no buckets: fewer arrays than the classic second half), over
 * typed arrays.
 *
 * @module
 */

import type { HeapGraph } from "./graph.ts";
import type { Retainers } from "./retainers.ts";
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
  const count = graph.nodeCount;
  const { firstEdge, edges, weakEdge, shortcutEdge } = graph;
  const { firstRetainer, retainerNode } = retainers;
  const ef = graph.edgeFieldCount;
  const typeAt = graph.edgeTypeOffset;
  const toAt = graph.edgeToOffset;
  // Vertices are ordinal + 1 so that 0 can mean "none".
  // `semi` holds each vertex's DFS number (0: unvisited) until the semi pass
  // overwrites it; the numbers are rebuilt into `ancestor` afterwards.
  const semi = scratch.takeZeroed();
  const vertex = scratch.take();
  const parent = scratch.take();
  const ancestor = scratch.takeZeroed();
  const label = scratch.take();
  const cursor = scratch.take();
  // Vertices hung under the root through a virtual edge (usually few).
  const virtualChild = new Set<number>();
  let n = 0;

  const dfs = (start: number): void => {
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
      const live = from === 0 || reachable[from] === 1;
      const end = firstEdge[from + 1]!;
      let e = cursor[v]!;
      for (let f = e * ef; e < end; e++, f += ef) {
        const to = edges[f + toAt]!;
        if (semi[to + 1] !== 0 || to === from) continue;
        const type = edges[f + typeAt]!;
        if (type === weakEdge) continue;
        if (
          from !== 0 &&
          (type === shortcutEdge || (!live && reachable[to] === 1))
        ) {
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
  };

  const root = 1;
  if (count > 0) {
    parent[root] = 0;
    dfs(root);
  }
  if (n < count) {
    // Held only weakly (no strong retainer at all) first, then whatever
    // garbage is left; each hangs under the root through a virtual edge.
    for (let pass = 0; pass < 2; pass++) {
      for (let v = 2; v <= count; v++) {
        if (semi[v] !== 0) continue;
        if (pass === 0 && firstRetainer[v]! !== firstRetainer[v - 1]!) continue;
        parent[v] = root;
        virtualChild.add(v);
        dfs(v);
      }
    }
  }

  // Semidominators, in decreasing DFS order, with path compression. The DFS
  // cursor is free now and serves as the compression stack.
  const stack = cursor;
  for (let i = n; i >= 2; i--) {
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

  free(retainerNode);
  free(firstRetainer);

  // Semi-NCA: the immediate dominator is the nearest ancestor (in the
  // dominator tree built so far) of the DFS parent numbered at most semi.
  // `parent` becomes the dominator array in place.
  const num = ancestor;
  for (let i = 1; i <= n; i++) num[vertex[i]!] = i;
  for (let i = 2; i <= n; i++) {
    const w = vertex[i]!;
    const sd = semi[w]!;
    let d = parent[w]!;
    while (num[d]! > sd) d = parent[d]!;
    parent[w] = d;
  }
  parent[root] = root;
  for (const a of [semi, ancestor, label, cursor]) free(a);

  const retained = new Float64Array(count);
  const nodes = graph.nodes;
  const nf = graph.nodeFieldCount;
  const sizeAt = graph.sizeOffset;
  for (let o = 0; o < count; o++) retained[o] = nodes[o * nf + sizeAt]!;
  // Reverse DFS order reaches every node before its dominator.
  for (let i = n; i >= 2; i--) {
    const w = vertex[i]!;
    const d = parent[w]! - 1;
    retained[d] = retained[d]! + retained[w - 1]!;
  }
  // Shift to ordinals in place: entry o reads o + 1, already past.
  for (let o = 0; o < count; o++) parent[o] = parent[o + 1]! - 1;
  scratch.give(vertex);
  return { dominator: parent.subarray(0, count), retained };
}
