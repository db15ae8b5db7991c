/**
 * Shortest retaining paths: a breadth-first search from the root that
 * follows only edges that keep their target alive (no weak edges).
 *
 * @module
 */

import type { HeapGraph } from "./graph.ts";
import { isEssentialEdge } from "./retainers.ts";
import type { Scratch } from "./scratch.ts";

/** Marks "no parent" in {@link ShortestPaths.parentEdge}. */
export const NO_EDGE = 0xffffffff;

/** The BFS tree from the root. */
export interface ShortestPaths {
  /** 1 for nodes the root reaches through retaining edges. */
  reachable: Uint8Array;
  /** Edge through which each node was first reached, or {@link NO_EDGE}. */
  parentEdge: Uint32Array;
}

/**
 * Runs the BFS. Weak edges never count; shortcut edges count only from the
 * root (V8 adds them for convenience, the GC does not follow them).
 *
 * @param graph The graph.
 * @param scratch Pool for the queue.
 * @param retainerCounts Optional zeroed array that receives, per node, the
 *   number of retaining edges from reachable nodes.
 * @returns The BFS tree.
 */
export function shortestPaths(
  graph: HeapGraph,
  scratch: Scratch,
  retainerCounts?: Uint32Array,
): ShortestPaths {
  const count = graph.nodeCount;
  const reachable = new Uint8Array(count);
  const parentEdge = new Uint32Array(count).fill(NO_EDGE);
  if (count === 0) return { reachable, parentEdge };
  // Counting strong retainers here saves `buildRetainers` a pass over every
  // edge of live nodes (it still counts those of unreachable ones).
  const counts = retainerCounts ?? new Uint32Array(0);
  const counting = retainerCounts !== undefined;
  const queue = scratch.take();
  const { firstEdge, edges } = graph;
  const ef = graph.edgeFieldCount;
  const typeAt = graph.edgeTypeOffset;
  const toAt = graph.edgeToOffset;
  let head = 0;
  let tail = 0;
  queue[tail++] = 0;
  reachable[0] = 1;
  while (head < tail) {
    const from = queue[head++]!;
    const end = firstEdge[from + 1]!;
    for (let e = firstEdge[from]!, f = e * ef; e < end; e++, f += ef) {
      const to = edges[f + toAt]!;
      if (!isEssentialEdge(graph, reachable, from, edges[f + typeAt]!, to)) {
        continue;
      }
      if (counting) counts[to] = counts[to]! + 1;
      if (reachable[to] === 1) continue;
      reachable[to] = 1;
      parentEdge[to] = e;
      queue[tail++] = to;
    }
  }
  scratch.give(queue);
  return { reachable, parentEdge };
}
