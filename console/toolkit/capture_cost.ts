/**
 * What a heap snapshot costs before it is taken: V8's cost model (memory
 * per node and per distinct integer edge name, see snapshot_shape.ts), and
 * the heap's shape it is applied to — the last snapshot's, scaled by the
 * heap's growth since, or for the first capture a probe of the heap's Maps
 * and Sets through the inspector (`Runtime.queryObjects`).
 *
 * @module
 */

import { getHeapSpaceStatistics } from "node:v8";
import { forkCaptureAvailable } from "./fork_capture.ts";
import type { SnapshotShape } from "./snapshot_shape.ts";

/** Where a capture runs: the service's own thread, or a forked child. */
export type CaptureMode = "in-process" | "fork";

/**
 * The capture mode this process uses: `"fork"` when it may call libc
 * (`deno task start:fork`), `"in-process"` otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { captureMode } from "./capture_cost.ts";
 * assert.equal(captureMode(), "in-process"); // the tests grant no FFI
 * ```
 *
 * @returns The mode.
 */
export function captureMode(): CaptureMode {
  return forkCaptureAvailable() ? "fork" : "in-process";
}

/**
 * Peak memory of a capture = `base` + `perNode` × nodes + `perIndexName` ×
 * distinct integer edge names, in bytes, measured on Deno 2.9.6 (x86-64
 * Linux) by `deno task bench:capture` over four heap shapes (small objects,
 * a Map of string keys to objects, a Map of strings to numbers, a Set of
 * strings, large strings).
 */
export interface CostModel {
  /** Fixed part, bytes. */
  base: number;
  /** Bytes per snapshot node. */
  perNode: number;
  /** Bytes per distinct integer edge name (V8's fixed name buffer). */
  perIndexName: number;
}

/**
 * The cost models, by mode (Deno 2.9.6, x86-64 Linux; `deno task
 * bench:capture` measures them). The base is large: a snapshot costs
 * Deno ~120 MiB however small the heap (100 k nodes: 168 MiB). In-process,
 * the figure is the service's RSS growth on its first capture (the
 * inspector's chunks of text included); in a child, the child's private
 * memory: what it allocates and the pages it no longer shares with the
 * service (its `writeHeapSnapshot` holds the whole text before writing
 * it).
 */
export const COST_MODELS: Readonly<Record<CaptureMode, CostModel>> = {
  "in-process": { base: 118 * 2 ** 20, perNode: 290, perIndexName: 4450 },
  "fork": { base: 118 * 2 ** 20, perNode: 290, perIndexName: 4450 },
};

/**
 * Index names grow faster than the heap: a Map's or Set's backing store
 * doubles its capacity, and its slots are named past the internalized
 * keys. A shape scaled from the last snapshot counts them 10% higher
 * (measured: ×1.59 for a heap ×1.5).
 */
const INDEX_NAME_GROWTH_MARGIN = 1.1;

/**
 * Snapshot text per byte of heap, for the V8-heap side of the check when
 * no snapshot was read yet: 1.6–3.0 measured over the heap shapes (arrays
 * of tiny objects the most); 3 errs safe.
 */
export const TEXT_PER_HEAP_BYTE = 3;

/** Service pause per snapshot node in-process, ms (Deno 2.9.6, 2 busy cores). */
const PAUSE_MS_PER_NODE = 0.012;

/** Service pause of `fork()` per MiB of RSS (page tables), ms. */
const FORK_PAUSE_MS_PER_MIB = 0.15;
/**
 * The service's pause per node for the update of V8's object ids before a
 * numbered capture's `fork()` (a full GC and a heap walk). Measured by
 * `bench:capture --only service` at a load average of 1.5–2 on 2 cores:
 * 108–149 ms at 164 000 live objects, 239–253 ms at 354 000 (as
 * `heap.leaks()` counts them), 0.7–0.9 µs a live object. A snapshot has more
 * nodes than live objects (the nodes' count for these heaps was not taken):
 * 0.6 µs a node errs high. A busier machine takes 2–4× that.
 */
const ID_WALK_MS_PER_NODE = 0.0006;

/**
 * Heap bytes per node assumed when only the heap's size is known, beyond
 * Deno's own {@linkcode BASE_HEAP} (outside the large-object space): 18–88
 * measured (arrays of small objects are the densest, Sets of strings the
 * sparsest); 20 errs toward more nodes.
 */
export const HEAP_BYTES_PER_NODE = 20;

