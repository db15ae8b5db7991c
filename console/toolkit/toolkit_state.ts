/**
 * The toolkit's process-wide state, in one place with one `close()`: the
 * inspector link, the capture lock, the capture counters (and RSS around the
 * last capture), the analysis worker and the allocation sampler. Console
 * sessions share it: one isolate has one heap profiler and one sampler.
 *
 * The toolkit examines this process, or, once {@linkcode useInspectorLink}
 * was called (the attach client, attached to exactly one target), another
 * process through a link to its inspector: then the memory figures the
 * helpers read ({@linkcode memoryFigures}) are the target's.
 *
 * @module
 */

import { getHeapStatistics } from "node:v8";
import { AnalysisClient } from "../heap/worker_client.ts";
import type { CaptureMode, HeapShape, ShapeRecord } from "./capture_cost.ts";
import type { AnalysisChild } from "./fork_analysis.ts";
import { stopChildren } from "./fork_capture.ts";
import {
  clearHeapObjectIds,
  connectInProcess,
  type InspectorLink,
} from "./inspector_link.ts";
import {
  type LinkedTarget,
  linkedTarget,
  type ProcessMemory,
  setLinkedTarget,
} from "./linked_target.ts";

export { linkedTarget };
export type { LinkedTarget, ProcessMemory };
import { beginDisturbance } from "./memory_disturbance.ts";
import { trimAllocator } from "./release_memory.ts";

/** Counters of captures made by this process. */
export interface CaptureStats {
  /** Snapshots captured. */
  captures: number;
  /** Captures refused for lack of memory. */
  refused: number;
  /** Pause of the last capture, in ms. */
  lastPauseMs: number;
  /** Size of the last snapshot, in characters. */
  lastBytes: number;
  /** RSS just before the last capture, in bytes (0: none yet). */
  rssBefore: number;
  /** RSS once the last capture's garbage was collected (0: none yet). */
  rssAfter: number;
  /** Whether freed memory was handed back with `malloc_trim` then. */
  trimmed: boolean;
  /** Where the last capture ran (null: none yet). */
  lastMode: CaptureMode | null;
  /** What the admission check expected the last capture to need, bytes. */
  lastEstimate: number;
  /** What that estimate stood on (null: none yet). */
  lastEstimateSource: HeapShape["source"] | null;
  /**
   * What the last capture took at its peak, measured: the service's RSS
   * growth in-process (null when its peak RSS did not pass an earlier
   * one), the child's RSS growth in a child.
   */
  lastPeak: number | null;
  /** Captures whose child hung, was capped or crashed (each retry counts). */
  childFailures: number;
}

/** What a finished capture reports to {@linkcode captureDone}. */
export interface CaptureRecord {
  /** Size of the snapshot, characters. */
  bytes: number;
  /** How long the service was blocked, ms. */
  pauseMs: number;
  /** Where it ran. */
  mode: CaptureMode;
  /** The admission estimate, bytes. */
  estimate: number;
  /** What the estimate stood on. */
  source: HeapShape["source"];
  /** The measured peak, bytes, when known. */
  peak: number | null;
  /** The snapshot's shape and the heap it was taken of, when read. */
  shape?: ShapeRecord;
}

interface State {
  link: InspectorLink | undefined;
  targetMemory: ProcessMemory | undefined;
  lock: Promise<unknown>;
  garbagePending: boolean;
  /** Ends the capture's mark for the leak alarm (memory_disturbance.ts). */
  endDisturbance: (() => void) | undefined;
  analysis: AnalysisClient | undefined;
  /** Fork mode's analysis child, holding the last snapshot. */
  analysisChild: AnalysisChild | undefined;
  sampling: { interval: number } | undefined;
  stats: CaptureStats;
  lastShape: ShapeRecord | undefined;
}

