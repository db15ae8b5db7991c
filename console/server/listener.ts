/**
 * The live console's server: a TCP or unix-socket listener inside the
 * service. This module owns listening, accepting and the limits; each
 * connection goes through the handshake (`handshake.ts`: HTTP refusal,
 * token, session limit) into a JSON-lines or text session
 * (`json_session.ts`, `text_session.ts`).
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { ConnectionWriter } from "../connection_writer.ts";
import { tcpEndpoint, unixEndpoint } from "../endpoint.ts";
import { LineReader } from "../line_reader.ts";
import {
  DEFAULT_CONSOLE_HOST,
  DEFAULT_CONSOLE_PORT,
  DEFAULT_MAX_SESSIONS,
  MAX_HELLO_BYTES,
  MAX_LINE_BYTES,
  PROTOCOL_VERSION,
  type Reply,
} from "../protocol.ts";
import {
  type ConsoleTarget,
  generateToken,
  tokenFilePath,
  writeTokenFile,
} from "../token.ts";
import {
  checkOwner,
  ensurePrivateDirectory,
  NotPrivateError,
} from "../state_dir.ts";
import { AuthThrottle, type AuthThrottleOptions } from "./auth_throttle.ts";
import type { Admission, HandshakeSettings } from "./handshake.ts";
import { escapeLogField, logToStderr, RefusalLog } from "./log.ts";
import { peerOf } from "./peer.ts";
import type { ScopeFactory, Session, SessionContext } from "./session.ts";
import { type Stage, WaitingRoom } from "./waiting_room.ts";

export type { SessionIO } from "./session.ts";

/** Options for {@linkcode startConsoleServer}. */
export interface ConsoleServerOptions {
  /** TCP host; `127.0.0.1` by default. */
  host?: string;
  /** TCP port; `44444` by default, `0` picks a free one. */
  port?: number;
  /** Listen on this unix socket (mode 0600) instead of TCP. */
  socket?: string;
  /**
   * The token clients must present. Without one a random 256-bit token is
   * made and written to an owner-only token file the client finds.
   */
  token?: string;
  /** Most sessions at once; `8` by default. */
  maxSessions?: number;
  /**
   * Session-only bindings, made for each session (the serve command
   * injects the leak toolkit); none by default.
   */
  scope?: ScopeFactory;
  /**
   * Called once by {@linkcode ConsoleServer.close} after the sessions end,
   * to release what `scope` started (the toolkit's inspector session,
   * sampler and worker).
   */
  onClose?: () => Promise<void>;
  /** Where connection and evaluation logs go; stderr by default. */
  log?: (line: string) => void;
  /**
   * The program the console is in, first in its banner (`app.ts console
   * (protocol 2), pid 1234`); `leakwatch` by default.
   */
  program?: string;
  /**
   * Whether the listener keeps the process alive; `true` by default. An
   * embedded console passes `false`: the host ends when its own work does
   * (an open session still holds it until the client leaves).
   */
  keepAlive?: boolean;
  /** The pause before a wrong token's connection is closed; 1000 ms. */
  authFailureDelayMs?: number;
  /**
   * The budget of failed authentications, per peer (a remote address; all
   * of loopback; the unix socket) and overall: an attempt made while it is
   * spent is refused before its token is checked. 10 at once then one every
   * 2 s per peer, 30 then 2 a second overall, by default.
   */
  authThrottle?: AuthThrottleOptions;
  /** How long a connection may take to authenticate; 5 000 ms. */
  authTimeoutMs?: number;
  /**
   * Most connections authenticating at once; 512 by default. They never
   * take session slots; when a new one comes while all are taken, one is
   * closed to make room: one told its token was wrong first, then one that
   * has not said hello, then one answering the challenge; within each, the
   * oldest of the peer holding the most. So connections that send nothing
   * cannot push out the operator's, which says hello at once.
   */
  maxUnauthenticated?: number;
  /**
   * The least time an unauthenticated connection keeps its place before a
   * newcomer may push it out (time to say hello, then to answer the
   * challenge); 250 ms. While everyone waiting is younger, new connections
   * wait in the kernel's backlog: a flood is taken in at most
   * `maxUnauthenticated` per this time.
   */
  unauthenticatedStayMs?: number;
  /** Silence after which a connection is asked for its token (text mode); 250 ms. */
  promptDelayMs?: number;
  /**
   * How long a client whose input ended still gets the answers of its
   * pending evaluations; 30 000 ms. Its session slot is freed at once.
   */
  endGraceMs?: number;
}

