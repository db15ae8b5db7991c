/**
 * Taking a heap snapshot: the admission check (will it fit?), the capture
 * itself — in the service's own thread, or in a forked child when the
 * process may call libc (fork_capture.ts) — and the hand-off of its text to
 * the analysis worker or to an owner-only file. Behind one small interface,
 * {@linkcode SnapshotTaker}, so a capture of another process (over its
 * inspector) can be one more implementation.
 *
 * @module
 */

import process from "node:process";
import type { ProgressFn } from "../heap/progress.ts";
import { PrivateFileWriter } from "../private_file.ts";
import { ensurePrivateDirectory, stateDirectory } from "../state_dir.ts";
import {
  type CaptureMode,
  captureMode,
  type HeapShape,
  probedShape,
  probeTables,
  scaledShape,
  sizedShape,
  smallObjectHeap,
} from "./capture_cost.ts";
import { ForkCaptureError, snapshotInChild } from "./fork_capture.ts";
import { type CaptureEstimate, ensureCaptureFits, heapRoom } from "./memory.ts";
import { heapObjectId } from "./inspector_handles.ts";
import { SnapshotShapeScanner } from "./snapshot_shape.ts";
import {
  captureDone,
  captureRefused,
  captureStarting,
  childFailed,
  lastShape,
  listen,
  post,
} from "./toolkit_state.ts";

export type { CaptureStats } from "./toolkit_state.ts";
export { type CaptureMode, captureMode } from "./capture_cost.ts";
export {
  analysisClient,
  captureStats,
  closeAnalysis,
} from "./toolkit_state.ts";

/** Receives progress: label, steps done, steps in total (the one type). */
export type Progress = ProgressFn;

/** A captured snapshot, its text in the service's isolate. */
export interface Capture {
  /** The snapshot text, in chunks of about 1 MiB. */
  chunks: string[];
  /** Characters in all chunks. */
  bytes: number;
  /** How long the service was blocked by the capture, in ms. */
  pauseMs: number;
}

/** A snapshot written to a file by {@linkcode captureToFile}. */
export interface WrittenCapture {
  /** The file. */
  path: string;
  /** Bytes written. */
  bytes: number;
  /** How long the service was blocked by the capture, in ms. */
  pauseMs: number;
}

/** Options of {@linkcode capture} and {@linkcode captureToFile}. */
export interface CaptureOptions {
  /** How to take the snapshot (default: {@linkcode snapshotTaker}). */
  taker?: SnapshotTaker;
}

/** What a {@linkcode SnapshotTaker} is allowed, from the admission check. */
export interface CaptureLimits {
  /** Most memory a child may add (fork mode), bytes. */
  capBytes?: number;
  /** A child's hard time limit, seconds. */
  watchdogSeconds: number;
}

/** What taking a snapshot cost the service. */
export interface Taken {
  /** How long the service was blocked, ms. */
  pauseMs: number;
  /** Peak memory of the capture, measured, bytes (null when unknown). */
  peakBytes: number | null;
  /**
   * Called with the snapshot's highest node id once it has been read:
   * keeps the service's heap object ids past the ones the child used.
   */
  settle?: (maxNodeId: number) => Promise<void>;
}

/**
 * One way of taking a heap snapshot. Both methods hand the snapshot's text
 * to `onChunk`, in order (the caller reads its shape from it).
 */
export interface SnapshotTaker {
  /** Where the snapshot is taken, for `mem()` and the cost model. */
  readonly mode: CaptureMode;
  /**
   * Takes a snapshot; its text goes to `onChunk` only.
   *
   * @param onChunk Receives the text.
   * @param limits From the admission check.
   * @returns The cost.
   */
  stream(
    onChunk: (chunk: string) => void,
    limits: CaptureLimits,
  ): Promise<Taken>;
  /**
   * Takes a snapshot into the writer's temporary file (the caller commits
   * or aborts it); its text also goes to `onChunk`.
   *
   * @param writer The owner-only file being written.
   * @param onChunk Receives the text.
   * @param limits From the admission check.
   * @returns The cost.
   */
  write(
    writer: PrivateFileWriter,
    onChunk: (chunk: string) => void,
    limits: CaptureLimits,
  ): Promise<Taken>;
}

/**
 * The taker of this process's captures.
 *
 * @returns In-process, or fork when permitted.
 */
export function snapshotTaker(): SnapshotTaker {
  return SNAPSHOT_TAKERS[captureMode()];
}

