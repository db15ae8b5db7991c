/**
 * The HTTP listener: our own accept loop in front of Deno's HTTP machinery,
 * so nothing a client does from outside can take the service down.
 *
 * `Deno.serve` (2.9.6) has no idle, keep-alive or header-read timeout and
 * no connection cap, and when `accept` fails with "Too many open files" its
 * `finished` rejects and the server is gone. Here every accepted connection
 * is handed to Deno's own per-connection server (the one `Deno.serve` runs,
 * reached through `Deno[Deno.internal].serveHttpOnConnection`, the only way
 * to give it a connection we accepted), and this module adds:
 *
 * - a cap on open connections: at the cap, the connection quiet the longest
 *   (no handler running, nothing sent or received for a moment) is cut off
 *   to make room, or, when every one is busy, the one that has made the most
 *   requests; the new one is refused only when each is busy with its first;
 * - a header timeout (a new connection must send its first request within
 *   it) and an idle timeout (between requests on a kept-alive connection,
 *   and for a peer that stops reading its responses: a connection whose
 *   handlers have all returned counts as idle, so one that pipelines
 *   requests and never reads is cut off like any idle one);
 * - accept errors survived: on EMFILE/ENFILE the cap drops below the open
 *   count (leaving descriptors for the console and files), idle connections
 *   are cut off, and accepting resumes after a back-off; once a second has
 *   passed without EMFILE the cap doubles back, sweep by sweep, to the one
 *   configured;
 * - log lines about refusals and accept errors, at most one per kind every
 *   10 s, with the count of those not printed.
 *
 * Connections are only ever cut off, never closed gracefully: Deno's
 * graceful close waits for every response to be written, forever when the
 * peer does not read, and after it has begun the connection can no longer
 * be cut off. A connection is cut off only once its handlers have returned
 * and it has been quiet for a sweep, so responses already made go out first;
 * during shutdown a request arriving on a kept-alive connection is answered
 * 503 with `connection: close`.
 *
 * Where that internal is missing (another Deno), it falls back to plain
 * `Deno.serve` and says so once.
 *
 * @module
 */

import { logToStderr } from "../console/process.ts";

/** Options for {@linkcode serveGuarded}. */
export interface GuardedServeOptions {
  /** Host to bind. */
  hostname: string;
  /** Port to bind; `0` picks a free one. */
  port: number;
  /** Most connections open at once; {@linkcode DEFAULT_MAX_CONNECTIONS} by default. */
  maxConnections?: number;
  /** How long a new connection may take to send its first request. */
  headersTimeoutMs?: number;
  /** How long a kept-alive connection may sit idle between requests. */
  idleTimeoutMs?: number;
  /** Where refusals and accept errors are logged; stderr by default. */
  log?: (line: string) => void;
}

/** A running HTTP server. */
export interface GuardedServer {
  /** The address bound. */
  addr: Deno.NetAddr;
  /** Connections open now. */
  readonly connections: number;
  /** The cap in force (lowered when the process ran out of descriptors). */
  readonly maxConnections: number;
  /** Stops accepting, lets in-flight requests finish, closes every connection. */
  shutdown(): Promise<void>;
  /** Settles once shut down. */
  finished: Promise<void>;
}

/** Connections open at once, by default: below a 1024 descriptor limit. */
export const DEFAULT_MAX_CONNECTIONS = 900;
/** A new connection's time to send its first request, by default. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
/** A kept-alive connection's idle time between requests, by default. */
export const DEFAULT_IDLE_TIMEOUT_MS = 5_000;

/** Descriptors left free below the open count when accept hits EMFILE. */
const DESCRIPTOR_RESERVE = 16;
/** The sweep's period: timeouts are this precise. */
const SWEEP_MS = 250;
/**
 * Sweeps a connection must have been quiet before it is cut off for room
 * or at shutdown: its latest response has had at least one sweep to go out.
 */
const QUIET_TICKS = 2;
/** Quiet time after an EMFILE before the lowered cap starts rising again. */
const CAP_RECOVERY_MS = 1_000;
const LOG_EVERY_MS = 10_000;

type ConnectionServer = {
  finished: Promise<void>;
  shutdown(): Promise<void>;
};
type ServeOnConnection = (
  conn: Deno.Conn,
  signal: ConnectionCutter | undefined,
  handler: (request: Request) => Response | Promise<Response>,
  onError: (error: unknown) => Response | Promise<Response>,
  onListen: () => void,
) => ConnectionServer;