/** A running console server. */
export interface ConsoleServer {
  /** The address bound. */
  addr: Deno.NetAddr | Deno.UnixAddr;
  /** Where the generated token was written, when one was generated. */
  tokenFile?: string;
  /** Sessions open now. */
  readonly sessions: number;
  /**
   * Stops listening, ends every session, removes the token file and socket,
   * and calls `onClose`.
   */
  close(): Promise<void>;
}

/** The console refuses to start as configured (e.g. an unsafe bind). */
export class ConsoleConfigError extends Error {
  /** @param message What is wrong. */
  constructor(message: string) {
    super(message);
    this.name = "ConsoleConfigError";
  }
}

/** The options with their defaults filled in. */
interface Settings {
  host: string;
  port: number;
  socket: string | undefined;
  maxSessions: number;
  scope: ScopeFactory;
  log: (line: string) => void;
  authFailureDelayMs: number;
  authThrottle: AuthThrottleOptions;
  authTimeoutMs: number;
  maxUnauthenticated: number;
  unauthenticatedStayMs: number;
  promptDelayMs: number;
  endGraceMs: number;
}

/** What the accept loop and the connections share. */
interface ServerState {
  settings: Settings;
  namespace: Record<string, unknown>;
  token: string;
  banner: string;
  names: string[];
  connections: Set<Deno.Conn>;
  /** Connections still authenticating, bounded. */
  waiting: WaitingRoom<Deno.Conn>;
  /** Failed authentications, per peer and overall. */
  throttle: AuthThrottle;
  /** The unix socket's endpoint (its real path), when listening on one. */
  unixEndpoint: string | undefined;
  /** Refusals, logged without flooding the log. */
  refusals: RefusalLog;
  /**
   * Failed authentications, logged apart: a connection flood filling the
   * other log's lines cannot hide them.
   */
  authFailures: RefusalLog;
  /** The sessions running, to end them on close. */
  sessions: Set<Session>;
  /** Session slots taken: sessions running or being opened. */
  slots: number;
  connectionCount: number;
  closing: boolean;
}

/**
 * Starts the console server beside a service.
 *
 * Every connection must present the token first: `{"op":"hello",
 * "token":...}` for JSON lines, or the token alone on the first line in
 * text mode. Binding a host other than loopback needs an explicit token.
 *
 * @param namespace The objects sessions see by name (`main` is this object).
 * @param options Where to listen, the token, limits.
 * @returns The running server.
 * @throws {ConsoleConfigError} On an unsafe or impossible configuration.
 * @throws {RangeError} On limits out of range (`maxUnauthenticated`,
 * `unauthenticatedStayMs`, `authThrottle`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startConsoleServer } from "./listener.ts";
 * const server = await startConsoleServer({ cache: new Map() }, {
 *   port: 0,
 *   token: "an-example-token-of-32-characters",
 *   log: () => {},
 * });
 * assert.equal(server.sessions, 0);
 * await server.close();
 * ```
 */
export async function startConsoleServer(
  namespace: Record<string, unknown>,
  options: ConsoleServerOptions = {},
): Promise<ConsoleServer> {
  const settings = resolveSettings(options);
  // Built before anything listens: bad limits throw with nothing bound.
  const waiting = new WaitingRoom<Deno.Conn>({
    capacity: settings.maxUnauthenticated,
    minStayMs: settings.unauthenticatedStayMs,
  });
  const throttle = new AuthThrottle(settings.authThrottle);
  if (settings.socket !== undefined) await checkSocketPath(settings.socket);
  const listener = settings.socket !== undefined
    ? await listenUnix(settings.socket)
    : listenTcp(settings.host, settings.port);
  if (options.keepAlive === false) listener.unref();
  let token = options.token;
  let tokenFile: string | undefined;
  if (token === undefined) {
    token = generateToken();
    try {
      tokenFile = await publishToken(
        settings.socket !== undefined
          ? { socket: settings.socket }
          : { port: (listener.addr as Deno.NetAddr).port },
        token,
      );
    } catch (error) {
      listener.close();
      throw error;
    }
  }
  const names = ["main", ...Object.keys(namespace)];
  const state: ServerState = {
    settings,
    namespace,
    token,
    names,
    banner: banner(options.program ?? "leakwatch", names),
    connections: new Set(),
    waiting,
    throttle,
    unixEndpoint: settings.socket === undefined
      ? undefined
      : await unixEndpoint(settings.socket),
    refusals: new RefusalLog(settings.log),
    authFailures: new RefusalLog(settings.log),
    sessions: new Set(),
    slots: 0,
    connectionCount: 0,
    closing: false,
  };
  const accepting = acceptConnections(listener, state);
  let closed: Promise<void> | undefined;
  return {
    addr: listener.addr as Deno.NetAddr | Deno.UnixAddr,
    tokenFile,
    get sessions() {
      return state.slots;
    },
    close() {
      closed ??= closeServer(listener, accepting, state, {
        tokenFile,
        onClose: options.onClose,
      });
      return closed;
    },
  };
}

