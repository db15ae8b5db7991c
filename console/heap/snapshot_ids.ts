/**
 * Snapshot ids across the snapshots of one process. V8 numbers heap objects
 * in the order it first meets them in a snapshot (odd ids, kept for the
 * object's life), so an id above an earlier snapshot's highest means "not
 * alive then". Embedder objects (Node's and Chrome's `native` nodes) get
 * even ids in no order, so they never set the cut-off. Ids mean nothing
 * between two processes: a sample of objects, fingerprinted by type and
 * name, tells whether two snapshots come from one.
 *
 * @module
 */

import type { RawSnapshot } from "./parser.ts";

/** Objects of the earlier snapshot looked for in the later one. */
const SAMPLE_SIZE = 4096;
/**
 * Share of the sampled objects found again under the same id whose type or
 * name changed, above which two snapshots are from two processes. Measured:
 * 0 to 0.002% within one process (a string flattened in place), 8% to 74%
 * between two runs of one Node script.
 */
const MISMATCH_LIMIT = 0.02;
/** Fewer matches than this prove nothing either way. */
const MIN_MATCHES = 64;

/**
 * Whether V8 gave this id to a heap object (allocation-ordered) rather than
 * to an embedder's node.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isHeapObjectId } from "./snapshot_ids.ts";
 * assert.equal(isHeapObjectId(75_189), true);
 * assert.equal(isHeapObjectId(1_492_732_896), false);
 * ```
 *
 * @param id A node's snapshot id.
 * @returns True for odd ids.
 */
export function isHeapObjectId(id: number): boolean {
  return id % 2 === 1;
}

/**
 * Whether a node was allocated after a baseline snapshot and, in memlab's
 * three-snapshot method, no later than the target one: a heap object
 * (embedders' ids follow no order, so their nodes are never new) with an
 * id in `(since, until]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isAllocatedIn } from "./snapshot_ids.ts";
 * assert.equal(isAllocatedIn(75_189, 75_001), true);
 * assert.equal(isAllocatedIn(75_189, 75_001, 75_101), false);
 * assert.equal(isAllocatedIn(75_190, 75_001), false);
 * ```
 *
 * @param id A node's snapshot id.
 * @param since The baseline snapshot's highest heap-object id.
 * @param until The target snapshot's highest (default: no bound).
 * @returns True when the object is new in that window.
 */
export function isAllocatedIn(
  id: number,
  since: number,
  until = Infinity,
): boolean {
  return id > since && id <= until && isHeapObjectId(id);
}

/** What one snapshot contributes to a comparison with a later one. */
export interface SnapshotIds {
  /** The highest heap-object id: objects first seen later get higher ones. */
  last: number;
  /** The node layout (`meta.node_fields`), which one runtime keeps. */
  layout: string;
  /** Ids of the sampled objects, ascending. */
  sampleIds: Uint32Array;
  /** A hash of each sampled object's type and name. */
  sampleFingerprints: Uint32Array;
}

/** How a later snapshot relates to an earlier one. */
export type IdsVerdict =
  | { sameProcess: true }
  | { sameProcess: false; reason: string };

/**
 * Reads the ids of a parsed snapshot: its highest heap-object id and a
 * sample to recognise the process by.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SnapshotParser } from "./parser.ts";
 * import { snapshotIds } from "./snapshot_ids.ts";
 * const parser = new SnapshotParser();
 * parser.push('{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count"],' +
 *   '"node_types":[["synthetic","object"],"string","number","number","number"],' +
 *   '"edge_fields":["type","name_or_index","to_node"],"edge_types":[["property"],"string_or_number","node"]},' +
 *   '"node_count":2,"edge_count":0},"nodes":[0,0,1,0,0,1,1,7,16,0],"edges":[],"strings":["","Map"]}');
 * assert.equal(snapshotIds(parser.finish()).last, 7);
 * ```
 *
 * @param raw A parsed snapshot.
 * @returns Its highest id and sample.
 */
export function snapshotIds(raw: RawSnapshot): SnapshotIds {
  const { nodes, meta } = raw;
  const nf = meta.node_fields.length;
  const idAt = meta.node_fields.indexOf("id");
  if (idAt < 0) throw new SyntaxError('Heap snapshot has no "id" field');
  let last = 0;
  let objects = 0;
  for (let i = idAt; i < nodes.length; i += nf) {
    const id = nodes[i]!;
    if (!isHeapObjectId(id)) continue;
    objects++;
    if (id > last) last = id;
  }
  // Every step-th heap object, spread over the whole snapshot.
  const step = Math.max(1, Math.floor(objects / SAMPLE_SIZE));
  const print = fingerprinter(raw);
  const ids: number[] = [];
  const prints: number[] = [];
  let seen = 0;
  for (let n = 0; n * nf < nodes.length; n++) {
    const id = nodes[n * nf + idAt]!;
    if (!isHeapObjectId(id) || seen++ % step !== 0) continue;
    ids.push(id);
    prints.push(print(n));
  }
  const order = ids.map((_, i) => i).sort((a, b) => ids[a]! - ids[b]!);
  return {
    last,
    layout: meta.node_fields.join(","),
    sampleIds: Uint32Array.from(order, (i) => ids[i]!),
    sampleFingerprints: Uint32Array.from(order, (i) => prints[i]!),
  };
}