/** One accepted connection's state, read by the sweep. */
interface Connection {
  server: ConnectionServer;
  /** Cuts it off. */
  cutter: ConnectionCutter;
  /** Requests whose handler has not returned its response yet. */
  active: number;
  /** Requests seen so far. */
  requests: number;
  /** The sweep tick of the last request or response (or of the accept). */
  seen: number;
  /** Set once the server shuts down: cut off as soon as it is quiet. */
  closing: boolean;
}

/**
 * What Deno's per-connection server takes as its abort signal: it adds one
 * listener that cuts the connection off. Called here rather than through an
 * `AbortSignal`, because that listener throws once the connection has ended
 * by itself, and a throw from an event listener would be an uncaught error.
 */
class ConnectionCutter {
  #listeners: (() => void)[] = [];
  #cut = false;

  /** Deno's server registers its "abort" listener here. */
  addEventListener(_type: string, listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Whether {@linkcode cut} was called. */
  get cut(): boolean {
    return this.#cut;
  }

  /** Cuts the connection off: its socket closes, unsent responses are lost. */
  cutOff(): void {
    if (this.#cut) return;
    this.#cut = true;
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch {
        // It has ended already.
      }
    }
  }
}

function serveOnConnection(): ServeOnConnection | undefined {
  const internal = (Deno as unknown as Record<symbol, unknown>)[
    (Deno as unknown as { internal: symbol }).internal
  ] as Record<string, unknown> | undefined;
  const serve = internal?.serveHttpOnConnection;
  return typeof serve === "function" ? serve as ServeOnConnection : undefined;
}

/**
 * Binds `hostname:port` and serves `handler` on every connection, with the
 * cap and timeouts of {@linkcode GuardedServeOptions}.
 *
 * @param options Where to listen, the cap and the timeouts.
 * @param handler The request handler, as `Deno.serve` takes it.
 * @returns The running server.
 * @throws {Deno.errors.AddrInUse} and the other errors of `Deno.listen`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveGuarded } from "./http_server.ts";
 * const server = serveGuarded(
 *   { hostname: "127.0.0.1", port: 0 },
 *   () => new Response("ok"),
 * );
 * const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * assert.equal(await response.text(), "ok");
 * await server.shutdown();
 * ```
 */
export function serveGuarded(
  options: GuardedServeOptions,
  handler: (request: Request) => Response | Promise<Response>,
): GuardedServer {
  const log = options.log ?? logToStderr;
  const serveOn = serveOnConnection();
  if (serveOn === undefined) return serveUnguarded(options, handler, log);
  const listener = Deno.listen({
    hostname: options.hostname,
    port: options.port,
    transport: "tcp",
  });
  const state = new Guard(listener, serveOn, handler, options, log);
  return {
    addr: listener.addr,
    get connections() {
      return state.open.size;
    },
    get maxConnections() {
      return state.cap;
    },
    shutdown: () => state.shutdown(),
    finished: state.finished,
  };
}

/** The accept loop, the open connections and the sweep. */
class Guard {
  open = new Set<Connection>();
  cap: number;
  finished: Promise<void>;
  /** The cap configured; `cap` is lower for a while after an EMFILE. */
  #maxConnections: number;
  /** The sweep tick of the latest EMFILE. */
  #emfileTick = 0;
  #listener: Deno.Listener;
  #serveOn: ServeOnConnection;
  #handler: (request: Request) => Response | Promise<Response>;
  #headersTicks: number;
  #idleTicks: number;
  #log: ThrottledLog;
  #tick = 0;
  #sweep: ReturnType<typeof setInterval>;
  #closing = false;
  #stopped: Promise<void> | undefined;
  #accepting: Promise<void>;
  #wake: (() => void) | undefined;
  /** Called whenever a connection ends, while shutting down. */
  #drained: (() => void) | undefined;

