/**
 * The client's side of the console protocol: connects, says hello, sends
 * requests and routes each reply (and the output and progress streamed
 * before it) to the request it answers.
 *
 * @module
 */

import { type ConsoleAddress, describeAddress } from "./flags.ts";
import { ConnectionWriter } from "../connection_writer.ts";
import type { ProgressFn } from "../heap/progress.ts";
import { LineReader } from "../line_reader.ts";
import {
  type EvalFailure,
  MAX_LINE_BYTES,
  PROTOCOL_VERSION,
  type Reply,
  type RequestId,
  type WireError,
} from "../protocol.ts";
import { tcpEndpoint, unixEndpoint } from "../endpoint.ts";
import { answerChallenge, createNonce, verifyConsoleProof } from "../token.ts";

/**
 * A failure that ends the client: cannot connect, refused session, lost
 * connection. Its message is the text of the `error: ...` line.
 */
export class ConsoleClientError extends Error {
  /** @param message What went wrong, for the `error: ...` line. */
  constructor(message: string) {
    super(message);
    this.name = "ConsoleClientError";
  }
}

/** The session was refused: a wrong token, a full console, a bad hello. */
export class SessionRefusedError extends ConsoleClientError {
  /** The server's error, e.g. `AuthenticationError`. */
  readonly error: WireError;

  /**
   * @param message The `error: ...` line's text.
   * @param error The server's error.
   */
  constructor(message: string, error: WireError) {
    super(message);
    this.name = "SessionRefusedError";
    this.error = error;
  }
}

/**
 * The console could not prove it knows the token: another process may be
 * listening in its place. The client refuses it before sending any code.
 */
export class ConsoleAuthenticationError extends ConsoleClientError {
  /** @param message The `error: ...` line's text. */
  constructor(message: string) {
    super(message);
    this.name = "ConsoleAuthenticationError";
  }
}

/** Where an evaluation's console output and progress go. */
export interface StreamHandlers {
  /** Console output, ending in a newline. */
  output?(stream: "stdout" | "stderr", text: string): void;
  /** Progress of a long operation. */
  progress?: ProgressFn;
}

/** Where messages that belong to no pending request go. */
export interface BackgroundHandlers extends StreamHandlers {
  /** An error the server reported for no request (`id: null`). */
  notice?(error: WireError): void;
}

/** Options for {@linkcode ConsoleConnection.evaluate}. */
export interface EvaluateOptions {
  /**
   * `"json"`: ask for the value as JSON text too (the outcome's `json`);
   * an answer without it is an error outcome.
   */
  format?: "json";
}

/**
 * How an evaluation ended. An error's `stack` is there only when the
 * console sent a non-empty one.
 */
export type EvalOutcome =
  | {
    kind: "value";
    /** The value as `Deno.inspect` renders it. */
    value: string;
    /** The value as JSON text, when asked for with `format: "json"`. */
    json?: string;
    durationMs: number;
  }
  | EvalFailure
  | { kind: "incomplete" };

/** The session the server opened. */
export interface SessionInfo {
  /** The session's number in the server's log. */
  session: number;
  /** The service's process id. */
  pid: number;
  /** Names in scope. */
  names: string[];
  /** The server's greeting. */
  banner: string;
}

/** Options for {@linkcode connectConsole}. */
export interface ConnectOptions {
  /**
   * Supplies the token once the connection is open (so that a missing token
   * file is reported only when something listens), and where it came from.
   */
  credentials(): Promise<{ token: string; source: string }>;
  /** Ask for values rendered with ANSI colours. */
  colors?: boolean;
  /** How long to wait for the server's hello; 15 000 ms. */
  helloTimeoutMs?: number;
}

type Waiter = {
  resolve(reply: Reply): void;
  reject(error: Error): void;
  handlers?: StreamHandlers;
};

const encoder = new TextEncoder();

/**
 * Connects to a console and opens a session.
 *
 * @param address Where the console listens.
 * @param options The token and the session's options.
 * @returns The open connection.
 * @throws {ConsoleClientError} When the console cannot be reached, refuses
 * the session or does not speak this protocol version.
 *
 * @example
 * ```ts ignore
 * import { connectConsole } from "./connection.ts";
 * const connection = await connectConsole({ host: "127.0.0.1", port: 44444 }, {
 *   credentials: () => Promise.resolve({ token: "...", source: "--token" }),
 * });
 * console.log(await connection.evaluate("1 + 1"));
 * await connection.close();
 * ```
 */