/**
 * What every Deno 2.9.6 isolate has before the application adds anything:
 * ~5 MiB of heap in ~100 000 nodes (50 bytes each), 5 300 index names.
 */
export const BASE_HEAP = 5 * 2 ** 20;
/** Nodes of {@linkcode BASE_HEAP}. */
export const BASE_NODES = 100_000;
/** Index names of {@linkcode BASE_HEAP}. */
export const BASE_INDEX_NAMES = 5_500;

/** The heap's shape an estimate is made from, and where it came from. */
export interface HeapShape {
  /** Snapshot nodes expected. */
  nodes: number;
  /** Distinct integer edge names expected. */
  indexNames: number;
  /** Snapshot text expected, characters. */
  chars: number;
  /** `"last snapshot"`, `"probe"` or `"heap size"`. */
  source: "last snapshot" | "probe" | "heap size";
}

/** A snapshot's shape with the heap it was taken of. */
export interface ShapeRecord extends SnapshotShape {
  /** V8 heap used right before it was taken (outside large objects). */
  heapUsed: number;
}

/**
 * Applies a cost model to a shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { estimateSnapshotPeak } from "./capture_cost.ts";
 * const model = { base: 0, perNode: 300, perIndexName: 4096 };
 * const shape = { nodes: 10, indexNames: 2, chars: 0, source: "probe" } as const;
 * assert.equal(estimateSnapshotPeak(shape, model), 3000 + 8192);
 * ```
 *
 * @param shape Nodes and index names.
 * @param model The mode's model.
 * @returns Bytes.
 */
export function estimateSnapshotPeak(
  shape: HeapShape,
  model: CostModel,
): number {
  return Math.ceil(
    model.base + model.perNode * shape.nodes +
      model.perIndexName * shape.indexNames,
  );
}

/**
 * The heap used outside the large-object spaces: what nodes scale with (a
 * 1 MiB string is one node).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { smallObjectHeap } from "./capture_cost.ts";
 * assert.ok(smallObjectHeap() > 0);
 * ```
 *
 * @returns Bytes.
 */
export function smallObjectHeap(): number {
  let used = 0;
  for (const space of getHeapSpaceStatistics()) {
    if (!/large_object/.test(space.space_name)) used += space.space_used_size;
  }
  return used;
}

/**
 * The last snapshot's shape scaled by how the heap grew since: nodes and
 * index names in proportion to the heap outside large objects.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scaledShape } from "./capture_cost.ts";
 * const last = { nodes: 100, edges: 0, indexNames: 10, chars: 1000, heapUsed: 50, maxNodeId: 0 };
 * // The heap doubled: twice the nodes, index names 10% more than twice.
 * assert.deepEqual(scaledShape(last, 100), {
 *   nodes: 200, indexNames: 22, chars: 2000, source: "last snapshot",
 * });
 * ```
 *
 * @param last The last snapshot's record.
 * @param heapUsed The heap outside large objects now.
 * @returns The expected shape (never below the last one).
 */
export function scaledShape(last: ShapeRecord, heapUsed: number): HeapShape {
  const growth = Math.max(1, heapUsed / Math.max(1, last.heapUsed));
  const margin = growth > 1 ? INDEX_NAME_GROWTH_MARGIN : 1;
  return {
    nodes: Math.ceil(last.nodes * growth),
    indexNames: Math.ceil(last.indexNames * growth * margin),
    chars: Math.ceil(last.chars * growth),
    source: "last snapshot",
  };
}

/** One Map or Set as the probe saw it. */
export interface TableFigures {
  /** `"Map"` or `"Set"` (subclasses included). */
  kind: "Map" | "Set";
  /** Entries. */
  size: number;
  /** Share of sampled keys that are strings (internalized by V8). */
  stringKeys: number;
  /** Share of sampled keys that are heap objects (not small integers). */
  heapKeys: number;
  /** Share of sampled values that are heap objects (Maps only). */
  heapValues: number;
}