const state: State = {
  analysisChild: undefined,
  link: undefined,
  targetMemory: undefined,
  lock: Promise.resolve(),
  garbagePending: false,
  endDisturbance: undefined,
  analysis: undefined,
  sampling: undefined,
  stats: {
    captures: 0,
    refused: 0,
    lastPauseMs: 0,
    lastBytes: 0,
    rssBefore: 0,
    rssAfter: 0,
    trimmed: false,
    lastMode: null,
    lastEstimate: 0,
    lastEstimateSource: null,
    lastPeak: null,
    childFailures: 0,
  },
  lastShape: undefined,
};

/**
 * The inspector link, connected to this process on first use.
 *
 * @returns The link every helper posts and listens through.
 */
export function inspector(): InspectorLink {
  state.link ??= connectInProcess();
  return state.link;
}

/**
 * Points the toolkit at another process: every helper then drives that
 * process's inspector through `link` (the attach client's WebSocket link)
 * and reads that process's memory, instead of this process's. The one
 * injection point of the attach client, which is attached to exactly one
 * target, so the process-wide state (link, capture lock, worker, sampler)
 * is that target's. Called again, or with no arguments, after
 * {@linkcode closeToolkitState}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectInProcess } from "./inspector_link.ts";
 * import {
 *   closeToolkitState,
 *   linkedTarget,
 *   memoryFigures,
 *   useInspectorLink,
 * } from "./toolkit_state.ts";
 * const figures = { ...memoryFigures(), rss: 1 };
 * useInspectorLink(connectInProcess(), {
 *   pid: 1,
 *   name: "pid 1",
 *   readMemory: () => Promise.resolve(figures),
 *   objectId: () => Promise.resolve(undefined),
 *   stackAt: () => Promise.resolve(undefined),
 *   ownership: {},
 * });
 * assert.equal(linkedTarget()?.pid, 1);
 * await closeToolkitState();
 * assert.equal(linkedTarget(), undefined);
 * ```
 *
 * @param link The link to the target's inspector (closed by
 *   {@linkcode closeToolkitState}).
 * @param target What the helpers need to know about the target.
 */
export function useInspectorLink(
  link: InspectorLink,
  target: LinkedTarget,
): void {
  if (state.link !== undefined && state.link !== link) {
    throw new Error(
      "The toolkit already drives an inspector: close it (closeToolkitState) before linking another",
    );
  }
  state.link = link;
  setLinkedTarget(target);
  state.targetMemory = undefined;
}

/**
 * The examined process's memory figures: this process's now, or the linked
 * target's as last read by {@linkcode readMemoryFigures} (its caller reads
 * them before each helper runs).
 *
 * @returns The figures.
 */
export function memoryFigures(): ProcessMemory {
  const target = linkedTarget();
  if (target !== undefined) {
    if (state.targetMemory === undefined) {
      throw new Error(
        `The memory of ${target.name} was not read yet: await readMemoryFigures() first`,
      );
    }
    return state.targetMemory;
  }
  const usage = Deno.memoryUsage();
  return {
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    heapTotal: usage.heapTotal,
    external: usage.external,
    arrayBuffers: null,
    heapSizeLimit: getHeapStatistics().heap_size_limit,
  };
}

/**
 * Reads the examined process's memory figures now (from the linked target
 * when there is one) and keeps them for {@linkcode memoryFigures}.
 *
 * @returns The figures.
 */
export async function readMemoryFigures(): Promise<ProcessMemory> {
  const target = linkedTarget();
  if (target === undefined) return memoryFigures();
  const figures = await target.readMemory();
  if (linkedTarget() === target) state.targetMemory = figures;
  return figures;
}

/**
 * Sends one inspector command through the shared link.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { closeToolkitState, post } from "./toolkit_state.ts";
 * const { result } = await post<{ result: { value: number } }>(
 *   "Runtime.evaluate",
 *   { expression: "1 + 1", returnByValue: true },
 * );
 * assert.equal(result.value, 2);
 * await closeToolkitState();
 * ```
 *
 * @param method Protocol method.
 * @param params Its parameters.
 * @returns The result.
 */
