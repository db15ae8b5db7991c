/**
 * An {@linkcode InspectorLink} to another process's V8 inspector over its
 * WebSocket: commands with a deadline each, events by name, messages over a
 * size limit refused, and one clear error for every pending command when
 * the connection is lost.
 *
 * @module
 */

import type { InspectorLink } from "../toolkit/inspector_link.ts";
import { ConsoleClientError } from "../client/connection.ts";

/** The connection to the target's inspector failed, timed out or was lost. */
export class InspectorLinkError extends ConsoleClientError {
  /** @param message What went wrong, for the `error: ...` line. */
  constructor(message: string) {
    super(message);
    this.name = "InspectorLinkError";
  }
}

/** The inspector answered a command with an error (a protocol error). */
export class InspectorCommandError extends Error {
  /** The protocol's error code, e.g. -32000. */
  readonly code: number;

  /**
   * @param method The command.
   * @param code The protocol's error code.
   * @param message The inspector's message.
   */
  constructor(method: string, code: number, message: string) {
    super(`Inspector ${method} failed: ${message}`);
    this.name = "InspectorCommandError";
    this.code = code;
  }
}

/** Options for {@linkcode connectWebSocketLink}. */
export interface WebSocketLinkOptions {
  /** How long the WebSocket may take to open; 5 000 ms. */
  connectTimeoutMs?: number;
  /** How long a command may take by default; 30 000 ms. */
  timeoutMs?: number;
  /**
   * The longest message accepted from the inspector, in characters; a
   * longer one ends the link (the target, or whoever holds its port, is
   * misbehaving). 64 Mi by default: a heap snapshot comes in small chunks
   * and every value is rendered (and bounded) in the target.
   */
  maxMessageChars?: number;
  /** What the target is called in messages, e.g. `pid 1234's inspector`. */
  name?: string;
}

/** Options of one command. */
export interface PostOptions {
  /** Its deadline in ms; `Infinity` for none (an evaluation the user waits on). */
  timeoutMs?: number;
}

type Pending = {
  method: string;
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout> | undefined;
};

const DEFAULT_MAX_MESSAGE_CHARS = 64 * 1024 * 1024;

/**
 * Opens a WebSocket to an inspector and returns the link over it.
 *
 * @param url The inspector's `ws://` URL.
 * @param options Deadlines, the message limit and the target's name.
 * @returns The open link.
 * @throws {InspectorLinkError} When it cannot be opened in time.
 *
 * @example
 * ```ts ignore
 * import { connectWebSocketLink } from "./websocket_link.ts";
 * const link = await connectWebSocketLink("ws://127.0.0.1:9229/3f0c…");
 * const { result } = await link.post("Runtime.evaluate", { expression: "1 + 1" });
 * link.close();
 * ```
 */
export async function connectWebSocketLink(
  url: string,
  options: WebSocketLinkOptions = {},
): Promise<WebSocketLink> {
  const name = options.name ?? `the inspector at ${url}`;
  const timeoutMs = options.connectTimeoutMs ?? 5_000;
  let socket: WebSocket;
  try {
    socket = new WebSocket(url);
  } catch (error) {
    throw new InspectorLinkError(
      `cannot connect to ${name}: ${describe(error)}`,
    );
  }
  const opened = Promise.withResolvers<void>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onOpen = () => opened.resolve();
  const onFail = (event: Event) =>
    opened.reject(
      new InspectorLinkError(
        `cannot connect to ${name}: ${
          event instanceof ErrorEvent && event.message
            ? event.message
            : "the connection was refused or closed"
        }`,
      ),
    );
  socket.addEventListener("open", onOpen);
  socket.addEventListener("error", onFail);
  socket.addEventListener("close", onFail);
  timer = setTimeout(() => {
    opened.reject(
      new InspectorLinkError(
        `cannot connect to ${name}: no answer within ${timeoutMs} ms`,
      ),
    );
  }, timeoutMs);
  try {
    await opened.promise;
  } catch (error) {
    closeQuietly(socket);
    throw error;
  } finally {
    clearTimeout(timer);
    timer = undefined;
    socket.removeEventListener("open", onOpen);
    socket.removeEventListener("error", onFail);
    socket.removeEventListener("close", onFail);
  }
  return new WebSocketLink(socket, { ...options, name });
}

/** The link over an open WebSocket; see {@linkcode connectWebSocketLink}. */
export class WebSocketLink implements InspectorLink {
  #socket: WebSocket;
  #name: string;
  #timeoutMs: number;
  #maxMessageChars: number;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #listeners = new Map<string, Set<(params: unknown) => void>>();
  #closing = false;
  #lost: InspectorLinkError | undefined;
  #ended = Promise.withResolvers<InspectorLinkError | undefined>();

