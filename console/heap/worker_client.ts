/**
 * The service-side handle on the heap analysis worker: starts it lazily,
 * streams snapshot chunks to it with back-pressure, forwards its progress
 * and turns its replies into promises.
 *
 * @module
 */

import type { SnapshotSummary } from "./analysis.ts";
import type { Ownership } from "./holders.ts";
import type { ProgressFn } from "./progress.ts";
import type { Query, WorkerReply, WorkerRequest } from "./worker_messages.ts";
import { workerError } from "../worker_error.ts";

/** How long the worker may sit idle before it stops and frees its snapshot. */
const IDLE_MS = 2 * 60_000;

/** Where a written snapshot went. */
export interface WrittenSnapshot {
  /** File path. */
  path: string;
  /** Characters written (the file is ASCII, so also bytes). */
  bytes: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  onProgress?: ProgressFn;
  onAck?: () => void;
}

/** Chunks in flight before waiting for the worker to catch up. */
const WINDOW = 4;

/**
 * Talks to `analysis_worker.ts`. One instance per process is enough: the
 * worker keeps the last analysed snapshot for follow-up queries.
 *
 * @example
 * ```ts ignore
 * const client = new AnalysisClient();
 * const summary = await client.load(chunks, totalBytes);
 * const top = await client.query({ kind: "top", n: 10 });
 * client.close();
 * ```
 */
export class AnalysisClient {
  #worker: Worker | undefined;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #loaded = false;

  /** Whether the worker holds an analysed snapshot. */
  get hasSnapshot(): boolean {
    return this.#loaded && this.#worker !== undefined;
  }

  /**
   * Throws a clear error, before anything expensive happens, when the worker
   * could not load its code: its folder needs `--allow-read` (except in a
   * `deno compile` binary, which embeds it).
   */
  preflight(): void {
    if (this.#worker) return;
    const dir = new URL(".", import.meta.url);
    if (dir.protocol !== "file:" || dir.pathname.includes("/deno-compile-")) {
      return;
    }
    const path = decodeURIComponent(dir.pathname);
    const state = Deno.permissions.querySync({ name: "read", path }).state;
    if (state !== "granted") {
      throw analysisWorkerError(`Requires read access to "${path}"`);
    }
  }

  /**
   * Streams a snapshot into the worker and analyses it. The array is emptied
   * as chunks are sent, so the service's isolate can drop them early.
   *
   * @param chunks Snapshot text in pieces.
   * @param onProgress Parse progress in characters, then analysis phases.
   * @param ownership Which scripts are the console's.
   * @returns Totals of the analysed snapshot.
   */
  async load(
    chunks: string[],
    onProgress?: ProgressFn,
    ownership?: Ownership,
  ): Promise<SnapshotSummary> {
    this.#loaded = false;
    const value = await this.#stream(chunks, undefined, onProgress, ownership);
    this.#loaded = true;
    return value as SnapshotSummary;
  }

  /**
   * Streams a snapshot into a file, from the worker.
   *
   * @param chunks Snapshot text in pieces (emptied as sent).
   * @param path Destination file.
   * @param onProgress Write progress in characters.
   * @returns The path and size.
   */
  async write(
    chunks: string[],
    path: string,
    onProgress?: ProgressFn,
  ): Promise<WrittenSnapshot> {
    return await this.#stream(chunks, path, onProgress) as WrittenSnapshot;
  }

  /**
   * Asks a question about the loaded snapshot.
   *
   * @param query The question.
   * @returns The worker's answer.
   */
  query<T>(query: Query): Promise<T> {
    const id = this.#nextId++;
    const done = this.#expect(id, {});
    this.#send({ id, op: "query", query });
    return done as Promise<T>;
  }

  /** Stops the worker now, rejecting anything in flight. */
  close(): void {
    this.#stop(new Error("Heap analysis worker was closed"));
  }

  async #stream(
    chunks: string[],
    file: string | undefined,
    onProgress?: ProgressFn,
    ownership?: Ownership,
  ): Promise<unknown> {
    const id = this.#nextId++;
    let totalBytes = 0;
    for (const c of chunks) totalBytes += c.length;
    let inFlight = 0;
    let wake: (() => void) | undefined;
    const done = this.#expect(id, {
      onProgress,
      onAck: () => {
        inFlight--;
        wake?.();
      },
    });
    let failed = false;
    done.catch(() => {
      failed = true;
      wake?.();
    });
    inFlight++;
    this.#send({ id, op: "begin", totalBytes, file, ownership });
    while (chunks.length > 0 && !failed) {
      if (inFlight >= WINDOW) {
        await new Promise<void>((resolve) => wake = resolve);
        wake = undefined;
        continue;
      }
      inFlight++;
      this.#send({ id, op: "chunk", data: chunks.shift()! });
    }
    chunks.length = 0;
    if (!failed) this.#send({ id, op: "end" });
    return await done;
  }

  #expect(id: number, handlers: Omit<Pending, "resolve" | "reject">) {
    this.#clearIdle();
    return new Promise<unknown>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, ...handlers });
    });
  }

  #send(message: WorkerRequest): void {
    this.#ensureWorker().postMessage(message);
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(
      new URL("./analysis_worker.ts", import.meta.url),
      { type: "module" },
    );
    worker.onmessage = (event: MessageEvent<WorkerReply>) =>
      this.#receive(event.data);
    worker.onerror = (event: ErrorEvent) => {
      // Without preventDefault an error in the worker would end the service.
      event.preventDefault();
      this.#stop(analysisWorkerError(event.message));
    };
    worker.onmessageerror = () => {
      this.#stop(new Error("Heap analysis worker sent an unreadable message"));
    };
    this.#worker = worker;
    return worker;
  }

  #receive(message: WorkerReply): void {
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    switch (message.type) {
      case "ack":
        pending.onAck?.();
        return;
      case "progress":
        pending.onProgress?.(message.label, message.done, message.total);
        return;
      case "result":
        this.#pending.delete(message.id);
        pending.resolve(message.value);
        break;
      case "error": {
        this.#pending.delete(message.id);
        const error = message.name === "NotCapable" ||
            message.name === "PermissionDenied"
          ? new Error(`Heap analysis worker: ${message.message}`)
          : new Error(message.message);
        pending.reject(error);
        break;
      }
    }
    if (this.#pending.size === 0) this.#armIdle();
  }

  #stop(error: Error): void {
    this.#clearIdle();
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#loaded = false;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(error);
  }

  #armIdle(): void {
    this.#clearIdle();
    if (!this.#worker) return;
    this.#idleTimer = setTimeout(() => this.close(), IDLE_MS);
    Deno.unrefTimer(this.#idleTimer as unknown as number);
  }

  #clearIdle(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }
}

function analysisWorkerError(message: string): Error {
  return workerError(
    "Heap analysis worker",
    new URL(".", import.meta.url),
    message,
  );
}