export async function connectConsole(
  address: ConsoleAddress,
  options: ConnectOptions,
): Promise<ConsoleConnection> {
  const where = describeAddress(address);
  let conn: Deno.Conn;
  try {
    conn = "socket" in address
      ? await Deno.connect({ path: address.socket, transport: "unix" })
      : await Deno.connect({ hostname: address.host, port: address.port });
  } catch (error) {
    throw new ConsoleClientError(
      `cannot connect to ${where}: ${describeConnectError(error, address)}`,
    );
  }
  try {
    return await ConsoleConnection.open(conn, address, options);
  } catch (error) {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
    throw error;
  }
}

/** An open console session. */
export class ConsoleConnection {
  /** The session the server opened. */
  readonly info: SessionInfo;
  /** Where output and progress of no pending request go; settable. */
  background: BackgroundHandlers = {};
  #conn: Deno.Conn;
  #where: string;
  #reader: LineReader;
  #writer: ConnectionWriter;
  #waiters = new Map<RequestId, Waiter>();
  #nextId = 1;
  #closing = false;
  #lost: ConsoleClientError | undefined;
  #loop: Promise<void>;

  private constructor(
    conn: Deno.Conn,
    where: string,
    reader: LineReader,
    writer: ConnectionWriter,
    info: SessionInfo,
  ) {
    this.#conn = conn;
    this.#where = where;
    this.#reader = reader;
    this.#writer = writer;
    this.info = info;
    this.#loop = this.#read();
  }

  /**
   * Says hello on an open connection (with a fresh nonce, at once: the
   * console favours connections that speak), answers the server's challenge
   * (an HMAC keyed with the token over both nonces and the endpoint
   * dialled: the token itself is never sent, and the answer is good for
   * this console only), checks the console's proof that it knows the token
   * too, and waits for the session. Text before the first `{` of the first
   * line (a `token: ` prompt the server shows a slow client) is skipped.
   *
   * @param conn The connection.
   * @param address Where it was dialled.
   * @param options The token and the session's options.
   * @returns The session.
   * @throws {ConsoleClientError} When the session is refused or the server
   * does not speak this protocol version.
   * @throws {ConsoleAuthenticationError} When the console does not prove it
   * knows the token.
   */
  static async open(
    conn: Deno.Conn,
    address: ConsoleAddress,
    options: ConnectOptions,
  ): Promise<ConsoleConnection> {
    const where = describeAddress(address);
    const reader = new LineReader(conn, MAX_LINE_BYTES);
    const writer = new ConnectionWriter(conn);
    const clientNonce = createNonce();
    const hello: Record<string, unknown> = {
      op: "hello",
      version: PROTOCOL_VERSION,
      nonce: clientNonce,
    };
    if (options.colors) hello.colors = true;
    writer.send(JSON.stringify(hello) + "\n");
    const { token, source } = await options.credentials();
    // What was dialled, as the console writes its own address: a relay on
    // another address cannot pass the answer on.
    const endpoint = "socket" in address
      ? await unixEndpoint(address.socket)
      : tcpEndpoint(conn.remoteAddr as Deno.NetAddr);

    const timeoutMs = options.helloTimeoutMs ?? 15_000;
    const deadline = Date.now() + timeoutMs;
    const step = { where, source, deadline, timeoutMs };
    const challenge = await readHandshakeReply(reader, {
      ...step,
      first: true,
    });
    if (challenge.type !== "challenge") {
      throw new ConsoleAuthenticationError(
        challenge.type === "hello"
          ? `the console at ${where} opened a session without checking the token: is it a leakwatch console (protocol ${PROTOCOL_VERSION})?`
          : `unexpected first reply from ${where}: type ${
            JSON.stringify(challenge.type)
          } (expected "challenge")`,
      );
    }
    if (
      typeof challenge.nonce !== "string" ||
      !/^[0-9a-f]{64}$/.test(challenge.nonce)
    ) {
      throw new ConsoleClientError(
        `the console at ${where} sent a malformed challenge: is it a leakwatch console (protocol ${PROTOCOL_VERSION})?`,
      );
    }
    const binding = { serverNonce: challenge.nonce, clientNonce, endpoint };
    const answer = await answerChallenge(token, binding);
    writer.send(JSON.stringify({ op: "auth", endpoint, answer }) + "\n");
    const reply = await readHandshakeReply(reader, { ...step, first: false });
    if (reply.type !== "hello") {
      throw new ConsoleClientError(
        `unexpected reply from ${where} to the challenge's answer: type ${
          JSON.stringify(reply.type)
        } (expected "hello")`,
      );
    }
    if (reply.version !== PROTOCOL_VERSION) {
      throw new ConsoleClientError(versionMismatch(where, reply.version));
    }
    if (!await verifyConsoleProof(token, binding, reply.proof as string)) {
      throw new ConsoleAuthenticationError(
        `the console at ${where} did not prove it knows the token: another process may be listening in its place; nothing was sent to it`,
      );
    }
    return new ConsoleConnection(conn, where, reader, writer, {
      session: reply.session,
      pid: reply.pid,
      names: reply.names ?? [],
      banner: reply.banner ?? "",
    });
  }

