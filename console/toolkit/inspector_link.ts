/**
 * The one small interface every toolkit helper reaches V8's inspector
 * through (`post`, `listen`, `close`), and its in-process implementation
 * over `node:inspector`. Another implementation could drive another
 * process's inspector over its WebSocket with the same helpers.
 *
 * @module
 */

import { Session } from "node:inspector";

/** A connection to a V8 inspector: commands, events, close. */
export interface InspectorLink {
  /**
   * Sends one protocol command and waits for its result.
   *
   * @param method Protocol method, e.g. `"HeapProfiler.collectGarbage"`.
   * @param params Its parameters.
   * @returns The result.
   */
  post<T = Record<string, unknown>>(
    method: string,
    params?: object,
  ): Promise<T>;
  /**
   * Listens to a protocol event until the returned function is called.
   *
   * @param event Protocol event, e.g. `"HeapProfiler.addHeapSnapshotChunk"`.
   * @param handler Called with the event's params.
   * @returns Unsubscribe.
   */
  listen<P>(event: string, handler: (params: P) => void): () => void;
  /** Disconnects. */
  close(): void;
}

/** The part of `node:inspector`'s `Session` used, loosely typed. */
interface LooseSession {
  connect(): void;
  disconnect(): void;
  post(
    method: string,
    params: object,
    callback: (error: Error | null, result?: unknown) => void,
  ): void;
  on(event: string, listener: (message: { params: unknown }) => void): void;
  off(event: string, listener: (message: { params: unknown }) => void): void;
}

/**
 * Connects to this isolate's own inspector.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectInProcess } from "./inspector_link.ts";
 * const link = connectInProcess();
 * const { result } = await link.post<{ result: { value: number } }>(
 *   "Runtime.evaluate",
 *   { expression: "6 * 7", returnByValue: true },
 * );
 * assert.equal(result.value, 42);
 * link.close();
 * ```
 *
 * @returns The link.
 */
export function connectInProcess(): InspectorLink {
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
  const session = new Session() as unknown as LooseSession;
  session.connect();
  return {
    post: (method, params) => postInProcess(session, method, params),
    listen(event, handler) {
      const wrapped = (message: { params: unknown }) =>
        handler(message.params as never);
      session.on(event, wrapped);
      return () => session.off(event, wrapped);
    },
    close: () => session.disconnect(),
  };
}

/**
 * Drops V8's map of heap object ids in this process: V8 clears it when an
 * inspector session's heap profiler is disabled (closing any session does
 * it too), so a throwaway session does that. Sampling another session
 * started goes on (it is that session's); the next snapshot or walk of
 * the heap numbers objects anew.
 *
 * @example
 * ```ts
 * import { clearHeapObjectIds } from "./inspector_link.ts";
 * await clearHeapObjectIds();
 * ```
 */
export async function clearHeapObjectIds(): Promise<void> {
  const session = new Session() as unknown as LooseSession;
  session.connect();
  try {
    await postInProcess(session, "HeapProfiler.disable");
  } finally {
    session.disconnect();
  }
}

async function postInProcess<T>(
  session: LooseSession,
  method: string,
  params: object = {},
): Promise<T> {
  // In-process replies are only delivered while something holds the event
  // loop open: a timer does meanwhile.
  const keepAlive = setInterval(() => {}, 50);
  try {
    return await new Promise<T>((resolve, reject) => {
      session.post(method, params, (error, result) => {
        if (error) {
          const detail = error.message || String(error);
          reject(new Error(`Inspector ${method} failed: ${detail}`));
        } else resolve(result as T);
      });
    });
  } finally {
    clearInterval(keepAlive);
  }
}
