/**
 * Reverse edges of a heap graph, keeping only edges that retain: for each
 * node, the nodes that keep it alive.
 *
 * @module
 */

import type { HeapGraph } from "./graph.ts";

/** Strong reverse adjacency in CSR form (node ordinals only). */
export interface Retainers {
  /** Index into `retainerNode` of each node's first retainer; length nodeCount + 1. */
  firstRetainer: Uint32Array;
  /** Ordinal of each retaining node. */
  retainerNode: Uint32Array;
}

/**
 * Tells whether the edge `from → to` of a given type keeps `to` alive: weak
 * edges, shortcut edges (except from the root), self edges and edges from
 * unreachable garbage into live objects do not. Dominators use this rule in
 * both directions, so the forward DFS and the backward scan always agree.
 *
 * @param graph The graph (for its edge type codes).
 * @param reachable 1 for nodes the root reaches through retaining edges.
 * @param from Source node.
 * @param type Edge type code.
 * @param to Target node.
 * @returns Whether the edge retains.
 */
export function isRetaining(
  graph: HeapGraph,
  reachable: Uint8Array,
  from: number,
  type: number,
  to: number,
): boolean {
  if (from === to || type === graph.weakEdge) return false;
  if (from === 0) return true;
  if (type === graph.shortcutEdge) return false;
  return reachable[from] === 1 || reachable[to] === 0;
}

/**
 * Builds the strong reverse edges.
 *
 * @param graph The graph.
 * @param reachable 1 for nodes the root reaches through retaining edges.
 * @param firstRetainer nodeCount + 1 elements: zeros, or the counts of
 *   retaining edges from reachable nodes when `counted` (see `shortestPaths`).
 * @param counted Whether those counts are already in `firstRetainer`.
 * @returns Retainers of every node.
 */
export function buildRetainers(
  graph: HeapGraph,
  reachable: Uint8Array,
  firstRetainer: Uint32Array,
  counted = false,
): Retainers {
  const { nodeCount, firstEdge, edges, weakEdge, shortcutEdge } = graph;
  const ef = graph.edgeFieldCount;
  const typeAt = graph.edgeTypeOffset;
  const toAt = graph.edgeToOffset;
  for (let from = 0; from < nodeCount; from++) {
    const end = firstEdge[from + 1]!;
    const live = from === 0 || reachable[from] === 1;
    if (counted && live) continue;
    for (let f = firstEdge[from]! * ef; f < end * ef; f += ef) {
      const to = edges[f + toAt]!;
      const type = edges[f + typeAt]!;
      if (to === from || type === weakEdge) continue;
      if (
        from !== 0 && (type === shortcutEdge || (!live && reachable[to] === 1))
      ) {
        continue;
      }
      firstRetainer[to] = firstRetainer[to]! + 1;
    }
  }
  // Counts become end offsets, then filling backwards makes them starts.
  let sum = 0;
  for (let n = 0; n < nodeCount; n++) {
    sum += firstRetainer[n]!;
    firstRetainer[n] = sum;
  }
  const kept = sum;
  firstRetainer[nodeCount] = kept;
  const retainerNode = new Uint32Array(kept);
  for (let from = 0; from < nodeCount; from++) {
    const end = firstEdge[from + 1]!;
    const live = from === 0 || reachable[from] === 1;
    for (let f = firstEdge[from]! * ef; f < end * ef; f += ef) {
      const to = edges[f + toAt]!;
      const type = edges[f + typeAt]!;
      if (to === from || type === weakEdge) continue;
      if (
        from !== 0 && (type === shortcutEdge || (!live && reachable[to] === 1))
      ) {
        continue;
      }
      const slot = firstRetainer[to]! - 1;
      firstRetainer[to] = slot;
      retainerNode[slot] = from;
    }
  }
  return { firstRetainer, retainerNode };
}