  /**
   * @param socket An open WebSocket to an inspector.
   * @param options Deadlines, the message limit and the target's name.
   */
  constructor(socket: WebSocket, options: WebSocketLinkOptions = {}) {
    this.#socket = socket;
    this.#name = options.name ?? "the inspector";
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#maxMessageChars = options.maxMessageChars ??
      DEFAULT_MAX_MESSAGE_CHARS;
    socket.addEventListener("message", (event) => this.#receive(event.data));
    socket.addEventListener(
      "close",
      () =>
        this.#end(
          new InspectorLinkError(`${this.#name} closed the connection`),
        ),
    );
    socket.addEventListener(
      "error",
      (event) =>
        this.#end(
          new InspectorLinkError(
            `the connection to ${this.#name} failed${
              event instanceof ErrorEvent && event.message
                ? `: ${event.message}`
                : ""
            }`,
          ),
        ),
    );
  }

  /** Whether the link has ended (closed, or lost). */
  get closed(): boolean {
    return this.#closing || this.#lost !== undefined;
  }

  /**
   * Settles when the link ends: with the error that ended it, or
   * `undefined` after {@linkcode WebSocketLink.close}.
   *
   * @returns Why it ended.
   */
  finished(): Promise<InspectorLinkError | undefined> {
    return this.#ended.promise;
  }

  /**
   * Sends a command and waits for its result, within its deadline.
   *
   * @param method The protocol method.
   * @param params Its parameters.
   * @param options Its deadline.
   * @returns The result.
   * @throws {InspectorCommandError} When the inspector answers with an error.
   * @throws {InspectorLinkError} On a timeout or a lost connection.
   */
  post<T = Record<string, unknown>>(
    method: string,
    params: object = {},
    options: PostOptions = {},
  ): Promise<T> {
    if (this.#lost) return Promise.reject(this.#lost);
    if (this.#closing) {
      return Promise.reject(
        new InspectorLinkError(`the link to ${this.#name} is closed`),
      );
    }
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const pending: Pending = {
      method,
      resolve: resolve as (result: unknown) => void,
      reject,
      timer: undefined,
    };
    if (Number.isFinite(timeoutMs)) {
      pending.timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new InspectorLinkError(
            `${this.#name} did not answer ${method} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
    }
    this.#pending.set(id, pending);
    try {
      this.#socket.send(JSON.stringify({ id, method, params }));
    } catch (error) {
      this.#settle(id);
      reject(
        new InspectorLinkError(
          `cannot send ${method} to ${this.#name}: ${describe(error)}`,
        ),
      );
    }
    return promise;
  }

  /**
   * Calls `handler` with each `event`'s params until the returned function
   * is called.
   *
   * @param event The protocol event, e.g. `"Runtime.consoleAPICalled"`.
   * @param handler Its handler (an exception it throws is dropped).
   * @returns Unsubscribe.
   */
  listen<P>(event: string, handler: (params: P) => void): () => void {
    let handlers = this.#listeners.get(event);
    if (handlers === undefined) {
      handlers = new Set();
      this.#listeners.set(event, handlers);
    }
    const wrapped = handler as (params: unknown) => void;
    handlers.add(wrapped);
    return () => handlers.delete(wrapped);
  }

  /** Closes the connection; pending commands fail. Idempotent. */
  close(): void {
    if (this.#closing || this.#lost) return;
    this.#closing = true;
    closeQuietly(this.#socket);
    this.#end(undefined);
  }

  #receive(data: unknown): void {
    if (typeof data !== "string") return; // the protocol is text only
    if (data.length > this.#maxMessageChars) {
      this.#end(
        new InspectorLinkError(
          `${this.#name} sent a message of ${data.length} characters, over the ${this.#maxMessageChars}-character limit: disconnected`,
        ),
      );
      closeQuietly(this.#socket);
      return;
    }
    let message: {
      id?: unknown;
      method?: unknown;
      params?: unknown;
      result?: unknown;
      error?: { code?: unknown; message?: unknown };
    };
    try {
      message = JSON.parse(data);
    } catch {
      return; // not the protocol: nothing to route it to
    }
    if (typeof message !== "object" || message === null) return;
    if (typeof message.id === "number") {
      const pending = this.#settle(message.id);
      if (pending === undefined) return; // timed out, or not ours
      if (message.error !== undefined) {
        pending.reject(
          new InspectorCommandError(
            pending.method,
            Number(message.error?.code ?? 0),
            String(message.error?.message ?? "unknown error"),
          ),
        );
      } else {
        pending.resolve(message.result ?? {});
      }
      return;
    }
    if (typeof message.method === "string") {
      for (const handler of this.#listeners.get(message.method) ?? []) {
        try {
          handler(message.params ?? {});
        } catch {
          // One handler's failure must not stop the others or the link.
        }
      }
    }
  }

  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    if (pending === undefined) return undefined;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    return pending;
  }

  #end(error: InspectorLinkError | undefined): void {
    if (this.#lost) return;
    if (error !== undefined && !this.#closing) this.#lost = error;
    const reason = this.#lost ??
      new InspectorLinkError(`the link to ${this.#name} is closed`);
    for (const [id, pending] of this.#pending) {
      this.#settle(id);
      pending.reject(reason);
    }
    this.#ended.resolve(this.#closing ? undefined : this.#lost);
  }
}

function closeQuietly(socket: WebSocket): void {
  try {
    socket.close();
  } catch {
    // Already closed.
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
