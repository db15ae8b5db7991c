/**
 * Taking a heap snapshot in-process: the memory check, the capture through
 * the inspector, and the hand-off of its chunks to the analysis worker.
 *
 * @module
 */

import { AnalysisClient } from "../heap/worker_client.ts";
import { listen, markCaptureGarbage, post } from "./inspector.ts";
import { ensureCaptureFits } from "./memory.ts";

/** Receives progress: label, steps done, steps in total. */
export type Progress = (label: string, done: number, total: number) => void;

/** A captured snapshot, still in the service's isolate. */
export interface Capture {
  /** The snapshot text, in the inspector's chunks (about 1 MiB each). */
  chunks: string[];
  /** Characters in all chunks. */
  bytes: number;
  /** How long the process was blocked by the capture, in ms. */
  pauseMs: number;
}

/** Counters of captures made by this process (tests use them). */
export interface CaptureStats {
  /** Snapshots captured. */
  captures: number;
  /** Captures refused for lack of memory. */
  refused: number;
  /** Pause of the last capture, in ms. */
  lastPauseMs: number;
  /** Size of the last snapshot, in characters. */
  lastBytes: number;
}

const stats: CaptureStats = {
  captures: 0,
  refused: 0,
  lastPauseMs: 0,
  lastBytes: 0,
};
let client: AnalysisClient | undefined;

/**
 * A copy of this process's capture counters.
 *
 * @returns A copy of this process's capture counters.
 */
export function captureStats(): CaptureStats {
  return { ...stats };
}

/**
 * The process-wide analysis worker client, made on first use.
 *
 * @returns The process-wide analysis worker client, made on first use.
 */
export function analysisClient(): AnalysisClient {
  client ??= new AnalysisClient();
  return client;
}

/** Stops the analysis worker, if one runs. */
export function closeAnalysis(): void {
  client?.close();
  client = undefined;
}

/**
 * Captures a heap snapshot after checking that its memory peak fits.
 * `reportProgress` is deliberately off: with it, Deno 2.9.6 segfaults on
 * heaps above a few MiB (the same bug as nodejs/node#44634), and in-process
 * its events arrive only after the capture anyway.
 *
 * @param what The operation asking, for the refusal message.
 * @param progress Receives `capture` 0/1 and 1/1.
 * @returns The chunks.
 */
export async function capture(
  what: string,
  progress: Progress,
): Promise<Capture> {
  try {
    ensureCaptureFits(what);
  } catch (error) {
    stats.refused++;
    throw error;
  }
  const chunks: string[] = [];
  let bytes = 0;
  const stop = listen<{ chunk: string }>(
    "HeapProfiler.addHeapSnapshotChunk",
    (params) => {
      chunks.push(params.chunk);
      bytes += params.chunk.length;
    },
  );
  progress("capture", 0, 1);
  const started = performance.now();
  try {
    await post("HeapProfiler.takeHeapSnapshot", {
      reportProgress: false,
      captureNumericValue: false,
    });
  } finally {
    stop();
    markCaptureGarbage();
  }
  const pauseMs = performance.now() - started;
  stats.captures++;
  stats.lastPauseMs = pauseMs;
  stats.lastBytes = bytes;
  progress("capture", 1, 1);
  return { chunks, bytes, pauseMs };
}