/**
 * A shape from the heap's size and its Maps and Sets, for a first capture:
 * nodes from the heap outside large objects ({@linkcode BASE_NODES} in
 * Deno's own, then one per {@linkcode HEAP_BYTES_PER_NODE}), index names from the internalized string keys and
 * the largest table's occupied slots (V8's `OrderedHashMap` layout: 3
 * header slots, a bucket per two entries, 3 slots per Map entry, 2 per Set
 * entry).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { probedShape } from "./capture_cost.ts";
 * const shape = probedShape(2_400_000, [
 *   { kind: "Set", size: 200_000, stringKeys: 1, heapKeys: 1, heapValues: 0 },
 * ], 8_000);
 * // 208 000 internalized keys, plus slots past them.
 * assert.ok(shape.indexNames > 360_000 && shape.indexNames < 380_000);
 * ```
 *
 * @param heapUsed The heap outside large objects, bytes.
 * @param tables The Maps and Sets found, any order.
 * @param baseIndexNames Index names before the tables (default {@linkcode BASE_INDEX_NAMES}).
 * @param baseline The shape of a smaller heap of this process (the warm-up
 * snapshot), if any: its nodes per byte and index names are used below its size.
 * @returns The expected shape.
 */
export function probedShape(
  heapUsed: number,
  tables: readonly TableFigures[],
  baseIndexNames = BASE_INDEX_NAMES,
  baseline?: ShapeRecord,
): HeapShape {
  let nodes = nodesOf(heapUsed);
  let base = baseIndexNames;
  if (baseline !== undefined && baseline.heapUsed <= heapUsed) {
    nodes = baseline.nodes +
      Math.ceil((heapUsed - baseline.heapUsed) / HEAP_BYTES_PER_NODE);
    base = baseline.indexNames;
  }
  let internalized = base;
  for (const t of tables) internalized += Math.round(t.size * t.stringKeys);
  let beyond = 0;
  for (const t of tables) {
    beyond = Math.max(beyond, slotsAtOrPast(t, internalized));
  }
  return {
    nodes,
    indexNames: internalized + beyond,
    chars: Math.ceil(heapUsed * TEXT_PER_HEAP_BYTE),
    source: "probe",
  };
}

/** Nodes of a heap of `heapUsed` bytes, from its size alone. */
function nodesOf(heapUsed: number): number {
  return BASE_NODES +
    Math.ceil(Math.max(0, heapUsed - BASE_HEAP) / HEAP_BYTES_PER_NODE);
}

/** Occupied heap-object slots of a table's backing store at index ≥ `from`. */
function slotsAtOrPast(t: TableFigures, from: number): number {
  if (t.size <= 0) return 0;
  let capacity = 4;
  while (capacity < t.size) capacity *= 2;
  const first = 3 + capacity / 2;
  const entrySize = t.kind === "Map" ? 3 : 2;
  const fields: Array<[offset: number, share: number]> = [[0, t.heapKeys]];
  if (t.kind === "Map") fields.push([1, t.heapValues]);
  let count = 0;
  for (const [offset, share] of fields) {
    const start = Math.max(0, Math.ceil((from - first - offset) / entrySize));
    count += Math.max(0, t.size - start) * share;
  }
  return Math.round(count);
}

/**
 * A shape from the heap's size alone (no probe possible, no history).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BASE_HEAP, BASE_NODES, HEAP_BYTES_PER_NODE, sizedShape } from "./capture_cost.ts";
 * const heap = BASE_HEAP + HEAP_BYTES_PER_NODE * 1000;
 * assert.equal(sizedShape(heap).nodes, BASE_NODES + 1000);
 * ```
 *
 * @param heapUsed The heap outside large objects, bytes.
 * @returns The expected shape.
 */
export function sizedShape(heapUsed: number): HeapShape {
  return {
    nodes: nodesOf(heapUsed),
    indexNames: BASE_INDEX_NAMES,
    chars: Math.ceil(heapUsed * TEXT_PER_HEAP_BYTE),
    source: "heap size",
  };
}

/** The last capture's pause, for {@linkcode estimatePauseMs}. */
export interface LastPause {
  /** Its mode. */
  mode: CaptureMode;
  /** Its pause, ms. */
  pauseMs: number;
  /** Its snapshot's nodes. */
  nodes: number;
}

/**
 * How long a capture would pause the service: in-process in proportion to
 * the nodes (the last in-process capture's rate, else a measured one); in a
 * child, the most it pauses (a numbered capture: a baseline): `fork()`
 * copying the page tables, in proportion to RSS, and the walk of the heap
 * that gives V8's object ids, in proportion to the nodes (a measured rate:
 * the last fork capture may have walked nothing).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { estimatePauseMs } from "./capture_cost.ts";
 * const shape = { nodes: 2000, indexNames: 0, chars: 0, source: "probe" } as const;
 * const last = { mode: "in-process", pauseMs: 100, nodes: 1000 } as const;
 * assert.equal(estimatePauseMs(shape, "in-process", 0, last), 200);
 * ```
 *
 * @param shape The expected shape.
 * @param mode Where it would run.
 * @param rss The service's RSS now, bytes.
 * @param last The last capture, if any.
 * @returns Milliseconds.
 */