export function post<T = Record<string, unknown>>(
  method: string,
  params: object = {},
): Promise<T> {
  return inspector().post<T>(method, params);
}

/**
 * Listens to an inspector event through the shared link.
 *
 * @param event Protocol event.
 * @param handler Called with the event's params.
 * @returns Unsubscribe.
 */
export function listen<P>(
  event: string,
  handler: (params: P) => void,
): () => void {
  return inspector().listen<P>(event, handler);
}

/**
 * Runs `fn` while holding the process-wide capture lock, so two console
 * sessions never capture or load snapshots at once. When `fn` took a
 * snapshot, its garbage is collected (and, when permitted, handed back to
 * the system) before the lock is released, so `mem()` and the next capture's
 * estimate see the service, not the toolkit's leftovers.
 *
 * @param fn The work.
 * @returns Its result.
 */
export function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const run = state.lock.then(() => withCollection(fn));
  state.lock = run.catch(() => {});
  return run;
}

/**
 * Records that a capture starts: RSS now, and garbage to collect after.
 */
export function captureStarting(): void {
  state.stats.rssBefore = memoryFigures().rss;
  state.garbagePending = true;
  state.endDisturbance ??= beginDisturbance("heap capture");
}

/**
 * Records a finished capture, and the shape the next estimate starts from.
 *
 * @param record What it cost and what it was made of.
 */
export function captureDone(record: CaptureRecord): void {
  state.stats.captures++;
  state.stats.lastBytes = record.bytes;
  state.stats.lastPauseMs = record.pauseMs;
  state.stats.lastMode = record.mode;
  state.stats.lastEstimate = record.estimate;
  state.stats.lastEstimateSource = record.source;
  state.stats.lastPeak = record.peak;
  if (record.shape) state.lastShape = record.shape;
}

/**
 * The last snapshot's shape, for the next estimate.
 *
 * @returns The record, or undefined before the first capture.
 */
export function lastShape(): ShapeRecord | undefined {
  return state.lastShape;
}

/**
 * Records a child that hung, was capped or crashed.
 *
 * @param count Failed children (each try counts).
 */
export function childFailed(count = 1): void {
  state.stats.childFailures += count;
}

/** Records a refused capture. */
export function captureRefused(): void {
  state.stats.refused++;
}

/**
 * A copy of this process's capture counters.
 *
 * @returns The counters.
 */
export function captureStats(): CaptureStats {
  return { ...state.stats };
}

/**
 * Collects the garbage a capture left, if any: a full GC, then
 * `malloc_trim` when the process may call it (see release_memory.ts).
 * After a capture in a child, also stops the analysis worker.
 *
 * @returns Whether a collection ran.
 */
export async function collectCaptureGarbage(): Promise<boolean> {
  if (!state.garbagePending) return false;
  state.garbagePending = false;
  try {
    if (state.stats.lastMode === "fork") {
      // The snapshot and its analysis never entered the service (the
      // analysis child holds them): no garbage worth a full GC's pause.
      state.stats.trimmed = false;
      state.stats.rssAfter = (await readMemoryFigures()).rss;
      return true;
    }
    await post("HeapProfiler.collectGarbage");
    // malloc_trim reaches this process only: a target keeps what it keeps.
    state.stats.trimmed = linkedTarget() === undefined && trimAllocator();
    state.stats.rssAfter = (await readMemoryFigures()).rss;
  } finally {
    state.endDisturbance?.();
    state.endDisturbance = undefined;
  }
  return true;
}

/**
 * The analysis worker's client, made on first use.
 *
 * @returns The client.
 */
export function analysisClient(): AnalysisClient {
  state.analysis ??= new AnalysisClient();
  return state.analysis;
}

/**
 * Fork mode's analysis child holding the last snapshot, if any.
 *
 * @returns It, or undefined.
 */
export function analysisChild(): AnalysisChild | undefined {
  return state.analysisChild;
}

/**
 * Keeps a new analysis child, ending the one before (its snapshot is
 * superseded); undefined ends it only.
 *
 * @param child The new one.
 */