/**
 * Captures a heap snapshot after checking that its memory peak fits.
 *
 * @param what The operation asking, for the refusal message.
 * @param progress Receives `capture` 0/1 and 1/1.
 * @param options `taker`: how to take it (default: this process's mode).
 * @returns The chunks.
 */
export async function capture(
  what: string,
  progress: Progress,
  options: CaptureOptions = {},
): Promise<Capture> {
  const taker = options.taker ?? snapshotTaker();
  const admitted = await admitCapture(what, taker.mode);
  const chunks: string[] = [];
  let bytes = 0;
  const shape = new ShapeReader();
  progress("capture", 0, 1);
  captureStarting();
  const heapUsed = smallObjectHeap();
  const taken = await takeCounted(taker, (t) =>
    t.stream((chunk) => {
      chunks.push(chunk);
      bytes += chunk.length;
      shape.push(chunk);
    }, admitted.limits));
  const read = shape.result(heapUsed);
  if (read) await taken.settle?.(read.maxNodeId);
  record(taker.mode, bytes, taken, admitted, read);
  progress("capture", 1, 1);
  return { chunks, bytes, pauseMs: taken.pauseMs };
}

/**
 * Captures a heap snapshot straight into an owner-only file: in-process,
 * each chunk goes to disk as it arrives and is dropped; in a child, the
 * child writes the file. Nothing is written when the memory check refuses;
 * the file appears under `path` only when complete (a failed capture
 * removes its temporary file).
 *
 * @param what The operation asking, for the refusal message.
 * @param path The `.heapsnapshot` file to write.
 * @param progress Receives `capture` 0/1 and 1/1, then `write` bytes.
 * @param options `taker`: how to take it (default: this process's mode).
 * @returns The file, its size and the pause.
 */