  /** Whether the connection has ended. */
  get closed(): boolean {
    return this.#lost !== undefined || this.#closing;
  }

  /**
   * Settles when the connection ends, with the error that ended it
   * (`undefined` after {@linkcode ConsoleConnection.close}).
   *
   * @returns The reason the connection ended.
   */
  async finished(): Promise<ConsoleClientError | undefined> {
    await this.#loop;
    return this.#closing ? undefined : this.#lost;
  }

  /**
   * Evaluates a snippet; its console output and progress go to `handlers`.
   *
   * @param code The snippet.
   * @param handlers Where its output and progress go.
   * @param options The format to ask for.
   * @returns How it ended.
   * @throws {RangeError} When the request would be over the line limit.
   * @throws {ConsoleClientError} When the connection is lost meanwhile.
   */
  async evaluate(
    code: string,
    handlers: StreamHandlers = {},
    options: EvaluateOptions = {},
  ): Promise<EvalOutcome> {
    const request: Record<string, unknown> = { op: "eval", code };
    if (options.format !== undefined) request.format = options.format;
    const reply = await this.#request(request, handlers);
    switch (reply.type) {
      case "result": {
        if (options.format !== "json") {
          return {
            kind: "value",
            value: reply.value,
            durationMs: reply.durationMs,
          };
        }
        // Read defensively: a console older than `format` sends no `json`,
        // and what reaches stdout or a JSON line must parse.
        const json = (reply as { json?: unknown }).json;
        if (typeof json !== "string" || !isJsonText(json)) {
          return {
            kind: "error",
            name: "ProtocolError",
            message:
              `The console at ${this.#where} sent no valid JSON for the value (a version without "format": "json"?)`,
            text:
              `error: the console at ${this.#where} sent no valid JSON for the value (a version without "format": "json"?)`,
            durationMs: reply.durationMs,
          };
        }
        return {
          kind: "value",
          value: reply.value,
          json,
          durationMs: reply.durationMs,
        };
      }
      case "incomplete":
        return { kind: "incomplete" };
      case "error":
        return {
          kind: "error",
          name: reply.error.name,
          message: reply.error.message,
          text: reply.text ?? `${reply.error.name}: ${reply.error.message}`,
          ...(typeof reply.error.stack === "string" && reply.error.stack !== ""
            ? { stack: reply.error.stack }
            : {}),
          durationMs: reply.durationMs,
        };
      default:
        throw this.#unexpected(reply);
    }
  }

  /**
   * Asks for completions of `code` before `cursor`.
   *
   * @param code The text being edited.
   * @param cursor The cursor's offset; the end by default.
   * @returns Replacements for `code.slice(start, cursor)`, and `start`.
   * @throws {RangeError} When the request would be over the line limit.
   * @throws {ConsoleClientError} When the connection is lost meanwhile.
   */
  async complete(
    code: string,
    cursor: number = code.length,
  ): Promise<{ candidates: string[]; start: number }> {
    const reply = await this.#request({ op: "complete", code, cursor });
    if (reply.type === "completions") {
      return { candidates: reply.candidates, start: reply.start };
    }
    if (reply.type === "error") return { candidates: [], start: cursor };
    throw this.#unexpected(reply);
  }