export function setAnalysisChild(child: AnalysisChild | undefined): void {
  if (state.analysisChild !== child) state.analysisChild?.close();
  state.analysisChild = child;
}

/** The console sessions holding baselines made of V8's object ids. */
const idHolders = new Set<object>();

/**
 * Records that a console session keeps baselines made of V8's heap object
 * ids (a `heap.leaks()` or `heap.growth()` baseline, any in-process
 * snapshot): V8's map of ids (~60 bytes a live object) must stay.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { holdObjectIds, objectIdHolders, releaseObjectIds } from "./toolkit_state.ts";
 * const session = {};
 * holdObjectIds(session);
 * assert.equal(objectIdHolders(), 1);
 * await releaseObjectIds(session);
 * assert.equal(objectIdHolders(), 0);
 * ```
 *
 * @param owner The session's heap helpers.
 */
export function holdObjectIds(owner: object): void {
  idHolders.add(owner);
}

/**
 * How many console sessions keep baselines made of object ids.
 *
 * @returns The count.
 */
export function objectIdHolders(): number {
  return idHolders.size;
}

/**
 * A console session let its baselines go (it closed). With the last one,
 * V8's map of object ids is dropped (the service's RSS goes back where it
 * was before the first baseline), and with it the analysed snapshots (the
 * worker's, the analysis child's), whose ids would no longer match:
 * the next capture numbers the heap anew. Not for an attached target (its
 * ids are its own).
 *
 * @param owner The session's heap helpers.
 * @returns Whether the map was dropped.
 */
export async function releaseObjectIds(owner: object): Promise<boolean> {
  if (!idHolders.delete(owner) || idHolders.size > 0) return false;
  if (linkedTarget() !== undefined || state.link === undefined) return false;
  return await exclusive(async () => {
    // A session may have taken a baseline meanwhile.
    if (idHolders.size > 0 || linkedTarget() !== undefined) return false;
    setAnalysisChild(undefined);
    closeAnalysis();
    await clearHeapObjectIds();
    return true;
  });
}

/** Stops the analysis worker, if one runs (it frees its snapshot). */
export function closeAnalysis(): void {
  const running = state.analysis !== undefined;
  state.analysis?.close();
  state.analysis = undefined;
  // The worker's arrays were freed to the allocator: hand them back, now
  // and once its thread is gone.
  if (trimAllocator() && running) {
    Deno.unrefTimer(setTimeout(trimAllocator, 1000));
  }
}

/**
 * The allocation sampler's state: its interval while it runs.
 *
 * @returns The interval, or undefined when off.
 */
export function sampling(): { interval: number } | undefined {
  return state.sampling;
}

/**
 * Sets the allocation sampler's state (alloc.ts starts and stops it).
 *
 * @param value The interval while running, undefined when stopped.
 */
export function setSampling(value: { interval: number } | undefined): void {
  state.sampling = value;
}

/**
 * Releases everything process-wide: stops the sampler, the analysis worker
 * and the inspector link. Safe to call more than once; the next helper call
 * starts what it needs again.
 */
export async function closeToolkitState(): Promise<void> {
  state.analysis?.close();
  state.analysis = undefined;
  setAnalysisChild(undefined);
  try {
    if (state.sampling && state.link) {
      state.sampling = undefined;
      await state.link.post("HeapProfiler.stopSampling");
    }
  } finally {
    state.sampling = undefined;
    const link = state.link;
    state.link = undefined;
    setLinkedTarget(undefined);
    state.targetMemory = undefined;
    link?.close();
    stopChildren();
  }
}

/**
 * Disconnects the inspector link only (a new one is made on next use).
 */
export function closeInspector(): void {
  // A linked target's link is the toolkit's only way there: kept.
  if (linkedTarget() !== undefined) return;
  const link = state.link;
  state.link = undefined;
  link?.close();
}

async function withCollection<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    // After fn has returned, its chunks are unreachable: now they go.
    await collectCaptureGarbage().catch(() => {});
  }
}
