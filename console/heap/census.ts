/**
 * Census of a heap graph by class: count, shallow size and retained size of
 * every type, like objgraph's `show_most_common_types`.
 *
 * @module
 */

import type { HeapGraph } from "./graph.ts";
import type { Scratch } from "./scratch.ts";

/** One row of a census. */
export interface ClassStats {
  /** Constructor name, or `(string)`, `(array)`, `(closure)`... */
  name: string;
  /** Live instances. */
  count: number;
  /** Sum of shallow sizes in bytes. */
  shallowSize: number;
  /** Bytes freed if every instance went away (no double counting of nested instances). */
  retainedSize: number;
}

/** A census: the class of every node and totals per class. */
export interface Census {
  /** Class index of each node. */
  classOf: Uint32Array;
  /** Totals per class, indexed like `classOf` values. */
  classes: ClassStats[];
}

/**
 * Counts nodes by class. Retained size per class adds up the retained sizes
 * of instances that no other instance of the same class dominates, walking
 * the dominator tree once.
 *
 * @param graph The graph.
 * @param dominator Immediate dominator of each node.
 * @param retained Retained size of each node.
 * @param reachable Only nodes marked 1 are counted (unreachable ones are
 *   garbage V8 keeps only for weak references).
 * @param scratch Pool of node-sized arrays.
 * @returns The census.
 */
export function takeCensus(
  graph: HeapGraph,
  dominator: Uint32Array,
  retained: Float64Array,
  reachable: Uint8Array,
  scratch: Scratch,
): Census {
  const count = graph.nodeCount;
  const classOf = new Uint32Array(count);
  const classes: ClassStats[] = [];
  const byName = new Map<string, number>();
  const classFor = (name: string): number => {
    let cls = byName.get(name);
    if (cls === undefined) {
      cls = classes.length;
      classes.push({ name, count: 0, shallowSize: 0, retainedSize: 0 });
      byName.set(name, cls);
    }
    return cls;
  };
  // Objects and natives are classed by name, everything else by type alone:
  // two small lookup tables instead of a string per node.
  const named = new Uint8Array(graph.nodeTypes.length);
  const typeClass = new Int32Array(graph.nodeTypes.length).fill(-1);
  graph.nodeTypes.forEach((t, i) => {
    if (t === "object" || t === "native") named[i] = 1;
  });
  const nameClass = new Int32Array(graph.strings.length).fill(-1);
  const nodes = graph.nodes;
  const nf = graph.nodeFieldCount;
  const typeAt = graph.typeOffset;
  const sizeAt = graph.sizeOffset;
  const nameAt = graph.nameOffset;
  const shallow: number[] = [];
  const live: number[] = [];
  for (let n = 0, i = 0; n < count; n++, i += nf) {
    const type = nodes[i + typeAt]!;
    let cls: number;
    if (named[type] === 1) {
      const name = nodes[i + nameAt]!;
      cls = nameClass[name]!;
      if (cls < 0) {
        cls = classFor(graph.className(n));
        nameClass[name] = cls;
      }
    } else {
      cls = typeClass[type]!;
      if (cls < 0) {
        cls = classFor(graph.className(n));
        typeClass[type] = cls;
      }
    }
    classOf[n] = cls;
    if (reachable[n] === 1) {
      while (live.length <= cls) {
        live.push(0);
        shallow.push(0);
      }
      live[cls] = live[cls]! + 1;
      shallow[cls] = shallow[cls]! + nodes[i + sizeAt]!;
    }
  }
  for (let c = 0; c < classes.length; c++) {
    classes[c]!.count = live[c] ?? 0;
    classes[c]!.shallowSize = shallow[c] ?? 0;
  }

  const totals = retainedByClass(
    classOf,
    classes.length,
    dominator,
    retained,
    reachable,
    scratch,
  );
  for (let c = 0; c < classes.length; c++) {
    classes[c]!.retainedSize = totals[c]!;
  }
  return { classOf, classes };
}

/**
 * Retained size per class without double counting: the retained sizes of
 * the instances that no other instance of the same class dominates, in one
 * walk of the dominator tree.
 *
 * @param classOf Class index of each node (any grouping of nodes).
 * @param classCount Number of classes.
 * @param dominator Immediate dominator of each node.
 * @param retained Retained size of each node.
 * @param counted Only nodes marked 1 are counted.
 * @param scratch Pool of node-sized arrays.
 * @returns Total per class.
 */
export function retainedByClass(
  classOf: Uint32Array,
  classCount: number,
  dominator: Uint32Array,
  retained: Float64Array,
  counted: Uint8Array,
  scratch: Scratch,
): Float64Array {
  const count = classOf.length;
  const reachable = counted;
  // Dominator tree children in CSR form, then one DFS with a per-class
  // "instances on the current path" counter.
  const firstChild = scratch.takeZeroed();
  for (let n = 1; n < count; n++) {
    const d = dominator[n]!;
    firstChild[d] = firstChild[d]! + 1;
  }
  let sum = 0;
  for (let n = 0; n < count; n++) {
    sum += firstChild[n]!;
    firstChild[n] = sum;
  }
  firstChild[count] = sum;
  const children = scratch.take();
  for (let n = count - 1; n >= 1; n--) {
    const d = dominator[n]!;
    const slot = firstChild[d]! - 1;
    firstChild[d] = slot;
    children[slot] = n;
  }
  const active = new Uint32Array(classCount);
  const totals = new Float64Array(classCount);
  const cursor = scratch.take();
  cursor.set(firstChild);
  const stack = scratch.take();
  let top = 0;
  if (count > 0) {
    stack[top++] = 0;
    active[classOf[0]!] = 1;
  }
  while (top > 0) {
    const v = stack[top - 1]!;
    const at = cursor[v]!;
    if (at < firstChild[v + 1]!) {
      cursor[v] = at + 1;
      const c = children[at]!;
      const cls = classOf[c]!;
      if (active[cls] === 0 && reachable[c] === 1) {
        totals[cls] = totals[cls]! + retained[c]!;
      }
      active[cls] = active[cls]! + 1;
      stack[top++] = c;
    } else {
      const cls = classOf[v]!;
      active[cls] = active[cls]! - 1;
      top--;
    }
  }
  scratch.give(firstChild, children, cursor, stack);
  return totals;
}