function resolveSettings(options: ConsoleServerOptions): Settings {
  checkTokenAndHost(options);
  const host = options.host ?? DEFAULT_CONSOLE_HOST;
  return {
    host,
    port: options.port ?? DEFAULT_CONSOLE_PORT,
    socket: options.socket,
    maxSessions: options.maxSessions ?? DEFAULT_MAX_SESSIONS,
    scope: options.scope ?? (() => ({})),
    log: options.log ?? logToStderr,
    authFailureDelayMs: options.authFailureDelayMs ?? 1000,
    authThrottle: options.authThrottle ?? {},
    authTimeoutMs: options.authTimeoutMs ?? 5_000,
    maxUnauthenticated: options.maxUnauthenticated ?? 512,
    unauthenticatedStayMs: options.unauthenticatedStayMs ?? 250,
    promptDelayMs: options.promptDelayMs ?? 250,
    endGraceMs: options.endGraceMs ?? 30_000,
  };
}

/** What {@linkcode checkConsoleOptions} checks. */
export interface ConsoleCheckOptions {
  /** TCP host; `127.0.0.1` by default. */
  host?: string;
  /** A unix socket path instead of TCP. */
  socket?: string;
  /** The token, when one is given. */
  token?: string;
  /**
   * Create the socket's directory (mode 0700) when it does not exist yet,
   * as for the default `$HOME/.leakwatch/console.sock`; otherwise a missing
   * directory is an error.
   */
  createSocketDirectory?: boolean;
}

/** The longest unix socket path Linux accepts (`sun_path` less its NUL). */
const MAX_SOCKET_PATH_BYTES = 107;

/**
 * Checks console options before anything listens, so a bad start binds
 * nothing: a token shorter than 16 characters, a host other than loopback
 * without an explicit token, and a socket path that is too long, whose
 * directory is missing (or created, mode 0700, when asked) or not a
 * directory, or that names something other than a socket.
 * {@linkcode startConsoleServer} runs the same checks.
 *
 * @param options The console's host, socket and token.
 * @throws {ConsoleConfigError} What is wrong, in one sentence.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkConsoleOptions, ConsoleConfigError } from "./listener.ts";
 * await checkConsoleOptions({ host: "127.0.0.1" });
 * await assert.rejects(
 *   checkConsoleOptions({ host: "0.0.0.0" }),
 *   ConsoleConfigError,
 * );
 * ```
 */
export async function checkConsoleOptions(
  options: ConsoleCheckOptions,
): Promise<void> {
  checkTokenAndHost(options);
  if (options.socket !== undefined) {
    await checkSocketPath(options.socket, options.createSocketDirectory);
  }
}

function checkTokenAndHost(options: ConsoleCheckOptions): void {
  const host = options.host ?? DEFAULT_CONSOLE_HOST;
  if (options.token !== undefined && options.token.length < 16) {
    throw new ConsoleConfigError(
      "The console token must be at least 16 characters long",
    );
  }
  if (options.socket === undefined && !isLoopback(host) && !options.token) {
    throw new ConsoleConfigError(
      `Refusing to listen on "${host}" without an explicit console token: anyone who can reach it could run code in this process (pass --console-token or CONSOLE_TOKEN, or use 127.0.0.1)`,
    );
  }
}

