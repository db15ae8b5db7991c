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
 * The one rule of what keeps an object alive, as memlab's `isEssentialEdge`:
 * the edge `from → to` of a given type retains `to` unless it is weak, a
 * shortcut (except from the root: V8 adds those for convenience, the GC does
 * not follow them), a self edge, or an edge from unreachable garbage into a
 * live object. The BFS, the reverse edges, the dominator DFS and the
 * retainer graph all call it, so the passes cannot drift apart.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isEssentialEdge } from "./retainers.ts";
 * const codes = { weakEdge: 6, shortcutEdge: 5 };
 * const reachable = Uint8Array.of(1, 1, 0);
 * assert.equal(isEssentialEdge(codes, reachable, 1, 2, 0), true);
 * assert.equal(isEssentialEdge(codes, reachable, 1, 6, 0), false, "weak");
 * assert.equal(isEssentialEdge(codes, reachable, 0, 5, 1), true, "root shortcut");
 * assert.equal(isEssentialEdge(codes, reachable, 2, 2, 1), false, "garbage");
 * ```
 *
 * @param codes The graph's weak and shortcut edge type codes.
 * @param reachable 1 for nodes the root reaches through retaining edges
 *   (during the BFS: the nodes reached so far, which include every `from`).
 * @param from Source node.
 * @param type Edge type code.
 * @param to Target node.
 * @returns Whether the edge retains.
 */
export function isEssentialEdge(
  codes: EdgeCodes,
  reachable: Uint8Array,
  from: number,
  type: number,
  to: number,
): boolean {
  if (from === to || type === codes.weakEdge) return false;
  if (from === 0) return true;
  if (type === codes.shortcutEdge) return false;
  return reachable[from] === 1 || reachable[to] !== 1;
}

/** The edge type codes {@link isEssentialEdge} needs (a `HeapGraph` has them). */
export interface EdgeCodes {
  /** Code of the `weak` edge type (-1 if absent). */
  readonly weakEdge: number;
  /** Code of the `shortcut` edge type (-1 if absent). */
  readonly shortcutEdge: number;
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
  const { nodeCount, firstEdge, edges } = graph;
  const ef = graph.edgeFieldCount;
  const typeAt = graph.edgeTypeOffset;
  const toAt = graph.edgeToOffset;
  for (let from = 0; from < nodeCount; from++) {
    const end = firstEdge[from + 1]!;
    const live = from === 0 || reachable[from] === 1;
    if (counted && live) continue;
    for (let f = firstEdge[from]! * ef; f < end * ef; f += ef) {
      const to = edges[f + toAt]!;
      if (!isEssentialEdge(graph, reachable, from, edges[f + typeAt]!, to)) {
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
    for (let f = firstEdge[from]! * ef; f < end * ef; f += ef) {
      const to = edges[f + toAt]!;
      if (!isEssentialEdge(graph, reachable, from, edges[f + typeAt]!, to)) {
        continue;
      }
      const slot = firstRetainer[to]! - 1;
      firstRetainer[to] = slot;
      retainerNode[slot] = from;
    }
  }
  return { firstRetainer, retainerNode };
}
