/**
 * The toolkit's process-wide state, in one place with one `close()`: the
 * inspector link, the capture lock, the capture counters (and RSS around the
 * last capture), the analysis worker and the allocation sampler. Console
 * sessions share it: one isolate has one heap profiler and one sampler.
 *
 * @module
 */

import { AnalysisClient } from "../heap/worker_client.ts";
import { connectInProcess, type InspectorLink } from "./inspector_link.ts";
import { beginDisturbance } from "./memory_disturbance.ts";
import { closeTrim, trimAllocator } from "./release_memory.ts";

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
}

interface State {
  link: InspectorLink | undefined;
  lock: Promise<unknown>;
  garbagePending: boolean;
  /** Ends the capture's mark for the leak alarm (memory_disturbance.ts). */
  endDisturbance: (() => void) | undefined;
  analysis: AnalysisClient | undefined;
  sampling: { interval: number } | undefined;
  stats: CaptureStats;
}

const state: State = {
  link: undefined,
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
  },
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
  state.stats.rssBefore = Deno.memoryUsage().rss;
  state.garbagePending = true;
  state.endDisturbance ??= beginDisturbance("heap capture");
}

/**
 * Records a finished capture.
 *
 * @param bytes Size of the snapshot.
 * @param pauseMs How long the process was blocked.
 */
export function captureDone(bytes: number, pauseMs: number): void {
  state.stats.captures++;
  state.stats.lastBytes = bytes;
  state.stats.lastPauseMs = pauseMs;
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
 *
 * @returns Whether a collection ran.
 */
export async function collectCaptureGarbage(): Promise<boolean> {
  if (!state.garbagePending) return false;
  state.garbagePending = false;
  try {
    await post("HeapProfiler.collectGarbage");
    state.stats.trimmed = trimAllocator();
    state.stats.rssAfter = Deno.memoryUsage().rss;
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

/** Stops the analysis worker, if one runs (it frees its snapshot). */
export function closeAnalysis(): void {
  state.analysis?.close();
  state.analysis = undefined;
  // The worker's arrays were freed to the allocator: hand them back.
  trimAllocator();
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
  try {
    if (state.sampling && state.link) {
      state.sampling = undefined;
      await state.link.post("HeapProfiler.stopSampling");
    }
  } finally {
    state.sampling = undefined;
    const link = state.link;
    state.link = undefined;
    link?.close();
    closeTrim();
  }
}

/**
 * Disconnects the inspector link only (a new one is made on next use).
 */
export function closeInspector(): void {
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
