/**
 * Shortest retaining paths: a breadth-first search from the root that
 * follows only edges that keep their target alive (no weak edges), that
 * enters the roots of the moment of capture (handles and stack frames) only
 * after the program's own roots, and that reaches the console's part of the
 * heap last, so that what the service holds is found through the service.
 *
 * @module
 */

import type { HeapGraph } from "./graph.ts";
import { isEssentialEdge } from "./retainers.ts";
import type { Scratch } from "./scratch.ts";

/** Marks "no parent" in {@link ShortestPaths.parentEdge}. */
export const NO_EDGE = 0xffffffff;

/**
 * GC root categories that hold what was in use while the snapshot was
 * taken: the frames on the stack (Node's `writeHeapSnapshot()` called from a
 * module's code), handles and identity maps of the code that asked (Chrome
 * lists a page's script variables there after DevTools talked to the page).
 * A path through them names no variable of the program, so they are
 * entered last.
 */
const MOMENT_ROOTS = new Set([
  "(Handle scope)",
  "(Stack roots)",
  "(Identity map)",
]);

/** {@link ShortestPaths.owner}: not reachable. */
export const OWNER_NONE = 0;
/** {@link ShortestPaths.owner}: held by the service (the program itself). */
export const OWNER_APP = 1;
/** {@link ShortestPaths.owner}: held only through a console session's variables. */
export const OWNER_SESSION = 2;
/** {@link ShortestPaths.owner}: held only by the console. */
export const OWNER_CONSOLE = 3;

/** The BFS tree from the root. */
export interface ShortestPaths {
  /** 1 for nodes the root reaches through retaining edges. */
  reachable: Uint8Array;
  /** Edge through which each node was first reached, or {@link NO_EDGE}. */
  parentEdge: Uint32Array;
  /** Who holds each node: `OWNER_APP`, `OWNER_SESSION`, `OWNER_CONSOLE` or none. */
  owner: Uint8Array;
}

/**
 * Runs the BFS in phases: first without entering seeds, then from the
 * session seeds, then from the console seeds (see `HolderIndex.seeds`).
 * Each node's owner is the phase that reached it, so a node the service and
 * the console both hold is the service's, and its path avoids the console.
 *
 * @param graph The graph.
 * @param scratch Pool for the queue.
 * @param retainerCounts Optional zeroed array that receives, per node, the
 *   number of retaining edges from reachable nodes.
 * @param seeds Optional seed kind per node (`OWNER_SESSION`, `OWNER_CONSOLE`).
 * @returns The BFS tree.
 */
export function shortestPaths(
  graph: HeapGraph,
  scratch: Scratch,
  retainerCounts?: Uint32Array,
  seeds?: Uint8Array,
): ShortestPaths {
  const count = graph.nodeCount;
  const reachable = new Uint8Array(count);
  const parentEdge = new Uint32Array(count).fill(NO_EDGE);
  const owner = new Uint8Array(count);
  if (count === 0) return { reachable, parentEdge, owner };
  // Counting strong retainers here saves `buildRetainers` a pass over every
  // edge of live nodes (it still counts those of unreachable ones).
  const counts = retainerCounts ?? new Uint32Array(0);
  const counting = retainerCounts !== undefined;
  const seed = seeds ?? new Uint8Array(count);
  const queue = scratch.take();
  const { firstEdge, edges } = graph;
  const ef = graph.edgeFieldCount;
  const typeAt = graph.edgeTypeOffset;
  const toAt = graph.edgeToOffset;
  const deferred: number[][] = [[], [], [], []];
  const moment = momentRoots(graph);
  const late: number[] = [];
  let head = 0;
  let tail = 0;
  let phase = OWNER_APP;
  queue[tail++] = 0;
  reachable[0] = 1;
  owner[0] = OWNER_APP;
  for (;;) {
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
        const kind = seed[to]!;
        if (kind !== 0 && kind !== phase) {
          owner[to] = kind;
          deferred[kind]!.push(to);
          continue;
        }
        owner[to] = phase;
        if (moment.has(to)) late.push(to);
        else queue[tail++] = to;
      }
      if (head === tail && late.length > 0) {
        for (const n of late.splice(0)) queue[tail++] = n;
      }
    }
    const next = deferred[OWNER_SESSION]!.length > 0
      ? OWNER_SESSION
      : deferred[OWNER_CONSOLE]!.length > 0
      ? OWNER_CONSOLE
      : 0;
    if (next === 0) break;
    phase = next;
    for (const n of deferred[next]!.splice(0)) queue[tail++] = n;
  }
  scratch.give(queue);
  return { reachable, parentEdge, owner };
}

/** The {@link MOMENT_ROOTS} categories under the root's `(GC roots)`. */
function momentRoots(graph: HeapGraph): Set<number> {
  const found = new Set<number>();
  const { firstEdge } = graph;
  for (let e = firstEdge[0]!; e < firstEdge[1]!; e++) {
    const roots = graph.edgeTarget(e);
    if (graph.nodeName(roots) !== "(GC roots)") continue;
    for (let f = firstEdge[roots]!; f < firstEdge[roots + 1]!; f++) {
      const category = graph.edgeTarget(f);
      if (MOMENT_ROOTS.has(graph.nodeName(category))) found.add(category);
    }
  }
  return found;
}
