/**
 * Fork mode's analysis, out of the service's memory: the child that writes
 * a snapshot goes on to read it, analyse it and answer the toolkit's
 * questions about it, so neither the snapshot's text nor its graph ever
 * enters the service (whose RSS stays where it was) and the service's
 * thread never parses a byte.
 *
 * The child has no event loop: it talks through files in a private
 * directory of its own, `ready.json` once analysed, then `query-N.json` in
 * and `reply-N.json` out (each written whole, then renamed), and
 * `progress.json` meanwhile. It polls every 10 ms, ends with its parent
 * (`PR_SET_PDEATHSIG`), on its alarm when left idle, or when the service
 * kills it: the next capture, the toolkit's `close()`, two idle minutes.
 *
 * @module
 */

import { writeHeapSnapshot } from "node:v8";
import { HeapAnalysis, type SnapshotSummary } from "../heap/analysis.ts";
import { answerQuery } from "../heap/answer.ts";
import type { Ownership } from "../heap/holders.ts";
import { SnapshotParser } from "../heap/parser.ts";
import { firstGeneratedId } from "../heap/snapshot_ids.ts";
import type { ProgressFn } from "../heap/progress.ts";
import type { Query } from "../heap/worker_messages.ts";
import {
  allowMoreCpu,
  awaitChild,
  childRunning,
  endChild,
  WALL_TIME_FACTOR,
} from "./fork_capture.ts";
import type { Libc } from "./libc.ts";
import { type SnapshotShape, SnapshotShapeScanner } from "./snapshot_shape.ts";

/** How long an analysed snapshot is kept without a question, ms. */
export const ANALYSIS_IDLE_MS = 2 * 60_000;
/** The child's poll period, µs. */
const POLL_US = 10_000;
/** Bytes read from the snapshot file at a time. */
const READ_BYTES = 1 << 20;
/** Least time between two progress files, ms. */
const PROGRESS_MS = 200;

/** What the child writes to `ready.json`. */
export interface ChildReady {
  /** The analysed snapshot's totals. */
  summary: SnapshotSummary;
  /** Its shape (nodes, index names), for the next estimate; null if unread. */
  shape: SnapshotShape | null;
  /** Characters of snapshot text. */
  bytes: number;
  /**
   * The first id this snapshot gave a node of its own (snapshot_ids.ts
   * `firstGeneratedId`), or null.
   */
  firstGeneratedId: number | null;
}

/** What the child writes to `reply-N.json`. */
type ChildReply =
  | { value: unknown }
  | { error: { name: string; message: string } };

/**
 * The files of one analysis child, under its private directory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AnalysisFiles } from "./fork_analysis.ts";
 * const files = new AnalysisFiles("/home/u/.leakwatch/snapshots/.analysis-1-x");
 * assert.equal(files.query(2), "/home/u/.leakwatch/snapshots/.analysis-1-x/query-2.json");
 * assert.ok(files.ready.endsWith("/ready.json"));
 * ```
 */
export class AnalysisFiles {
  /** @param dir The child's private directory. */
  constructor(readonly dir: string) {}
  /** The snapshot the child writes and removes once read. */
  get snapshot(): string {
    return `${this.dir}/snapshot.heapsnapshot`;
  }
  /** Where the child's stdout and stderr go. */
  get log(): string {
    return `${this.dir}/child.log`;
  }
  /** Written once the snapshot is analysed. */
  get ready(): string {
    return `${this.dir}/ready.json`;
  }
  /** The child's latest progress. */
  get progress(): string {
    return `${this.dir}/progress.json`;
  }
  /**
   * @param n The question's number, from 1.
   * @returns Its file.
   */
  query(n: number): string {
    return `${this.dir}/query-${n}.json`;
  }
  /**
   * @param n The question's number, from 1.
   * @returns Its answer's file.
   */
  reply(n: number): string {
    return `${this.dir}/reply-${n}.json`;
  }
}

/** How the child is told to run. */
export interface ServeOptions {
  /** Its files. */
  files: AnalysisFiles;
  /** Which scripts are the console's. */
  ownership: Ownership;
  /** The service's pid: the child ends when its parent is another. */
  parent: number;
  /** The CPU time allowed for each question, seconds. */
  workSeconds: number;
}