  /**
   * Interrupts the pending evaluation: it ends with an `Interrupted` error.
   *
   * @returns Whether an evaluation was interrupted (`false`: none pending).
   * @throws {ConsoleClientError} When the connection is lost meanwhile.
   */
  async interrupt(): Promise<boolean> {
    const reply = await this.#request({ op: "interrupt" });
    return reply.type === "interrupted";
  }

  /**
   * Closes the connection; pending requests fail. Idempotent.
   *
   * @returns When the connection's reading has stopped.
   */
  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      await this.#writer.flush();
      try {
        this.#conn.close();
      } catch {
        // Already closed.
      }
    }
    await this.#loop;
  }

  #request(
    message: Record<string, unknown>,
    handlers?: StreamHandlers,
  ): Promise<Reply> {
    if (this.#lost) return Promise.reject(this.#lost);
    if (this.#closing) {
      return Promise.reject(new ConsoleClientError("the connection is closed"));
    }
    const id = this.#nextId++;
    const line = JSON.stringify({ op: message.op, id, ...message });
    const bytes = encoder.encode(line).length;
    if (bytes > MAX_LINE_BYTES) {
      return Promise.reject(
        new RangeError(
          `Input of ${bytes} bytes is over the console's ${MAX_LINE_BYTES}-byte line limit: not sent`,
        ),
      );
    }
    return new Promise<Reply>((resolve, reject) => {
      this.#waiters.set(id, { resolve, reject, handlers });
      this.#writer.send(line + "\n");
    });
  }

  async #read(): Promise<void> {
    try {
      while (true) {
        const event = await this.#reader.next();
        if (event.kind === "eof") break;
        if (event.kind === "oversize") {
          this.background.notice?.({
            name: "ProtocolError",
            message:
              `A message of ${event.bytes} bytes from the console is over the ${MAX_LINE_BYTES}-byte line limit: dropped`,
          });
          continue;
        }
        if (event.line.trim() === "") continue;
        let reply: Reply;
        try {
          reply = JSON.parse(event.line);
        } catch {
          this.background.notice?.({
            name: "ProtocolError",
            message: `Malformed message from the console: ${
              JSON.stringify(event.line.slice(0, 80))
            }`,
          });
          continue;
        }
        this.#dispatch(reply);
      }
    } catch {
      // A reset or a close() during a read: the connection is over either way.
    }
    this.#lost = new ConsoleClientError(
      `the console at ${this.#where} closed the connection`,
    );
    for (const waiter of this.#waiters.values()) {
      waiter.reject(
        this.#closing
          ? new ConsoleClientError("the connection is closed")
          : this.#lost,
      );
    }
    this.#waiters.clear();
    if (!this.#closing) {
      try {
        this.#conn.close();
      } catch {
        // Already closed.
      }
    }
  }

  #dispatch(reply: Reply): void {
    if (typeof reply !== "object" || reply === null) return;
    const waiter = "id" in reply && reply.id !== null
      ? this.#waiters.get(reply.id)
      : undefined;
    switch (reply.type) {
      case "output": {
        const target = waiter?.handlers?.output ? waiter.handlers : undefined;
        (target ?? this.background).output?.(reply.stream, reply.text);
        return;
      }
      case "progress": {
        const target = waiter?.handlers?.progress ? waiter.handlers : undefined;
        (target ?? this.background).progress?.(
          reply.label,
          reply.done,
          reply.total,
        );
        return;
      }
      case "error":
        if (waiter === undefined) {
          this.background.notice?.(reply.error);
          return;
        }
        break;
      case "hello":
      case "challenge":
        return;
    }
    if (waiter === undefined) return; // a reply to a request nobody awaits
    this.#waiters.delete(reply.id as RequestId);
    waiter.resolve(reply);
  }

  #unexpected(reply: Reply): ConsoleClientError {
    return new ConsoleClientError(
      `unexpected reply from the console at ${this.#where}: type ${
        JSON.stringify(reply.type)
      }`,
    );
  }
}

/**
 * Reads one reply of the handshake before `deadline`. The first may follow
 * a `token: ` prompt the server shows a slow client: text before its `{` is
 * skipped. Either step may be refused: `source` names where the token came
 * from, for the message.
 *
 * @throws {SessionRefusedError} When the server refuses the session.
 */
