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
import type { SnapshotSummary } from "../heap/analysis.ts";
import type { Ownership } from "../heap/holders.ts";
import {
  AnalysisChild,
  AnalysisFiles,
  type ChildReady,
  exists,
  progressReader,
  serveAnalysis,
} from "./fork_analysis.ts";
import { ForkCaptureError, forkLibc, snapshotInChild } from "./fork_capture.ts";
import { errno, type Libc } from "./libc.ts";

/** `kill(pid, 0)`'s errno for a process that exists but is not ours. */
const EPERM = 1;
import { type CaptureEstimate, ensureCaptureFits, heapRoom } from "./memory.ts";
import { SnapshotShapeScanner } from "./snapshot_shape.ts";
import {
  captureDone,
  captureRefused,
  captureStarting,
  childFailed,
  lastShape,
  linkedTarget,
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
 * The taker of this process's captures: through the inspector when the
 * toolkit drives another process (a fork would copy this one), else as the
 * mode says.
 *
 * @returns In-process, or fork when permitted.
 */
export function snapshotTaker(): SnapshotTaker {
  if (linkedTarget() !== undefined) return SNAPSHOT_TAKERS["in-process"];
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
  const taken = await takeCounted(() =>
    taker.stream((chunk) => {
      chunks.push(chunk);
      bytes += chunk.length;
      shape.push(chunk);
    }, admitted.limits)
  );
  record(taker.mode, bytes, taken, admitted, shape.result(heapUsed));
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
    const taken = await takeCounted(() =>
      taker.write(writer, (chunk) => shape.push(chunk), admitted.limits)
    );
    progress("capture", 1, 1);
    await writer.commit();
    const bytes = (await Deno.stat(path)).size;
    record(taker.mode, bytes, taken, admitted, shape.result(heapUsed));
    progress("write", bytes, bytes);
    return { path, bytes, pauseMs: taken.pauseMs };
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** A snapshot analysed in a child (fork mode), which holds it. */
export interface AnalysedInChild {
  /** Its totals. */
  summary: SnapshotSummary;
  /** The child, waiting for questions. */
  child: AnalysisChild;
}

/**
 * Fork mode's capture and analysis: after the admission check, a child
 * writes the snapshot, analyses it and stays to answer questions
 * (fork_analysis.ts); the service pauses for `fork()` only, plus one walk
 * of its heap when `numbered`.
 *
 * `numbered` is for a snapshot later ones are compared with (a
 * `heap.leaks()` baseline, every `heap.growth()`) or that is searched for
 * a live object's id. V8 numbers heap objects in the service's map of
 * object ids, which a child's numbering never reaches: a numbered capture
 * first gives every live object an id in the service
 * ({@linkcode updateObjectIds}: a GC and a walk of the heap, ~0.3 s for
 * 150 000 objects), which V8 then keeps as the GC moves it. Its
 * summary's `maxNodeId` is then the walk's highest id (the child's first
 * id of its own, less one step: `firstGeneratedId`), not the snapshot's:
 * later children number the objects born since from the very next id, as
 * the child did its own nodes. An unnumbered capture (the second
 * `heap.leaks()`, `heap.top()`) costs `fork()` alone and leaves the
 * service's ids as they were. (`HeapProfiler.getHeapObjectId` only looks
 * an object up, never numbers it: the service cannot learn its highest id
 * without a walk.)
 *
 * @param what The operation asking, for the refusal message.
 * @param progress Receives `capture` 0/1, the child's `parse` and analysis
 * phases, `capture` 1/1.
 * @param ownership Which scripts are the console's.
 * @param numbered Number the service's objects first (see above).
 * @returns The summary and the child.
 * @throws {ForkCaptureError} When the child failed; a refusal when it
 * would not fit.
 */
export async function analyseInChild(
  what: string,
  progress: Progress,
  ownership: Ownership,
  numbered: boolean,
): Promise<AnalysedInChild> {
  const lib = forkLibc();
  const admitted = await admitCapture(what, "fork");
  const parentDir = await captureDirectory();
  await removeOrphans(lib, parentDir);
  const dir = `${parentDir}/.analysis-${Deno.pid}-${crypto.randomUUID()}`;
  await Deno.mkdir(dir, { mode: 0o700 });
  const files = new AnalysisFiles(dir);
  progress("capture", 0, 1);
  captureStarting();
  const heapUsed = smallObjectHeap();
  const parent = Deno.pid;
  const forwarded = progressReader(files.progress, progress);
  try {
    const child = await takeCounted(async () => {
      const done = await snapshotInChild(files.snapshot, files.log, {
        ...admitted.limits,
        beforeFork: numbered ? updateObjectIds : undefined,
        work: () =>
          serveAnalysis(lib, {
            files,
            ownership,
            parent,
            workSeconds: admitted.limits.watchdogSeconds,
          }),
        ready: () => {
          forwarded();
          return exists(files.ready);
        },
      });
      if (done.attempts > 1) childFailed(done.attempts - 1);
      return done;
    });
    const ready = JSON.parse(
      await Deno.readTextFile(files.ready),
    ) as ChildReady;
    const frontier = numbered && ready.firstGeneratedId !== null
      ? ready.firstGeneratedId - 2
      : undefined;
    // The pause: fork(); for a numbered one, the walk of V8's ids too.
    record(
      "fork",
      ready.bytes,
      { pauseMs: child.pauseMs, peakBytes: child.childGrowth },
      admitted,
      ready.shape ? { ...ready.shape, heapUsed } : undefined,
    );
    progress("capture", 1, 1);
    return {
      summary: frontier === undefined
        ? ready.summary
        : { ...ready.summary, maxNodeId: frontier },
      child: new AnalysisChild(child.pid, files, {
        watchdogSeconds: admitted.limits.watchdogSeconds,
        capBytes: admitted.limits.capBytes,
      }),
    };
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
}

/**
 * Removes the folders of analysis children whose service is gone (killed
 * before it could remove them: its child died with it).
 */
async function removeOrphans(lib: Libc, dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const pid = Number(entry.name.match(/^\.analysis-(\d+)-/)?.[1]);
    if (!entry.isDirectory || !(pid > 0) || pid === Deno.pid) continue;
    // kill(pid, 0): 0 or EPERM while the process exists.
    if (lib.kill(pid, 0) === 0 || errno(lib) === EPERM) continue;
    await Deno.remove(`${dir}/${entry.name}`, { recursive: true })
      .catch(() => {});
  }
}

/** What the admission check decided. */
interface Admitted {
  estimate: CaptureEstimate;
  limits: CaptureLimits;
}

/**
 * The memory check of both captures: the heap's expected shape (the last
 * snapshot's, scaled; else, in-process, a probe of its Maps and Sets), the
 * mode's cost model, the limits. A refusal is counted in the stats.
 *
 * A first capture in a child is not probed: the probe
 * (`Runtime.queryObjects` on Map and Set, a few full GCs and walks of the
 * heap) paused the service ~0.2 s on a fresh service and ~0.5 s at 30 000
 * cached users, as long as the walk and the `fork()` together, to protect
 * what a child does not put at risk. The guess from the heap's size decides
 * the refusal, and the child may take the memory available (its cap), the
 * first the kernel's OOM killer picks (`oom_score_adj` 1000): a heap that
 * needs more ends the child, never the service, with a line saying so.
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
    const shape = mode === "fork"
      ? sizedShape(heapUsed)
      : await probedOrSized(heapUsed);
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
 * never past the memory left (the memory left itself when the estimate is
 * a guess from the heap's size: Maps and Sets of strings need up to 3.3×
 * that guess in `bench:capture`, and more for smaller keys); its alarm at
 * 2 minutes plus 100 µs a node (a child that stops using CPU is stopped
 * long before).
 */
function limitsFor(estimate: CaptureEstimate): CaptureLimits {
  const watchdogSeconds = 120 + Math.ceil(estimate.shape.nodes / 10_000);
  if (estimate.mode !== "fork") return { watchdogSeconds };
  let cap = Math.ceil(estimate.need * 1.5) + 256 * 2 ** 20;
  if (estimate.available !== null) {
    cap = estimate.shape.source === "heap size"
      ? estimate.available
      : Math.min(cap, estimate.available);
  }
  return { capBytes: cap, watchdogSeconds };
}

/** Runs a capture, counting the children that failed on the way. */
async function takeCounted<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
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
    try {
      const child = await snapshotInChild(writer.tempPath, log, limits);
      if (child.attempts > 1) childFailed(child.attempts - 1);
      await readBack(writer.tempPath, onChunk);
      return { pauseMs: child.pauseMs, peakBytes: child.childGrowth };
    } finally {
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