async function checkSocketPath(
  path: string,
  createDirectory = false,
): Promise<void> {
  if (path === "") {
    throw new ConsoleConfigError("The console socket path is empty");
  }
  const bytes = new TextEncoder().encode(path).length;
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new ConsoleConfigError(
      `Cannot listen on ${path}: a unix socket path may be at most ${MAX_SOCKET_PATH_BYTES} bytes long, this one is ${bytes}`,
    );
  }
  const slash = path.lastIndexOf("/");
  const directory = slash === -1
    ? "."
    : slash === 0
    ? "/"
    : path.slice(0, slash);
  let info: Deno.FileInfo | undefined;
  try {
    info = await Deno.stat(directory);
  } catch (error) {
    // Not readable under these permissions: listening finds out the rest.
    if (error instanceof Deno.errors.NotCapable) return;
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new ConsoleConfigError(
        `Cannot use the socket directory ${directory}: ${
          describeListenError(error)
        }`,
      );
    }
  }
  if (info === undefined) {
    if (!createDirectory) {
      throw new ConsoleConfigError(
        `Cannot listen on ${path}: the directory ${directory} does not exist`,
      );
    }
    try {
      await ensurePrivateDirectory(directory);
    } catch (error) {
      if (error instanceof NotPrivateError) {
        throw new ConsoleConfigError(error.message);
      }
      throw new ConsoleConfigError(
        `Cannot create the socket directory ${directory}: ${
          describeListenError(error)
        }`,
      );
    }
  } else if (!info.isDirectory) {
    throw new ConsoleConfigError(
      `Cannot listen on ${path}: ${directory} is not a directory`,
    );
  } else if (createDirectory) {
    // Ours to create, so ours to own: another user's could swap the socket.
    try {
      checkOwner(directory, info, "socket directory");
    } catch (error) {
      if (error instanceof NotPrivateError) {
        throw new ConsoleConfigError(error.message);
      }
      throw error;
    }
  }
  try {
    const existing = await Deno.lstat(path);
    if (!existing.isSocket) {
      throw new ConsoleConfigError(
        `Cannot listen on ${path}: it exists and is not a socket`,
      );
    }
  } catch (error) {
    if (error instanceof ConsoleConfigError) throw error;
    // Nothing there yet: the usual case.
  }
}

/** Writes a generated token to the owner-only file the client looks in. */
async function publishToken(
  target: ConsoleTarget,
  token: string,
): Promise<string> {
  const file = await tokenFilePath(target);
  try {
    await writeTokenFile(file, token);
  } catch (error) {
    if (error instanceof NotPrivateError) {
      throw new ConsoleConfigError(error.message);
    }
    throw new ConsoleConfigError(
      `Cannot write the console token file "${file}": ${
        error instanceof Error ? error.message : error
      }`,
    );
  }
  return file;
}

function banner(program: string, names: string[]): string {
  return `${program} console (protocol ${PROTOCOL_VERSION}), pid ${Deno.pid}\n` +
    `In scope: ${names.join(", ")}\n` +
    `help() lists what is in scope; .exit or Ctrl-D leaves.\n` +
    `Code runs inside the service: a synchronous endless loop stalls it and cannot be interrupted.`;
}

