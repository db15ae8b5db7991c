/**
 * The live console's server: a TCP or unix-socket listener inside the
 * service that authenticates each connection with a token, refuses anything
 * that looks like HTTP, and runs JSON-lines or text sessions against the
 * service's namespace.
 *
 * @module
 */

import { ConnectionWriter } from "../connection_writer.ts";
import { LineReader } from "../line_reader.ts";
import {
  looksLikeHttp,
  MAX_HELLO_BYTES,
  MAX_LINE_BYTES,
  parseHello,
  PROTOCOL_VERSION,
  ProtocolError,
  type Reply,
} from "../protocol.ts";
import {
  runJsonSession,
  runTextSession,
  type Session,
  type SessionIO,
} from "./session.ts";
import {
  type ConsoleTarget,
  generateToken,
  tokenFilePath,
  tokensEqual,
  writeTokenFile,
} from "../token.ts";
import { closeToolkit, createToolkit } from "../toolkit/mod.ts";

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
   * Session-only bindings, made for each session: the leak toolkit
   * (`mem`, `gc`, `count`, `heap`, `alloc`, `help`) by default.
   */
  scope?: (io: SessionIO) => Record<string, unknown>;
  /** Where connection and evaluation logs go; stderr by default. */
  log?: (line: string) => void;
  /** The pause before a wrong token's connection is closed; 1000 ms. */
  authFailureDelayMs?: number;
  /** How long a connection may take to authenticate; 30 000 ms. */
  authTimeoutMs?: number;
  /** Silence after which a connection is asked for its token (text mode); 250 ms. */
  promptDelayMs?: number;
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
   * and releases the default toolkit (inspector session, sampler, worker).
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

const encoder = new TextEncoder();

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
 *
 * @example
 * ```ts ignore
 * import { startConsoleServer } from "./listener.ts";
 * const server = await startConsoleServer({ cache: new Map() }, { port: 0 });
 * console.log(server.addr, server.tokenFile);
 * await server.close();
 * ```
 */