export function estimatePauseMs(
  shape: HeapShape,
  mode: CaptureMode,
  rss: number,
  last?: LastPause,
): number {
  if (mode === "fork") {
    return 2 + (rss / 2 ** 20) * FORK_PAUSE_MS_PER_MIB +
      shape.nodes * ID_WALK_MS_PER_NODE;
  }
  if (last?.mode === "in-process" && last.nodes > 0) {
    return last.pauseMs * (shape.nodes / last.nodes);
  }
  return shape.nodes * PAUSE_MS_PER_NODE;
}

/**
 * The probe, run in the inspected isolate on the array `Runtime.queryObjects`
 * returns: each Map or Set's size and a sample of its keys and values.
 */
export const TABLE_PROBE = `function () {
  const mapSize = Object.getOwnPropertyDescriptor(Map.prototype, "size").get;
  const setSize = Object.getOwnPropertyDescriptor(Set.prototype, "size").get;
  const heap = (v) => v !== null && (typeof v === "object" ||
    typeof v === "function" || typeof v === "string" || typeof v === "bigint" ||
    typeof v === "symbol" || (typeof v === "number" &&
      !(Number.isInteger(v) && v >= -1073741824 && v < 1073741824)));
  const out = [];
  for (const t of this) {
    let kind, size;
    try { size = mapSize.call(t); kind = "Map"; } catch {
      try { size = setSize.call(t); kind = "Set"; } catch { continue; }
    }
    if (size === 0) continue;
    let n = 0, strings = 0, heapKeys = 0, heapValues = 0;
    const it = kind === "Map" ? Map.prototype.entries.call(t) : Set.prototype.values.call(t);
    for (const item of it) {
      const key = kind === "Map" ? item[0] : item;
      if (typeof key === "string") strings++;
      if (heap(key)) heapKeys++;
      if (kind === "Map" && heap(item[1])) heapValues++;
      if (++n === 64) break;
    }
    out.push({ kind, size, stringKeys: strings / n, heapKeys: heapKeys / n,
      heapValues: heapValues / n });
  }
  out.sort((a, b) => b.size - a.size);
  const big = out.slice(0, 32);
  // The rest only adds internalized keys: fold it into one row.
  let rest = 0, restStrings = 0;
  for (const t of out.slice(32)) { rest += t.size; restStrings += t.size * t.stringKeys; }
  if (rest > 0) big.push({ kind: "Set", size: rest, stringKeys: restStrings / rest,
    heapKeys: 0, heapValues: 0 });
  return big;
}`;

/** Sends one inspector command (the toolkit's link, local or remote). */
export type PostFn = <T>(method: string, params?: object) => Promise<T>;

/**
 * Finds the heap's Maps and Sets through the inspector: one
 * `Runtime.queryObjects` per prototype (a full GC and a walk of the heap:
 * tens of ms per 10 MiB of heap), then their sizes and a sample of each.
 *
 * @param post Sends an inspector command.
 * @returns The tables, largest first (the rest folded into one row).
 */
export async function probeTables(post: PostFn): Promise<TableFigures[]> {
  const group = `leak-toolkit-probe-${crypto.randomUUID()}`;
  try {
    const tables: TableFigures[] = [];
    for (const prototype of ["Map.prototype", "Set.prototype"]) {
      const proto = await post<{ result: { objectId?: string } }>(
        "Runtime.evaluate",
        { expression: prototype, objectGroup: group, silent: true },
      );
      const id = proto.result.objectId;
      if (id === undefined) continue;
      const found = await post<{ objects: { objectId: string } }>(
        "Runtime.queryObjects",
        { prototypeObjectId: id, objectGroup: group },
      );
      const reply = await post<{
        result: { value?: TableFigures[] };
        exceptionDetails?: { text?: string };
      }>("Runtime.callFunctionOn", {
        objectId: found.objects.objectId,
        functionDeclaration: TABLE_PROBE,
        returnByValue: true,
        objectGroup: group,
        silent: true,
      });
      if (reply.exceptionDetails || !Array.isArray(reply.result.value)) {
        throw new Error(
          `The Map/Set probe failed: ${
            reply.exceptionDetails?.text ?? "no result"
          }`,
        );
      }
      tables.push(...reply.result.value);
    }
    return tables;
  } finally {
    await post("Runtime.releaseObjectGroup", { objectGroup: group })
      .catch(() => {});
  }
}