/** Accepts connections until the listener closes; never throws. */
async function acceptConnections(
  listener: Deno.Listener,
  state: ServerState,
): Promise<void> {
  const { log } = state.settings;
  // Accept errors (EMFILE when the process is out of descriptors) repeat
  // until something closes: back off instead of spinning, and log the first
  // of a run and then a count at most every 10 s instead of a line each.
  let backoffMs = 0;
  let failures = 0;
  let lastLogged = -Infinity;
  while (true) {
    // While the waiting room is full of connections that have not had
    // their time yet, newcomers wait in the kernel's backlog.
    for (let ms = state.waiting.waitMs(); ms > 0; ms = state.waiting.waitMs()) {
      await new Promise((resolve) => setTimeout(resolve, ms));
      if (state.closing) return;
    }
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch (error) {
      if (state.closing) return;
      if (error instanceof Deno.errors.BadResource) return;
      failures++;
      if (performance.now() - lastLogged >= 10_000) {
        lastLogged = performance.now();
        log(
          `console accept failed${
            failures > 1 ? ` (${failures} times since the last line)` : ""
          }: ${error instanceof Error ? error.message : error}; retrying`,
        );
        failures = 0;
      }
      backoffMs = Math.min(Math.max(backoffMs * 2, 10), 1_000);
      await new Promise((resolve) => setTimeout(resolve, backoffMs));
      continue;
    }
    backoffMs = 0;
    serveConnection(conn, ++state.connectionCount, state);
    // A backlog of connections is accepted without a turn of the event
    // loop in between: the reads of those accepted already (the operator's
    // hello) and HTTP would wait until it is drained. A turn after each
    // (setImmediate runs after the I/O poll; setTimeout would be clamped)
    // keeps them fair.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Runs one connection from handshake to the end of its session; never throws. */
async function serveConnection(
  conn: Deno.Conn,
  number: number,
  state: ServerState,
): Promise<void> {
  const { log } = state.settings;
  const peer = formatPeer(conn.remoteAddr);
  const budget = peerOf(conn.remoteAddr);
  state.connections.add(conn);
  let evicted = false;
  // Unauthenticated connections are cheap to open: the waiting room bounds
  // them, pushing out the least advanced to make room for a newcomer.
  state.waiting.enter(conn, budget, (stage: Stage) => {
    evicted = true;
    // One told its token was wrong is logged as that already.
    if (stage !== "failed") {
      state.refusals.record(
        "too many unauthenticated connections",
        `console connection ${number} from ${peer} closed: too many unauthenticated connections`,
      );
    }
    closeQuietly(conn);
  });
  try {
    const reader = new LineReader(conn, MAX_HELLO_BYTES);
    const writer = new ConnectionWriter(conn);
    const { admit } = await loadHandshake();
    const admission = await admit(
      { reader, writer },
      handshakeSettings(state, conn, { number, peer, budget }, () => evicted),
    );
    state.waiting.leave(conn);
    if (admission === undefined || state.closing || evicted) {
      admission?.release();
      return;
    }
    try {
      reader.maxBytes = MAX_LINE_BYTES;
      await runSession(
        {
          number,
          peer,
          namespace: state.namespace,
          scope: state.settings.scope,
          log,
          reader,
          writer,
          colors: admission.colors,
          inputEnded: () => admission.release(),
          endGraceMs: state.settings.endGraceMs,
        },
        admission,
        state,
      );
    } finally {
      admission.release();
    }
  } catch (error) {
    // A broken connection ends its session; the service carries on.
    let message: string;
    try {
      message = error instanceof Error ? error.message : String(error);
    } catch {
      message = "an error that cannot be described";
    }
    log(`console connection ${number} failed: ${escapeLogField(message)}`);
  } finally {
    state.waiting.leave(conn);
    state.connections.delete(conn);
    closeQuietly(conn);
  }
}

let handshakeModule: Promise<typeof import("./handshake.ts")> | undefined;

/**
 * The handshake, loaded with the first connection, not at start-up (the
 * token check needs crypto); a literal specifier, so `deno compile` embeds
 * it. Imported once: a dynamic import costs turns of the event loop each
 * time, and a connection's first read must not wait behind a flood.
 */
function loadHandshake(): Promise<typeof import("./handshake.ts")> {
  return handshakeModule ??= import("./handshake.ts");
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

function handshakeSettings(
  state: ServerState,
  conn: Deno.Conn,
  { number, peer, budget }: { number: number; peer: string; budget: string },
  evicted: () => boolean,
): HandshakeSettings {
  const { settings } = state;
  const record = (log: RefusalLog, reason: string, detail?: string) => {
    if (evicted()) return; // already logged
    log.record(
      reason,
      `console connection ${number} from ${peer} refused: ${reason}${
        detail === undefined ? "" : ` (${detail})`
      }`,
    );
  };
  return {
    token: state.token,
    endpoint: state.unixEndpoint ??
      tcpEndpoint(conn.localAddr as Deno.NetAddr),
    peer: budget,
    throttle: state.throttle,
    maxSessions: settings.maxSessions,
    claimSession() {
      if (state.slots >= settings.maxSessions) return undefined;
      state.slots++;
      let released = false;
      return () => {
        if (!released) state.slots--;
        released = true;
      };
    },
    authFailureDelayMs: settings.authFailureDelayMs,
    authTimeoutMs: settings.authTimeoutMs,
    promptDelayMs: settings.promptDelayMs,
    progressed: (stage) => state.waiting.advance(conn, stage),
    refused: (reason, detail) => record(state.refusals, reason, detail),
    authRefused: (reason, detail) => record(state.authFailures, reason, detail),
  };
}

/** Greets the client, runs its session and logs its opening and end. */
async function runSession(
  context: SessionContext,
  admission: Admission,
  state: ServerState,
): Promise<void> {
  const { writer, log, number, peer } = context;
  const json = admission.mode === "json";
  if (json) {
    const hello: Reply = {
      type: "hello",
      version: PROTOCOL_VERSION,
      session: number,
      pid: Deno.pid,
      names: state.names,
      banner: state.banner,
      ...admission.proof === undefined ? {} : { proof: admission.proof },
    };
    writer.send(JSON.stringify(hello) + "\n");
  } else if (admission.prompted) {
    writer.send("\n");
  }
  // The evaluator (acorn, sucrase on demand) loads with the first session.
  const session = json
    ? await (await import("./json_session.ts")).runJsonSession(context)
    : await (await import("./text_session.ts")).runTextSession(
      context,
      state.banner,
    );
  state.sessions.add(session);
  log(`console session ${number} from ${peer} opened (${admission.mode})`);
  try {
    await session.done;
  } finally {
    state.sessions.delete(session);
    await writer.flush();
    log(`console session ${number} from ${peer} closed`);
  }
}

async function closeServer(
  listener: Deno.Listener,
  accepting: Promise<void>,
  state: ServerState,
  { tokenFile, onClose }: {
    tokenFile: string | undefined;
    onClose: (() => Promise<void>) | undefined;
  },
): Promise<void> {
  state.closing = true;
  // An unreferenced listener (keepAlive: false) would let the process end
  // while close() waits for its accept to settle.
  listener.ref();
  listener.close();
  await accepting;
  state.refusals.close();
  state.authFailures.close();
  for (const session of state.sessions) session.close();
  for (const conn of state.connections) closeQuietly(conn);
  // What the sessions' bindings started (the toolkit's inspector session,
  // sampler and worker) would otherwise keep the process alive.
  await onClose?.().catch((error) =>
    state.settings.log(
      `console close hook failed: ${
        error instanceof Error ? error.message : error
      }`,
    )
  );
  if (tokenFile !== undefined) await Deno.remove(tokenFile).catch(() => {});
  if (state.settings.socket !== undefined) {
    await Deno.remove(state.settings.socket).catch(() => {});
  }
}

function listenTcp(host: string, port: number): Deno.Listener {
  try {
    return Deno.listen({ hostname: host, port, transport: "tcp" });
  } catch (error) {
    throw new ConsoleConfigError(
      `Cannot listen on ${host}:${port}: ${
        describeListenError(error, `--allow-net=${host}`)
      }`,
    );
  }
}

async function listenUnix(path: string): Promise<Deno.Listener> {
  await removeStaleSocket(path);
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ path, transport: "unix" });
  } catch (error) {
    throw new ConsoleConfigError(
      `Cannot listen on ${path}: ${
        describeListenError(
          error,
          `--allow-net=unix:${path} and read and write on it`,
        )
      }`,
    );
  }
  try {
    await Deno.chmod(path, 0o600);
  } catch (error) {
    listener.close();
    throw new ConsoleConfigError(
      `Cannot restrict ${path} to its owner: ${describeListenError(error)}`,
    );
  }
  return listener;
}

