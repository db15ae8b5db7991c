/**
 * Taking a heap snapshot in-process: the memory check, the capture through
 * the inspector, and the hand-off of its chunks to the analysis worker or
 * straight to an owner-only file.
 *
 * @module
 */

import type { ProgressFn } from "../heap/progress.ts";
import { PrivateFileWriter } from "../private_file.ts";
import { ensureCaptureFits } from "./memory.ts";
import {
  captureDone,
  captureRefused,
  captureStarting,
  listen,
  post,
} from "./toolkit_state.ts";

export type { CaptureStats } from "./toolkit_state.ts";
export {
  analysisClient,
  captureStats,
  closeAnalysis,
} from "./toolkit_state.ts";

/** Receives progress: label, steps done, steps in total (the one type). */
export type Progress = ProgressFn;

/** A captured snapshot, still in the service's isolate. */
export interface Capture {
  /** The snapshot text, in the inspector's chunks (about 1 MiB each). */
  chunks: string[];
  /** Characters in all chunks. */
  bytes: number;
  /** How long the process was blocked by the capture, in ms. */
  pauseMs: number;
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
  admitCapture(what);
  const chunks: string[] = [];
  let bytes = 0;
  progress("capture", 0, 1);
  captureStarting();
  const started = performance.now();
  await takeSnapshot((chunk) => {
    chunks.push(chunk);
    bytes += chunk.length;
  });
  const pauseMs = performance.now() - started;
  captureDone(bytes, pauseMs);
  progress("capture", 1, 1);
  return { chunks, bytes, pauseMs };
}

/** A snapshot written to a file by {@linkcode captureToFile}. */
export interface WrittenCapture {
  /** The file. */
  path: string;
  /** Bytes written. */
  bytes: number;
  /** How long the process was blocked by the capture and the write, in ms. */
  pauseMs: number;
}

/**
 * Captures a heap snapshot straight into an owner-only file: each chunk goes
 * to disk as it arrives and is dropped, so the text never piles up in the
 * heap. Nothing is written when the memory check refuses; the file appears
 * under `path` only when complete (a failed capture removes its temporary
 * file).
 *
 * @param what The operation asking, for the refusal message.
 * @param path The `.heapsnapshot` file to write.
 * @param progress Receives `capture` 0/1 and 1/1, then `write` bytes.
 * @returns The file, its size and the pause.
 */
export async function captureToFile(
  what: string,
  path: string,
  progress: Progress,
): Promise<WrittenCapture> {
  admitCapture(what);
  const writer = await PrivateFileWriter.open(path);
  let failure: unknown;
  captureStarting();
  const started = performance.now();
  try {
    progress("capture", 0, 1);
    await takeSnapshot((chunk) => {
      if (failure !== undefined) return;
      try {
        writer.writeSync(chunk);
      } catch (error) {
        // A full disk: remember it, fail the capture once it returns.
        failure = error;
      }
    });
    if (failure !== undefined) throw failure;
    progress("capture", 1, 1);
    const bytes = await writer.commit();
    const pauseMs = performance.now() - started;
    captureDone(bytes, pauseMs);
    progress("write", bytes, bytes);
    return { path, bytes, pauseMs };
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** The memory check of both captures; a refusal is counted in the stats. */
function admitCapture(what: string): void {
  try {
    ensureCaptureFits(what);
  } catch (error) {
    captureRefused();
    throw error;
  }
}

/**
 * Takes the snapshot, handing each chunk to `onChunk` as the inspector
 * sends it; V8 sends them all before the command returns.
 */
async function takeSnapshot(onChunk: (chunk: string) => void): Promise<void> {
  const stop = listen<{ chunk: string }>(
    "HeapProfiler.addHeapSnapshotChunk",
    (params) => onChunk(params.chunk),
  );
  try {
    await post("HeapProfiler.takeHeapSnapshot", {
      reportProgress: false,
      captureNumericValue: false,
    });
  } finally {
    stop();
  }
}
