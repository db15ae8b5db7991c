/**
 * The process-wide `node:inspector` session the toolkit talks through,
 * created on first use, and the lock that keeps captures one at a time.
 *
 * @module
 */

import { Session } from "node:inspector";

/** The part of `Session` the toolkit uses, with loose typing of protocol messages. */
export interface LooseSession {
  /** Attaches to this isolate's inspector. */
  connect(): void;
  /** Detaches. */
  disconnect(): void;
  /**
   * Sends a protocol command.
   *
   * @param method Protocol method.
   * @param params Its parameters.
   * @param callback Receives the error or the result.
   */
  post(
    method: string,
    params: object,
    callback: (error: Error | null, result?: unknown) => void,
  ): void;
  /**
   * Subscribes to a protocol event.
   *
   * @param event Event name.
   * @param listener Receives the message.
   */
  on(event: string, listener: (message: { params: unknown }) => void): void;
  /**
   * Unsubscribes.
   *
   * @param event Event name.
   * @param listener The listener given to `on`.
   */
  off(event: string, listener: (message: { params: unknown }) => void): void;
}

let session: LooseSession | undefined;
let lock: Promise<unknown> = Promise.resolve();
let garbagePending = false;

/**
 * Returns the shared session, connecting it on first use.
 *
 * @returns The session.
 */
export function inspectorSession(): LooseSession {
  if (session) return session;
  // Query first: connecting without permission could prompt on a terminal.
  // "inspector" is missing from Deno's typings but accepted at run time.
  const state = Deno.permissions.querySync(
    {
      name: "sys",
      kind: "inspector",
    } as unknown as Deno.SysPermissionDescriptor,
  );
  if (state.state !== "granted") {
    throw new Error(
      "The leak toolkit needs the V8 inspector: run the service with --allow-sys (Deno 2.9 cannot scope it to the inspector)",
    );
  }
  const fresh = new Session() as unknown as LooseSession;
  fresh.connect();
  session = fresh;
  return fresh;
}

/**
 * Sends one inspector command and waits for its reply. A timer keeps the
 * event loop awake meanwhile: in-process replies are only delivered while
 * something holds the loop open.
 *
 * @param method Protocol method, e.g. `"HeapProfiler.collectGarbage"`.
 * @param params Its parameters.
 * @returns The reply's result.
 */
export async function post<T = Record<string, unknown>>(
  method: string,
  params: object = {},
): Promise<T> {
  const target = inspectorSession();
  const keepAlive = setInterval(() => {}, 50);
  try {
    return await new Promise<T>((resolve, reject) => {
      target.post(method, params, (error, result) => {
        if (error) reject(protocolError(method, error));
        else resolve(result as T);
      });
    });
  } finally {
    clearInterval(keepAlive);
  }
}

/**
 * Listens to an inspector event until the returned function is called.
 *
 * @param event Protocol event, e.g. `"HeapProfiler.addHeapSnapshotChunk"`.
 * @param listener Called with the event's params.
 * @returns Unsubscribe.
 */
export function listen<P>(
  event: string,
  listener: (params: P) => void,
): () => void {
  const target = inspectorSession();
  const wrapped = (message: { params: unknown }) =>
    listener(message.params as P);
  target.on(event, wrapped);
  return () => target.off(event, wrapped);
}

/**
 * Runs `fn` while holding the process-wide capture lock, so two console
 * sessions never capture or load snapshots at once. When `fn` took a
 * snapshot, its garbage (the snapshot text, tens of MiB) is collected before
 * the lock is released, so `mem()` and the next capture's estimate see the
 * service's heap, not the toolkit's leftovers.
 *
 * @param fn The work.
 * @returns Its result.
 */
export function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const run = lock.then(() => withCollection(fn));
  lock = run.catch(() => {});
  return run;
}

/**
 * Marks that a capture left garbage behind: the end of the current
 * {@linkcode exclusive} run (or {@linkcode collectCaptureGarbage}) collects
 * it.
 */
export function markCaptureGarbage(): void {
  garbagePending = true;
}

/**
 * Collects the garbage a capture left, if any (a full GC).
 *
 * @returns Whether a collection ran.
 */
export async function collectCaptureGarbage(): Promise<boolean> {
  if (!garbagePending) return false;
  garbagePending = false;
  await post("HeapProfiler.collectGarbage");
  return true;
}

async function withCollection<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    // After fn has returned, its chunks are unreachable: now they go.
    await collectCaptureGarbage().catch(() => {});
  }
}

/** Disconnects the shared session (a new one is made on next use). */
export function closeInspector(): void {
  const current = session;
  session = undefined;
  current?.disconnect();
}

function protocolError(method: string, error: Error): Error {
  const detail = error.message || String(error);
  return new Error(`Inspector ${method} failed: ${detail}`);
}