/**
 * Tells whether `later` can be a later snapshot of the process that took
 * `earlier`: same node layout, ids that do not go backwards, and the
 * sampled objects still alive under the same ids with the same type and
 * name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SnapshotParser } from "./parser.ts";
 * import { compareIds, snapshotIds } from "./snapshot_ids.ts";
 * const parser = new SnapshotParser();
 * parser.push('{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count"],' +
 *   '"node_types":[["synthetic","object"],"string","number","number","number"],' +
 *   '"edge_fields":["type","name_or_index","to_node"],"edge_types":[["property"],"string_or_number","node"]},' +
 *   '"node_count":1,"edge_count":0},"nodes":[0,0,1,0,0],"edges":[],"strings":[""]}');
 * const raw = parser.finish();
 * assert.deepEqual(compareIds(snapshotIds(raw), raw), { sameProcess: true });
 * ```
 *
 * @param earlier The earlier snapshot's ids.
 * @param later The later snapshot.
 * @returns The verdict, with the reason when they are not comparable.
 */
export function compareIds(
  earlier: SnapshotIds,
  later: RawSnapshot,
): IdsVerdict {
  const layout = later.meta.node_fields.join(",");
  if (layout !== earlier.layout) {
    return {
      sameProcess: false,
      reason:
        `their nodes have different fields ([${earlier.layout}] and [${layout}]): two runtimes`,
    };
  }
  const { nodes, meta } = later;
  const nf = meta.node_fields.length;
  const idAt = meta.node_fields.indexOf("id");
  const print = fingerprinter(later);
  const wanted = new Map<number, number>();
  earlier.sampleIds.forEach((id, i) => wanted.set(id, i));
  let last = 0;
  let matched = 0;
  let changed = 0;
  for (let n = 0; n * nf < nodes.length; n++) {
    const id = nodes[n * nf + idAt]!;
    if (isHeapObjectId(id) && id > last) last = id;
    const i = wanted.get(id);
    if (i === undefined) continue;
    matched++;
    if (print(n) !== earlier.sampleFingerprints[i]) changed++;
  }
  if (last < earlier.last) {
    return {
      sameProcess: false,
      reason:
        `the later one's ids stop at ${last}, below the earlier one's ${earlier.last}: not in the order taken, or not from one process`,
    };
  }
  if (matched >= MIN_MATCHES && changed / matched > MISMATCH_LIMIT) {
    return {
      sameProcess: false,
      reason: `${
        Math.round(changed / matched * 100)
      }% of the objects found under the same id changed type or name: not from one process`,
    };
  }
  return { sameProcess: true };
}

/**
 * Hashes (FNV-1a) a node's type name and name, so that the same object in
 * two snapshots hashes alike whatever their string tables.
 */
function fingerprinter(raw: RawSnapshot): (node: number) => number {
  const { nodes, meta, strings } = raw;
  const nf = meta.node_fields.length;
  const typeAt = meta.node_fields.indexOf("type");
  const nameAt = meta.node_fields.indexOf("name");
  const types = meta.node_types[typeAt];
  const typeNames = Array.isArray(types) ? types : [];
  return (node) => {
    const type = typeNames[nodes[node * nf + typeAt]!] ?? "";
    const name = strings.get(nodes[node * nf + nameAt]!);
    // Long names (string contents) are told apart by their first 256 units.
    const text = `${type}\0${name.slice(0, 256)}`;
    let hash = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) {
      hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
    }
    return hash >>> 0;
  };
}

/**
 * The names V8 gives the number nodes it makes up while writing a snapshot
 * (one per small integer a property holds, and per internal integer field):
 * they are no heap objects, and take a fresh id from the map's counter in
 * every snapshot.
 */
const GENERATED_NUMBER_NAMES = new Set(["smi number", "int"]);

/**
 * The smallest id a snapshot gave one of the number nodes it made up (see
 * above): every id below it was given before this snapshot began, by an
 * earlier snapshot or a walk of the heap (`startTrackingHeapObjects`),
 * every one from it on by this snapshot. When a walk ran right before the
 * snapshot, that is the walk's highest id plus one step: the frontier
 * later snapshots tell new objects by (fork mode, where the snapshot is
 * written in a child whose own numbering the service never sees).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { firstGeneratedId } from "./snapshot_ids.ts";
 * const graph = {
 *   nodeCount: 3,
 *   nodeId: (n: number) => [7, 11, 9][n]!,
 *   nodeType: (n: number) => ["object", "number", "number"][n]!,
 *   nodeName: (n: number) => ["Widget", "smi number", "heap number"][n]!,
 * };
 * assert.equal(firstGeneratedId(graph), 11);
 * ```
 *
 * @param graph The snapshot's nodes.
 * @returns The id, or undefined when the snapshot made none up.
 */
export function firstGeneratedId(graph: {
  nodeCount: number;
  nodeId(node: number): number;
  nodeType(node: number): string;
  nodeName(node: number): string;
}): number | undefined {
  let first: number | undefined;
  for (let n = 0; n < graph.nodeCount; n++) {
    const id = graph.nodeId(n);
    if (!isHeapObjectId(id) || (first !== undefined && id >= first)) continue;
    if (
      graph.nodeType(n) === "number" &&
      GENERATED_NUMBER_NAMES.has(graph.nodeName(n))
    ) {
      first = id;
    }
  }
  return first;
}