/** Removes a socket file left by a dead process; refuses anything else. */
async function removeStaleSocket(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch {
    return;
  }
  if (!info.isSocket) {
    throw new ConsoleConfigError(
      `Cannot listen on ${path}: it exists and is not a socket`,
    );
  }
  try {
    const conn = await Deno.connect({ path, transport: "unix" });
    conn.close();
    throw new ConsoleConfigError(
      `Cannot listen on ${path}: another process is listening there`,
    );
  } catch (error) {
    if (error instanceof ConsoleConfigError) throw error;
    await Deno.remove(path);
  }
}

/** The error's reason; `grant` names the permission a refusal needs. */
function describeListenError(
  error: unknown,
  grant = "--allow-read and --allow-write on it",
): string {
  if (error instanceof Deno.errors.AddrInUse) return "address in use";
  if (error instanceof Deno.errors.NotCapable) {
    return `not permitted (grant ${grant})`;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * Whether `host` is a loopback address or `localhost`.
 *
 * @param host A host name or address.
 * @returns `true` for 127.0.0.0/8, ::1 and localhost.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isLoopback } from "./listener.ts";
 * assert.ok(isLoopback("127.0.0.1") && !isLoopback("0.0.0.0"));
 * ```
 */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function formatPeer(addr: Deno.Addr): string {
  if ("hostname" in addr) return `${addr.hostname}:${addr.port}`;
  return "unix socket";
}