async function readHandshakeReply(
  reader: LineReader,
  { where, source, deadline, timeoutMs, first }: {
    where: string;
    source: string;
    deadline: number;
    timeoutMs: number;
    first: boolean;
  },
): Promise<Exclude<Reply, { type: "error" }>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const event = await Promise.race([
    reader.next().catch(() => ({ kind: "eof" as const })),
    new Promise<"timeout">((resolve) => {
      timer = setTimeout(
        () => resolve("timeout"),
        Math.max(0, deadline - Date.now()),
      );
    }),
  ]);
  clearTimeout(timer);
  if (event === "timeout") {
    throw new ConsoleClientError(
      `no answer from ${where} within ${timeoutMs} ms: is it a leakwatch console?`,
    );
  }
  if (event.kind === "eof") {
    throw new ConsoleClientError(
      `the console at ${where} closed the connection before answering (too many connections, or not a leakwatch console?)`,
    );
  }
  if (event.kind === "oversize") {
    throw new ConsoleClientError(
      `the console at ${where} answered with an over-long line: is it a leakwatch console?`,
    );
  }
  const reply = first ? parseFirstReply(event.line) : parseReply(event.line);
  if (reply === undefined) {
    throw new ConsoleClientError(
      `unexpected answer from ${where}: ${
        JSON.stringify(event.line.slice(0, 80))
      } (is it a leakwatch console?)`,
    );
  }
  if (reply.type === "error") {
    throw new SessionRefusedError(
      describeRefusal(reply.error, where, source),
      reply.error,
    );
  }
  return reply;
}

function parseReply(line: string): Reply | undefined {
  try {
    const reply = JSON.parse(line);
    return typeof reply === "object" && reply !== null &&
        typeof reply.type === "string"
      ? reply
      : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `text` is one well-formed JSON value. */
function isJsonText(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The first reply, skipping anything before its `{` (a `token: ` prompt). */
function parseFirstReply(line: string): Reply | undefined {
  const start = line.indexOf("{");
  return start === -1 ? undefined : parseReply(line.slice(start));
}

function describeRefusal(
  error: WireError,
  where: string,
  source: string,
): string {
  switch (error.name) {
    case "AuthenticationError": {
      const reason = String(error.message).replace(
        /^Authentication failed: /,
        "",
      );
      return reason === "invalid console token"
        ? `authentication failed at ${where}: invalid console token (from ${source})`
        : `authentication failed at ${where}: ${reason}`;
    }
    case "AuthenticationThrottledError":
      return `the console at ${where} refused to check the token: ${error.message}`;
    case "ProtocolError": {
      // A console of another version names the one it speaks.
      const other = String(error.message).match(
        /^Unsupported protocol version \d+: this (?:server|console) speaks (\d+)/,
      );
      if (other) {
        return versionMismatch(where, Number(other[1]));
      }
      return `the console at ${where} refused the session: ${error.name}: ${error.message}`;
    }
    case "SessionLimitError":
      return `the console at ${where} is full: ${error.message}`;
    default:
      return `the console at ${where} refused the session: ${error.name}: ${error.message}`;
  }
}

/** The one line for a console of another protocol version, saying which side to update. */
function versionMismatch(where: string, theirs: unknown): string {
  const advice = typeof theirs !== "number"
    ? ""
    : theirs < PROTOCOL_VERSION
    ? " (the service is older than this client: update it, or use its own client)"
    : " (this client is older than the service: update it)";
  return `protocol version mismatch: the console at ${where} speaks version ${theirs}, this client speaks ${PROTOCOL_VERSION}${advice}`;
}

function describeConnectError(error: unknown, address: ConsoleAddress): string {
  if (error instanceof Deno.errors.ConnectionRefused) {
    return "connection refused (is the service running?)";
  }
  if (error instanceof Deno.errors.NotFound && "socket" in address) {
    return "no such socket (is the service running?)";
  }
  if (error instanceof Deno.errors.NotCapable) {
    // Deno checks a socket against all three: net, read and write.
    return "socket" in address
      ? `not permitted (grant --allow-net=unix:${address.socket} and --allow-read, --allow-write on it)`
      : `not permitted (grant --allow-net=${address.host})`;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return "permission denied";
  }
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*\(os error \d+\)$/, "");
}