export async function captureToFile(
  what: string,
  path: string,
  progress: Progress,
  options: CaptureOptions = {},
): Promise<WrittenCapture> {
  const taker = options.taker ?? snapshotTaker();
  const admitted = await admitCapture(what, taker.mode);
  const writer = await PrivateFileWriter.open(path);
  const shape = new ShapeReader();
  captureStarting();
  const heapUsed = smallObjectHeap();
  try {
    progress("capture", 0, 1);
    const taken = await takeCounted(
      taker,
      (t) => t.write(writer, (chunk) => shape.push(chunk), admitted.limits),
    );
    progress("capture", 1, 1);
    await writer.commit();
    const bytes = (await Deno.stat(path)).size;
    const read = shape.result(heapUsed);
    if (read) await taken.settle?.(read.maxNodeId);
    record(taker.mode, bytes, taken, admitted, read);
    progress("write", bytes, bytes);
    return { path, bytes, pauseMs: taken.pauseMs };
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** What the admission check decided. */
interface Admitted {
  estimate: CaptureEstimate;
  limits: CaptureLimits;
}

/**
 * The memory check of both captures: the heap's expected shape (the last
 * snapshot's, scaled; else a probe of its Maps and Sets: a pause of a GC
 * and a heap walk, once), the mode's cost model, the limits. A refusal is
 * counted in the stats.
 */
async function admitCapture(
  what: string,
  mode: CaptureMode,
): Promise<Admitted> {
  try {
    const heapUsed = smallObjectHeap();
    const last = lastShape();
    if (last !== undefined) {
      const shape = scaledShape(last, heapUsed);
      const estimate = ensureCaptureFits(what, heapRoom(), { shape, mode });
      return { estimate, limits: limitsFor(estimate) };
    }
    const shape = await probedOrSized(heapUsed);
    const estimate = ensureCaptureFits(what, heapRoom(), { shape, mode });
    return { estimate, limits: limitsFor(estimate) };
  } catch (error) {
    captureRefused();
    throw error;
  }
}

/**
 * The heap's shape from a probe of its Maps and Sets; from its size alone
 * when the probe cannot run (no inspector).
 */
async function probedOrSized(heapUsed: number): Promise<HeapShape> {
  try {
    return probedShape(heapUsed, await probeTables(post));
  } catch {
    return sizedShape(heapUsed);
  }
}

/**
 * A child's limits: its memory cap at the estimate plus half of it and
 * 256 MiB for the address space a child reserves beyond what it touches,
 * never past the memory left; its alarm at 2 minutes plus 100 µs a node
 * (a child that stops using CPU is stopped long before).
 */
function limitsFor(estimate: CaptureEstimate): CaptureLimits {
  const watchdogSeconds = 120 + Math.ceil(estimate.shape.nodes / 10_000);
  if (estimate.mode !== "fork") return { watchdogSeconds };
  let cap = Math.ceil(estimate.need * 1.5) + 256 * 2 ** 20;
  if (estimate.available !== null) cap = Math.min(cap, estimate.available);
  return { capBytes: cap, watchdogSeconds };
}

/** Runs a capture, counting the children that failed on the way. */
async function takeCounted(
  taker: SnapshotTaker,
  run: (taker: SnapshotTaker) => Promise<Taken>,
): Promise<Taken> {
  try {
    return await run(taker);
  } catch (error) {
    if (error instanceof ForkCaptureError && error.reason !== "fork") {
      childFailed();
    }
    throw error;
  }
}

function record(
  mode: CaptureMode,
  bytes: number,
  taken: Taken,
  admitted: Admitted,
  shape: ReturnType<ShapeReader["result"]>,
): void {
  captureDone({
    bytes,
    pauseMs: taken.pauseMs,
    mode,
    estimate: admitted.estimate.need,
    source: admitted.estimate.shape.source,
    peak: taken.peakBytes,
    shape,
  });
}

/**
 * Feeds a snapshot's text to the shape scanner; a text it cannot read
 * (another engine's format) leaves the next estimate to the probe.
 */
class ShapeReader {
  #scanner: SnapshotShapeScanner | undefined = new SnapshotShapeScanner();

  push(chunk: string): void {
    try {
      this.#scanner?.push(chunk);
    } catch {
      this.#scanner = undefined;
    }
  }

  result(heapUsed: number) {
    try {
      const shape = this.#scanner?.result();
      return shape ? { ...shape, heapUsed } : undefined;
    } catch {
      return undefined;
    }
  }
}

/** Captures in the service's own thread, through the inspector. */
const inProcessTaker: SnapshotTaker = {
  mode: "in-process",
  async stream(onChunk) {
    const rssBefore = Deno.memoryUsage().rss;
    const peakBefore = peakRss();
    const started = performance.now();
    await takeSnapshot(onChunk);
    const pauseMs = performance.now() - started;
    const peakAfter = peakRss();
    return {
      pauseMs,
      // A peak below an earlier one is not seen (getrusage keeps the max).
      peakBytes: peakAfter > peakBefore ? peakAfter - rssBefore : null,
    };
  },
  async write(writer, onChunk, limits) {
    let failure: unknown;
    const taken = await this.stream((chunk) => {
      onChunk(chunk);
      if (failure !== undefined) return;
      try {
        writer.writeSync(chunk);
      } catch (error) {
        // A full disk: remember it, fail the capture once it returns.
        failure = error;
      }
    }, limits);
    if (failure !== undefined) throw failure;
    return taken;
  },
};

/**
 * Captures in a forked child (fork_capture.ts): the child writes the file;
 * the service reads it back in pieces, between which it keeps serving.
 */
const forkTaker: SnapshotTaker = {
  mode: "fork",
  async stream(onChunk, limits) {
    const dir = await captureDirectory();
    const writer = await PrivateFileWriter.open(
      `${dir}/.capture-${crypto.randomUUID()}.heapsnapshot`,
    );
    try {
      const taken = await this.write(writer, onChunk, limits);
      return taken;
    } finally {
      await writer.abort();
    }
  },
  async write(writer, onChunk, limits) {
    const log = `${writer.tempPath}.log`;
    let burnt: Promise<BurnResult> | undefined;
    try {
      const child = await snapshotInChild(writer.tempPath, log, {
        ...limits,
        beforeFork: updateObjectIds,
        onSpawn() {
          burnt ??= burnObjectIds(idsToBurn);
        },
      });
      if (child.attempts > 1) childFailed(child.attempts - 1);
      await readBack(writer.tempPath, onChunk);
      const burn = await burnt!;
      return {
        // fork(), and the two updates of V8's object ids around it.
        pauseMs: child.pauseMs + burn.ms,
        peakBytes: child.childGrowth,
        settle: (maxNodeId) => settleObjectIds(burn.highest, maxNodeId),
      };
    } finally {
      await burnt?.catch(() => {});
      await Deno.remove(log).catch(() => {});
    }
  },
};

/**
 * Both takers, by mode: the in-process one works everywhere; the fork one
 * only where {@linkcode captureMode} says `"fork"`.
 */
export const SNAPSHOT_TAKERS: Readonly<Record<CaptureMode, SnapshotTaker>> = {
  "in-process": inProcessTaker,
  "fork": forkTaker,
};

/**
 * Brings V8's map of heap object ids up to date in the service, before it
 * forks. A snapshot's node ids come from that map; a child updates only
 * its own copy, so without this every child would number the objects
 * anew, and `heap.leaks()` and `heap.growth()` (objects newer than the
 * last snapshot's highest id) would compare unrelated numbers.
 * `HeapProfiler.startTrackingHeapObjects` does the update (a GC and a walk
 * of the heap: 0.3 s for ~150 000 objects, 2–3.4 s for ~1.2 M at a load
 * average of 11; docs/capture.md) and keeps the ids of
 * objects the GC moves, as an in-process snapshot does from its first on.
 * Deno's inspector sends no periodic heap statistics with it.
 *
 * @returns The pause, ms.
 */
async function updateObjectIds(): Promise<number> {
  const started = performance.now();
  await post("HeapProfiler.startTrackingHeapObjects", {
    trackAllocations: false,
  });
  return performance.now() - started;
}

/**
 * Objects allocated (and numbered) after each fork, so the service's next
 * heap object ids are past those the child gave the nodes it generated
 * (one per small integer value it reports, the roots…: ~17 000 ids for an
 * 89 000-node snapshot). Adjusted after each capture.
 */
let idsToBurn = 20_000;

/**
 * Numbers `count` new objects in the service (right after `fork()`, while
 * the child works), so its ids move past the child's.
 *
 * @returns About the highest id now, and the pause.
 */
async function burnObjectIds(count: number): Promise<BurnResult> {
  const started = performance.now();
  let dummies: object[] | undefined = Array.from({ length: count }, () => ({}));
  await post("HeapProfiler.startTrackingHeapObjects", {
    trackAllocations: false,
  });
  let highest = 0;
  for (const at of [0, count >> 1, count - 1]) {
    highest = Math.max(highest, await heapObjectId(dummies[at]!));
  }
  dummies = undefined;
  return { highest, ms: performance.now() - started };
}

/** What {@linkcode burnObjectIds} did. */
interface BurnResult {
  /** About the highest id the service has given now. */
  highest: number;
  /** How long it paused the service (a GC and a walk of the heap), ms. */
  ms: number;
}

/**
 * Checks the service's ids got past the child's highest; burns the rest
 * when they did not (objects born during that capture may then share ids
 * with the child's), and sizes the next burn from what this one needed.
 */
async function settleObjectIds(
  burntTo: number,
  childMax: number,
): Promise<void> {
  const lacking = Math.ceil((childMax - burntTo) / 2);
  const used = Math.ceil((childMax - (burntTo - 2 * idsToBurn)) / 2);
  idsToBurn = Math.max(20_000, Math.ceil(used * 1.5));
  // Generously: V8 gives a new object at a dead one's address its id
  // until the next walk drops it, so a burn numbers fewer than it makes.
  if (lacking > 0) await burnObjectIds(2 * lacking + 10_000);
}

/** Reads a snapshot file in pieces of 1 MiB, yielding between them. */
async function readBack(
  path: string,
  onChunk: (chunk: string) => void,
): Promise<void> {
  using file = await Deno.open(path);
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(1 << 20);
  while (true) {
    const n = await file.read(buffer);
    if (n === null) break;
    const text = decoder.decode(buffer.subarray(0, n), { stream: true });
    if (text !== "") onChunk(text);
  }
  const tail = decoder.decode();
  if (tail !== "") onChunk(tail);
}

/**
 * Where a child writes a snapshot that is only read back: the private
 * `~/.leakwatch/snapshots` the `start` tasks may write.
 */
async function captureDirectory(): Promise<string> {
  const dir = `${stateDirectory()}/snapshots`;
  const state = Deno.permissions.querySync({ name: "write", path: dir }).state;
  if (state !== "granted") {
    throw new ForkCaptureError(
      "fork",
      `A capture in a child needs --allow-write on "${dir}"`,
    );
  }
  return await ensurePrivateDirectory(dir);
}

/** The process's peak RSS so far (getrusage), bytes. */
function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/**
 * Takes the snapshot through the inspector, handing each chunk to
 * `onChunk` as it is sent; V8 sends them all before the command returns.
 * `reportProgress` is deliberately off: with it, Deno 2.9.6 segfaults on
 * heaps above a few MiB (the same bug as nodejs/node#44634), and
 * in-process its events arrive only after the capture anyway.
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