  constructor(
    listener: Deno.Listener,
    serveOn: ServeOnConnection,
    handler: (request: Request) => Response | Promise<Response>,
    options: GuardedServeOptions,
    log: (line: string) => void,
  ) {
    this.#listener = listener;
    this.#serveOn = serveOn;
    this.#handler = handler;
    this.cap = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.#maxConnections = this.cap;
    this.#headersTicks = ticks(
      options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
    );
    this.#idleTicks = ticks(options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
    this.#log = new ThrottledLog(log);
    const sweep = setInterval(() => this.#sweepIdle(), SWEEP_MS);
    Deno.unrefTimer(sweep);
    this.#sweep = sweep;
    this.#accepting = this.#acceptLoop();
    let settle!: () => void;
    this.finished = new Promise((resolve) => settle = resolve);
    this.#accepting.then(() => this.shutdown()).then(settle);
  }

  async #acceptLoop(): Promise<void> {
    let backoffMs = 0;
    while (!this.#closing) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
        backoffMs = 0;
      } catch (error) {
        if (this.#closing || error instanceof Deno.errors.BadResource) return;
        backoffMs = Math.min(1000, Math.max(10, backoffMs * 2));
        const message = error instanceof Error ? error.message : String(error);
        if (/too many open files/i.test(message)) {
          this.#outOfDescriptors();
          this.#log.line(
            "emfile",
            `http accept failed: ${message}; ${this.open.size} connections open, cap now ${this.cap}, quiet ones cut off, retrying`,
          );
        } else {
          this.#log.line("accept", `http accept failed: ${message}`);
        }
        await this.#pause(backoffMs);
        continue;
      }
      if (this.open.size >= this.cap && !this.#makeRoom()) {
        this.#log.line(
          "cap",
          `http connection refused: ${this.open.size} open, the cap is ${this.cap}`,
        );
        closeQuietly(conn);
        continue;
      }
      try {
        this.#serve(conn);
      } catch (error) {
        // A connection gone before it could be served costs only itself.
        this.#log.line(
          "serve",
          `http connection failed: ${
            error instanceof Error ? error.message : error
          }`,
        );
        closeQuietly(conn);
      }
    }
  }

  #serve(conn: Deno.Conn): void {
    const connection: Connection = {
      server: undefined as unknown as ConnectionServer,
      cutter: new ConnectionCutter(),
      active: 0,
      requests: 0,
      seen: this.#tick,
      closing: false,
    };
    const handler = this.#handler;
    const done = () => {
      connection.active--;
      connection.seen = this.#tick;
    };
    connection.server = this.#serveOn(
      conn,
      connection.cutter,
      (request) => {
        connection.requests++;
        connection.seen = this.#tick;
        if (connection.closing) return shuttingDown();
        const response = handler(request);
        if (response instanceof Promise) {
          connection.active++;
          response.then(done, done);
        }
        return response;
      },
      (error) => {
        logToStderr(`http handler failed: ${Deno.inspect(error)}`);
        return Response.json({ error: "Internal server error" }, {
          status: 500,
        });
      },
      () => {},
    );
    this.open.add(connection);
    connection.server.finished
      // A reset by the peer ends its connection, nothing more.
      .catch(() => {})
      .finally(() => {
        this.open.delete(connection);
        this.#wake?.();
        this.#drained?.();
      });
  }

  /** Whether `connection` may be cut off now without losing a response. */
  #quiet(connection: Connection): boolean {
    return connection.active === 0 && !connection.cutter.cut &&
      (connection.requests === 0 ||
        this.#tick - connection.seen >= QUIET_TICKS);
  }

  #sweepIdle(): void {
    this.#tick++;
    this.#raiseCap();
    for (const connection of this.open) {
      if (connection.active > 0 || connection.cutter.cut) continue;
      const limit = connection.closing
        ? QUIET_TICKS
        : connection.requests === 0
        ? this.#headersTicks
        : this.#idleTicks;
      if (this.#tick - connection.seen >= limit) connection.cutter.cutOff();
    }
  }

  /** Cuts off the connection quiet the longest; `false` if none is quiet. */
  #cutQuietest(): boolean {
    let quietest: Connection | undefined;
    for (const connection of this.open) {
      if (!this.#quiet(connection)) continue;
      if (quietest === undefined || connection.seen < quietest.seen) {
        quietest = connection;
      }
    }
    if (quietest === undefined) return false;
    quietest.cutter.cutOff();
    return true;
  }

  /**
   * Makes room for a new connection at the cap: cuts off the quietest
   * connection, or, when every one is busy, the one that has made the most
   * requests (a client pipelining request after request, read or not, must
   * not keep everyone else out).
   *
   * @returns `false` when no connection has made more than one request:
   * all busy with their first, the newcomer is refused.
   */
  #makeRoom(): boolean {
    if (this.#cutQuietest()) return true;
    let busiest: Connection | undefined;
    for (const connection of this.open) {
      if (connection.cutter.cut || connection.requests < 2) continue;
      if (busiest === undefined || connection.requests > busiest.requests) {
        busiest = connection;
      }
    }
    if (busiest === undefined) return false;
    this.#log.line(
      "busiest",
      `http connection cut off to make room: ${this.open.size} open (the cap is ${this.cap}), none quiet; it had made ${busiest.requests} requests`,
    );
    busiest.cutter.cutOff();
    return true;
  }

  /** Lowers the cap below what is open now and cuts off quiet connections above it. */
  #outOfDescriptors(): void {
    this.#emfileTick = this.#tick;
    const live = [...this.open].filter((c) => !c.cutter.cut).length;
    this.cap = Math.max(1, Math.min(this.cap, live - DESCRIPTOR_RESERVE));
    let excess = live - this.cap;
    while (excess > 0 && this.#cutQuietest()) excess--;
  }

  /**
   * Lets a cap lowered by EMFILE rise again once no EMFILE came for
   * {@linkcode CAP_RECOVERY_MS}: it doubles each sweep (by the reserve at
   * least) up to the configured cap; another EMFILE lowers it again.
   */
  #raiseCap(): void {
    if (this.cap >= this.#maxConnections) return;
    if (this.#tick - this.#emfileTick < ticks(CAP_RECOVERY_MS)) return;
    this.cap = Math.min(
      this.#maxConnections,
      Math.max(this.cap * 2, this.cap + DESCRIPTOR_RESERVE),
    );
    if (this.cap === this.#maxConnections) {
      this.#log.line(
        "cap restored",
        `http connection cap back to ${this.cap}: no "too many open files" for ${
          CAP_RECOVERY_MS / 1000
        } s`,
      );
    }
  }

  /** Waits `ms`, or less when a connection closes (a descriptor came free). */
  async #pause(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.#wake = undefined;
  }

  shutdown(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#closing = true;
      closeQuietly(this.#listener);
      this.#wake?.();
      await this.#accepting;
      // In-flight requests finish; each connection is cut off once quiet
      // (the sweep keeps running until the last one is gone).
      for (const connection of this.open) {
        connection.closing = true;
        if (this.#quiet(connection)) connection.cutter.cutOff();
      }
      while (this.open.size > 0) {
        await new Promise<void>((resolve) => this.#drained = resolve);
      }
      this.#drained = undefined;
      clearInterval(this.#sweep);
    })();
    return this.#stopped;
  }
}

/** The answer to a request that arrives on a connection while shutting down. */
function shuttingDown(): Response {
  return Response.json({ error: "Service shutting down" }, {
    status: 503,
    headers: { connection: "close" },
  });
}

function serveUnguarded(
  options: GuardedServeOptions,
  handler: (request: Request) => Response | Promise<Response>,
  log: (line: string) => void,
): GuardedServer {
  log(
    "warning: this Deno has no serveHttpOnConnection: HTTP runs without its connection cap and timeouts",
  );
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen() {},
  }, handler);
  return {
    addr: server.addr,
    connections: 0,
    maxConnections: Infinity,
    shutdown: () => server.shutdown(),
    finished: server.finished,
  };
}

function ticks(ms: number): number {
  return Math.max(1, Math.ceil(ms / SWEEP_MS));
}

function closeQuietly(closer: { close(): void }): void {
  try {
    closer.close();
  } catch {
    // Already closed.
  }
}

/** At most one line per kind every 10 s, with the count of those held back. */
class ThrottledLog {
  #write: (line: string) => void;
  #kinds = new Map<string, { at: number; held: number }>();

  constructor(write: (line: string) => void) {
    this.#write = write;
  }

  line(kind: string, text: string): void {
    const now = performance.now();
    const last = this.#kinds.get(kind);
    if (last !== undefined && now - last.at < LOG_EVERY_MS) {
      last.held++;
      return;
    }
    const held = last?.held ?? 0;
    this.#kinds.set(kind, { at: now, held: 0 });
    this.#write(held > 0 ? `${text} (and ${held} more like it)` : text);
  }
}