export async function startConsoleServer(
  namespace: Record<string, unknown>,
  options: ConsoleServerOptions = {},
): Promise<ConsoleServer> {
  const host = options.host ?? "127.0.0.1";
  const maxSessions = options.maxSessions ?? 8;
  const log = options.log ?? logToStderr;
  const scope = options.scope ??
    ((io: SessionIO) =>
      createToolkit(io) as unknown as Record<string, unknown>);
  const authFailureDelayMs = options.authFailureDelayMs ?? 1000;
  const authTimeoutMs = options.authTimeoutMs ?? 30_000;
  const promptDelayMs = options.promptDelayMs ?? 250;
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

  const listener = options.socket !== undefined
    ? await listenUnix(options.socket)
    : listenTcp(host, options.port ?? 44444);
  const token = options.token ?? generateToken();
  let tokenFile: string | undefined;
  if (options.token === undefined) {
    const target: ConsoleTarget = options.socket !== undefined
      ? { socket: options.socket }
      : { port: (listener.addr as Deno.NetAddr).port };
    tokenFile = tokenFilePath(target);
    try {
      await writeTokenFile(tokenFile, token);
    } catch (error) {
      listener.close();
      throw new ConsoleConfigError(
        `Cannot write the console token file "${tokenFile}": ${
          error instanceof Error ? error.message : error
        }`,
      );
    }
  }

  const connections = new Set<Deno.Conn>();
  const sessions = new Map<Deno.Conn, Session>();
  let connectionCount = 0;
  let closing = false;

  const names = Object.keys(namespace);
  const banner =
    `leakwatch console (protocol ${PROTOCOL_VERSION}), pid ${Deno.pid}\n` +
    `In scope: ${["main", ...names].join(", ")}\n` +
    `help() lists the leak toolkit; .exit or Ctrl-D leaves.\n` +
    `Code runs inside the service: a synchronous endless loop stalls it and cannot be interrupted.`;

  async function handle(conn: Deno.Conn, number: number): Promise<void> {
    const peer = formatPeer(conn.remoteAddr);
    const reader = new LineReader(conn, MAX_HELLO_BYTES);
    const writer = new ConnectionWriter(conn);
    const refuse = async (reason: string, reply?: string) => {
      log(`console connection ${number} from ${peer} refused: ${reason}`);
      if (reply !== undefined) writer.send(reply);
      await writer.flush();
    };

    // A human on `nc` says nothing at first: ask for the token. A client
    // speaks at once and never sees the question.
    let prompted = false;
    const promptTimer = setTimeout(() => {
      if (reader.buffered === 0) {
        prompted = true;
        writer.send("token: ");
      }
    }, promptDelayMs);
    let authTimer: ReturnType<typeof setTimeout> | undefined;
    const first = await Promise.race([
      reader.next(),
      new Promise<"timeout">((resolve) => {
        authTimer = setTimeout(() => resolve("timeout"), authTimeoutMs);
      }),
    ]).catch(() => ({ kind: "eof" as const }));
    clearTimeout(promptTimer);
    clearTimeout(authTimer);

    if (first === "timeout") {
      return await refuse("no token in time", "error: no token in time\n");
    }
    if (first.kind !== "line") {
      return await refuse(
        first.kind === "eof"
          ? "closed before the token"
          : "oversize first line",
      );
    }
    if (looksLikeHttp(first.line)) {
      // No answer at all: a browser must learn nothing from this port.
      return await refuse("HTTP-looking request");
    }

    const json = first.line.trimStart().startsWith("{");
    let presented: string;
    let colors = false;
    if (json) {
      try {
        const hello = parseHello(first.line);
        presented = hello.token;
        colors = hello.colors ?? false;
      } catch (error) {
        const message = error instanceof ProtocolError
          ? error.message
          : String(error);
        return await refuse(
          `bad hello (${message})`,
          jsonLine({
            type: "error",
            id: null,
            error: { name: "ProtocolError", message },
          }),
        );
      }
    } else {
      presented = first.line.trim();
    }

    if (!tokensEqual(presented, token)) {
      await new Promise((resolve) => setTimeout(resolve, authFailureDelayMs));
      const message = "Authentication failed: invalid console token";
      return await refuse(
        "invalid token",
        json
          ? jsonLine({
            type: "error",
            id: null,
            error: { name: "AuthenticationError", message },
          })
          : `error: ${message}\n`,
      );
    }
    if (sessions.size >= maxSessions) {
      const message =
        `Too many console sessions: ${maxSessions} are open, try again later`;
      return await refuse(
        "too many sessions",
        json
          ? jsonLine({
            type: "error",
            id: null,
            error: { name: "SessionLimitError", message },
          })
          : `error: ${message}\n`,
      );
    }

    reader.maxBytes = MAX_LINE_BYTES;
    const context = {
      number,
      peer,
      namespace,
      scope,
      log,
      reader,
      writer,
      colors,
    };
    if (json) {
      writer.send(jsonLine({
        type: "hello",
        version: PROTOCOL_VERSION,
        session: number,
        pid: Deno.pid,
        names: ["main", ...names],
        banner,
      }));
    } else if (prompted) {
      writer.send("\n");
    }
    const session = json
      ? runJsonSession(context)
      : runTextSession(context, banner);
    sessions.set(conn, session);
    log(
      `console session ${number} from ${peer} opened (${
        json ? "json" : "text"
      })`,
    );
    try {
      await session.done;
    } finally {
      sessions.delete(conn);
      await writer.flush();
      log(`console session ${number} from ${peer} closed`);
    }
  }

  async function serve(conn: Deno.Conn): Promise<void> {
    const number = ++connectionCount;
    connections.add(conn);
    try {
      await handle(conn, number);
    } catch (error) {
      // A broken connection ends its session; the service carries on.
      log(
        `console connection ${number} failed: ${
          error instanceof Error ? error.message : error
        }`,
      );
    } finally {
      connections.delete(conn);
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }

  const accepting = (async () => {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closing) return;
        if (error instanceof Deno.errors.BadResource) return;
        log(
          `console accept failed: ${
            error instanceof Error ? error.message : error
          }`,
        );
        continue;
      }
      if (connections.size >= maxSessions * 4) {
        // Unauthenticated connections are cheap to open: bound them too.
        log("console connection refused: too many connections");
        conn.close();
        continue;
      }
      serve(conn);
    }
  })();

  return {
    addr: listener.addr as Deno.NetAddr | Deno.UnixAddr,
    tokenFile,
    get sessions() {
      return sessions.size;
    },
    async close() {
      if (closing) return;
      closing = true;
      listener.close();
      await accepting;
      for (const session of sessions.values()) session.close();
      for (const conn of connections) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      // The toolkit's inspector session, sampler and analysis worker would
      // otherwise keep the process alive.
      if (options.scope === undefined) await closeToolkit().catch(() => {});
      if (tokenFile !== undefined) await Deno.remove(tokenFile).catch(() => {});
      if (options.socket !== undefined) {
        await Deno.remove(options.socket).catch(() => {});
      }
    },
  };
}

function listenTcp(host: string, port: number): Deno.Listener {
  try {
    return Deno.listen({ hostname: host, port, transport: "tcp" });
  } catch (error) {
    throw new ConsoleConfigError(
      `Cannot listen on ${host}:${port}: ${describeListenError(error)}`,
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
      `Cannot listen on ${path}: ${describeListenError(error)}`,
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

function describeListenError(error: unknown): string {
  if (error instanceof Deno.errors.AddrInUse) return "address in use";
  if (error instanceof Deno.errors.NotCapable) {
    return "not permitted (grant --allow-net for the address, or read/write on the socket's directory)";
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
 * import { isLoopback } from "./listener.ts";
 * console.assert(isLoopback("127.0.0.1") && !isLoopback("0.0.0.0"));
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

function jsonLine(reply: Reply): string {
  return JSON.stringify(reply) + "\n";
}

function logToStderr(line: string): void {
  // Straight to the stream: a session's console routing must never capture
  // the server's own log.
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}