/**
 * The child's whole life after its set-up (fork_capture.ts `work`): the
 * snapshot, its analysis, then questions until it is killed. Synchronous
 * throughout; never returns unless it fails (the caller `_exit`s then).
 * Runs only in a forked child (capture.ts `analyseInChild` forks it).
 *
 * @example
 * ```ts ignore
 * snapshotInChild(files.snapshot, files.log, {
 *   watchdogSeconds: 120,
 *   work: () => serveAnalysis(lib, { files, ownership: {}, parent, workSeconds: 120 }),
 *   ready: () => exists(files.ready),
 * });
 * ```
 *
 * @param lib The C library.
 * @param options Files, ownership, limits.
 */
export function serveAnalysis(lib: Libc, options: ServeOptions): void {
  const { files } = options;
  writeHeapSnapshot(files.snapshot);
  const progress = progressWriter(files.progress);
  const { analysis, shape, bytes } = analyseFile(
    files.snapshot,
    options.ownership,
    progress,
  );
  Deno.removeSync(files.snapshot);
  const ready: ChildReady = {
    summary: analysis.summary(),
    shape,
    bytes,
    firstGeneratedId: firstGeneratedId(analysis.graph) ?? null,
  };
  writeWhole(files.ready, JSON.stringify(ready));
  const idleSeconds = Math.ceil(ANALYSIS_IDLE_MS / 1000) + 60;
  lib.alarm(idleSeconds);
  for (let n = 1;; n++) {
    let text: string | undefined;
    while ((text = readIfThere(files.query(n))) === undefined) {
      if (lib.getppid() !== options.parent) return;
      lib.usleep(POLL_US);
    }
    // Its CPU time, and thirty times that of wall time (a starved child is
    // slow, not hung; one that waits without CPU the service stops).
    allowMoreCpu(lib, options.workSeconds);
    lib.alarm(options.workSeconds * WALL_TIME_FACTOR);
    let reply: ChildReply;
    try {
      reply = { value: answerQuery(analysis, JSON.parse(text) as Query) };
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      reply = { error: { name: err.name, message: err.message } };
    }
    writeWhole(files.reply(n), JSON.stringify(reply));
    lib.alarm(idleSeconds);
  }
}

/** Parses and analyses a snapshot file, reading its shape on the way. */
function analyseFile(
  path: string,
  ownership: Ownership,
  progress: ProgressFn,
): { analysis: HeapAnalysis; shape: SnapshotShape | null; bytes: number } {
  const parser = new SnapshotParser();
  let scanner: SnapshotShapeScanner | undefined = new SnapshotShapeScanner();
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(READ_BYTES);
  const file = Deno.openSync(path);
  const total = file.statSync().size;
  let done = 0;
  let bytes = 0;
  const push = (text: string) => {
    if (text === "") return;
    bytes += text.length;
    parser.push(text);
    try {
      scanner?.push(text);
    } catch {
      scanner = undefined;
    }
  };
  try {
    while (true) {
      const n = file.readSync(buffer);
      if (n === null || n === 0) break;
      done += n;
      push(decoder.decode(buffer.subarray(0, n), { stream: true }));
      progress("parse", done, total);
    }
    push(decoder.decode());
  } finally {
    file.close();
  }
  let shape: SnapshotShape | null = null;
  try {
    shape = scanner?.result() ?? null;
  } catch {
    shape = null;
  }
  const analysis = HeapAnalysis.from(parser.finish(), progress, ownership);
  return { analysis, shape, bytes };
}

/** Writes the latest progress at most every {@linkcode PROGRESS_MS}. */
function progressWriter(path: string): ProgressFn {
  let last = 0;
  return (label, done, total) => {
    const now = performance.now();
    if (now - last < PROGRESS_MS && done < total) return;
    last = now;
    writeWhole(path, JSON.stringify({ label, done, total }));
  };
}

/** Writes a file under another name, then renames it: never seen half. */
function writeWhole(path: string, text: string): void {
  Deno.writeTextFileSync(`${path}.part`, text, { mode: 0o600 });
  Deno.renameSync(`${path}.part`, path);
}

/** A file's text, or undefined when it is not there (yet). */
function readIfThere(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** The limits a question is answered within. */
export interface ChildLimits {
  /** Killed when its CPU time stops moving this long, ms. */
  stallMs?: number;
  /** The most a piece of work may take, seconds. */
  watchdogSeconds: number;
  /** Its memory cap above the service's address space, bytes. */
  capBytes?: number;
}

/**
 * The service's handle on an analysis child that holds an analysed
 * snapshot: asks it questions, and ends it.
 *
 * @example
 * ```ts ignore
 * const child = new AnalysisChild(pid, files, limits);
 * const rows = await child.query({ kind: "top", n: 10 });
 * child.close();
 * ```
 */
export class AnalysisChild {
  #next = 1;
  #closed = false;
  #idle: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param pid The child, analysed and waiting for questions.
   * @param files Its files.
   * @param limits How long and how much a question may take.
   */
  constructor(
    readonly pid: number,
    readonly files: AnalysisFiles,
    readonly limits: ChildLimits,
  ) {
    this.#armIdle();
  }

  /** Whether the child still runs, holding its snapshot. */
  get hasSnapshot(): boolean {
    if (this.#closed) return false;
    if (childRunning(this.pid)) return true;
    // Ended on its own (the OOM killer, an operator): its folder goes too.
    this.close();
    return false;
  }

  /**
   * Asks the child a question and waits for its answer, forwarding its
   * progress; the service keeps serving meanwhile.
   *
   * @param query The question.
   * @param onProgress Receives what a long question is doing.
   * @returns The answer.
   * @throws When the child failed, was stopped, or answered with an error.
   */
  async query<T>(query: Query, onProgress?: ProgressFn): Promise<T> {
    if (this.#closed) {
      throw new Error("The analysis child was stopped: capture again");
    }
    this.#clearIdle();
    const n = this.#next++;
    const { files } = this;
    let reply: ChildReply;
    try {
      await Deno.writeTextFile(
        `${files.query(n)}.part`,
        JSON.stringify(query),
        { mode: 0o600 },
      );
      await Deno.rename(`${files.query(n)}.part`, files.query(n));
      const progress = progressReader(files.progress, onProgress);
      await awaitChild(this.pid, () => {
        progress();
        return exists(files.reply(n));
      }, { ...this.limits, logPath: files.log });
      reply = JSON.parse(await Deno.readTextFile(files.reply(n)));
      await Deno.remove(files.reply(n)).catch(() => {});
      await Deno.remove(files.query(n)).catch(() => {});
    } catch (error) {
      // A child that failed a question is not asked another.
      this.close();
      throw error;
    } finally {
      this.#armIdle();
    }
    if ("error" in reply) throw new Error(reply.error.message);
    return reply.value as T;
  }

  /** Kills the child and removes its files (nothing when done already). */
  close(): void {
    this.#clearIdle();
    if (this.#closed) return;
    this.#closed = true;
    endChild(this.pid);
    try {
      Deno.removeSync(this.files.dir, { recursive: true });
    } catch {
      // Gone already.
    }
  }

  #armIdle(): void {
    this.#clearIdle();
    if (this.#closed) return;
    this.#idle = setTimeout(() => this.close(), ANALYSIS_IDLE_MS);
    Deno.unrefTimer(this.#idle as unknown as number);
  }

  #clearIdle(): void {
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    this.#idle = undefined;
  }
}

/**
 * A poll that forwards the child's progress file when it changed, read at
 * most every 250 ms.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progressReader } from "./fork_analysis.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, JSON.stringify({ label: "parse", done: 1, total: 4 }));
 * const seen: unknown[] = [];
 * progressReader(path, (...args) => seen.push(args))();
 * assert.deepEqual(seen, [["parse", 1, 4]]);
 * await Deno.remove(path);
 * ```
 *
 * @param path The child's progress file.
 * @param onProgress Where it goes (nothing is read without it).
 * @returns The poll.
 */
export function progressReader(
  path: string,
  onProgress: ProgressFn | undefined,
): () => void {
  let last = 0;
  let seen = "";
  return () => {
    if (!onProgress) return;
    const now = performance.now();
    if (now - last < 250) return;
    last = now;
    const text = readIfThere(path);
    if (text === undefined || text === seen) return;
    seen = text;
    try {
      const { label, done, total } = JSON.parse(text);
      onProgress(label, done, total);
    } catch {
      // Being replaced: the next poll reads it.
    }
  };
}

/**
 * Whether a file is there (a sync check, for polls).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exists } from "./fork_analysis.ts";
 * assert.equal(exists(Deno.cwd()), true);
 * assert.equal(exists(`${Deno.cwd()}/no such file here`), false);
 * ```
 *
 * @param path The file.
 * @returns True when it can be stat'ed.
 */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
