/**
 * The console's wire protocol, version 3: message shapes shared by the
 * server and the client, and their validation. `docs/protocol.md` is its
 * reference.
 *
 * One connection carries newline-delimited lines. If the first line is a
 * JSON object the connection speaks *JSON lines* (one object a line, both
 * ways); anything else is *text* mode for a human with `nc`. A first line
 * that looks like HTTP closes the connection unanswered.
 *
 * @module
 */

import { isEndpoint } from "./endpoint.ts";

/**
 * The protocol version this code speaks. 3 binds the challenge's answer to
 * both nonces and the endpoint the client dialled, and the console proves
 * it knows the token too; 2 (an answer over the console's nonce alone,
 * which a relay could pass on) is refused. A hello that carries the token
 * itself (version 1, scripts through `nc`) is still accepted.
 */
export const PROTOCOL_VERSION = 3;

/** The versions a hello carrying its token may say. */
const TOKEN_HELLO_VERSIONS: readonly number[] = [1, 2, 3];

/** The longest line either side sends or accepts: 1 MiB. */
export const MAX_LINE_BYTES = 1024 * 1024;

/** The longest first line (the hello or the token) before authentication. */
export const MAX_HELLO_BYTES = 16 * 1024;

/** The console's default TCP host: loopback only. */
export const DEFAULT_CONSOLE_HOST = "127.0.0.1";

/** The console's default TCP port. */
export const DEFAULT_CONSOLE_PORT = 44444;

/** The most console sessions open at once, by default. */
export const DEFAULT_MAX_SESSIONS = 8;

/**
 * Opens a session: must be the first line of a JSON connection. Without a
 * `token` it says `version` 3 and carries the client's `nonce`; the server
 * answers with a `challenge`, which the client answers with an
 * {@linkcode AuthRequest}. With a `token` (a script through `nc`) the token
 * is checked at once.
 */
export interface HelloRequest {
  /** Always `"hello"`. */
  op: "hello";
  /** The console token itself; the client never sends it (challenge–response instead). */
  token?: string;
  /** The protocol version the client speaks: 3 (any of 1–3 with a `token`). */
  version?: number;
  /** The client's fresh random nonce, 64 hex digits (required without `token`). */
  nonce?: string;
  /** Render values with ANSI colours (the client is a terminal). */
  colors?: boolean;
}

/**
 * Answers the server's `challenge`: the second line of a JSON connection
 * whose hello had no token.
 */
export interface AuthRequest {
  /** Always `"auth"`. */
  op: "auth";
  /**
   * The endpoint the client dialled, as `endpoint.ts` writes it
   * (`tcp:127.0.0.1:44444`, `unix:/path`): the answer is bound to it.
   */
  endpoint: string;
  /**
   * HMAC-SHA256 keyed with the token over `leakwatch-console-3 client`, the
   * challenge's nonce, the hello's nonce and `endpoint`, one per line, as
   * 64 hex digits (`token.ts` `answerChallenge`).
   */
  answer: string;
}

/** Evaluates a snippet. */
export interface EvalRequest {
  /** Always `"eval"`. */
  op: "eval";
  /** The request's id, echoed by every reply to it. */
  id: RequestId;
  /** JavaScript or TypeScript source. */
  code: string;
  /**
   * `"json"` also sends the awaited value as JSON text (the `result`
   * reply's `json` field); `"text"` (the default) renders it only.
   */
  format?: "text" | "json";
}

/** Asks for completions of the code before `cursor`. */
export interface CompleteRequest {
  /** Always `"complete"`. */
  op: "complete";
  /** The request's id. */
  id: RequestId;
  /** The line being edited. */
  code: string;
  /** The cursor's offset in `code`; its end when omitted. */
  cursor?: number;
}

/**
 * Stops waiting for a pending evaluation (the one with id `target`, or the
 * pending one): it ends with an `Interrupted` error and the session is free.
 */
export interface InterruptRequest {
  /** Always `"interrupt"`. */
  op: "interrupt";
  /** The request's id. */
  id: RequestId;
  /** The evaluation to interrupt; the pending one when omitted. */
  target?: RequestId;
}

/** A request after the hello. */
export type Request = EvalRequest | CompleteRequest | InterruptRequest;

/** A request id: a number or string chosen by the client. */
export type RequestId = number | string;

/** An error as sent on the wire. */
export interface WireError {
  /** The error's class name, e.g. `TypeError`, or a protocol error name. */
  name: string;
  /** Its message. */
  message: string;
  /** Its stack, with the snippet's frames; may be empty. */
  stack?: string;
}

/**
 * A failed evaluation as both sides hold it: the evaluator's error result,
 * and the client's outcome of an `error` reply. The wire error's fields
 * flat, with the text a REPL prints for it.
 */
export interface EvalFailure extends WireError {
  /** Always `"error"`. */
  kind: "error";
  /** The error as a REPL prints it (`Uncaught Error: ...`). */
  text: string;
  /** How long the evaluation took, in milliseconds, when there was one. */
  durationMs?: number;
}

/** A message from the server. */
export type Reply =
  | {
    /** Prove you know the token: answer with an `auth` request. */
    type: "challenge";
    /** A fresh random nonce (64 hex digits) to sign. */
    nonce: string;
  }
  | {
    /** The session is open. */
    type: "hello";
    /** The server's protocol version. */
    version: number;
    /** The session's number, as the server's log names it. */
    session: number;
    /** The service's process id. */
    pid: number;
    /** The namespace's names, for the banner. */
    names: string[];
    /** A line or two to greet a human with. */
    banner: string;
    /**
     * After a challenge: the console's proof that it knows the token,
     * HMAC-SHA256 keyed with it over `leakwatch-console-3 server` and the
     * same nonces and endpoint (`token.ts` `proveConsole`).
     */
    proof?: string;
  }
  | {
    /** Console output of an evaluation (or of work it left running). */
    type: "output";
    /** The evaluation that wrote it, or `null` when none is pending. */
    id: RequestId | null;
    /** Where it was written. */
    stream: "stdout" | "stderr";
    /** The text, ending in a newline. */
    text: string;
  }
  | {
    /** Progress of a long operation (a heap snapshot, say). */
    type: "progress";
    /** The evaluation it belongs to. */
    id: RequestId | null;
    /** What is being done. */
    label: string;
    /** Units done. */
    done: number;
    /** Units in all. */
    total: number;
  }
  | {
    /** An evaluation's value. */
    type: "result";
    /** The evaluation's id. */
    id: RequestId;
    /** The value rendered by `Deno.inspect`. */
    value: string;
    /** The awaited value as JSON text, when the request asked for `"format": "json"`. */
    json?: string;
    /** How long it took, in milliseconds. */
    durationMs: number;
  }
  | {
    /** A request failed: a thrown error, a bad request, a refused session. */
    type: "error";
    /** The request's id; `null` when the line had none or did not parse. */
    id: RequestId | null;
    /** What went wrong. */
    error: WireError;
    /** The error as a REPL prints it (`Uncaught Error: ...`). */
    text?: string;
    /** How long the evaluation took, when there was one. */
    durationMs?: number;
  }
  | {
    /** The snippet is incomplete: send it again with more lines. */
    type: "incomplete";
    /** The evaluation's id. */
    id: RequestId;
  }
  | {
    /** Completion candidates. */
    type: "completions";
    /** The request's id. */
    id: RequestId;
    /** Replacements for `code.slice(start, cursor)`, sorted. */
    candidates: string[];
    /** Where the completed word starts. */
    start: number;
  }
  | {
    /** An interrupt was carried out. */
    type: "interrupted";
    /** The interrupt request's id. */
    id: RequestId;
    /** The evaluation it stopped. */
    target: RequestId;
  };

/** A malformed request: the reply names the problem, the session goes on. */
export class ProtocolError extends Error {
  /** The id of the offending request, when it had a usable one. */
  readonly id: RequestId | null;

  /**
   * @param message What is wrong.
   * @param id The request's id, if known.
   */
  constructor(message: string, id: RequestId | null = null) {
    super(message);
    this.name = "ProtocolError";
    this.id = id;
  }
}

/** HTTP methods in use, for request lines that do not end in `HTTP/x.y`. */
const HTTP_METHODS =
  "GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH|PRI|PROPFIND|PROPPATCH|MKCOL|COPY|MOVE|LOCK|UNLOCK|SEARCH|M-SEARCH|NOTIFY|SUBSCRIBE|UNSUBSCRIBE|REPORT|MKCALENDAR|PURGE|LINK|UNLINK";

/**
 * Whether a first line looks like HTTP: a request line (any method token,
 * a target and `HTTP/x.y`, as `M-SEARCH * HTTP/1.1` or the HTTP/2 preface;
 * or a known method followed by ` /` or ` *`, as HTTP/0.9's `GET /`), or a
 * header (`Host: x`). Such a connection comes from a browser, a proxy or a
 * scanner and must never reach the evaluator.
 *
 * @param line The connection's first line, without its line ending.
 * @returns `true` when it looks like HTTP.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { looksLikeHttp } from "./protocol.ts";
 * assert.ok(looksLikeHttp("POST / HTTP/1.1"));
 * assert.ok(looksLikeHttp("M-SEARCH * HTTP/1.1"));
 * assert.ok(!looksLikeHttp('{"op":"hello","version":3}'));
 * assert.ok(!looksLikeHttp("GET_TOKEN / 2"));
 * ```
 */
export function looksLikeHttp(line: string): boolean {
  // A method is an RFC 9110 token: letters, digits and !#$%&'*+-.^_`|~.
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ \S+ HTTP\/\d(\.\d)?\s*$/.test(line) ||
    new RegExp(`^(${HTTP_METHODS}) [/*]`).test(line) ||
    /^host\s*:/i.test(line);
}

/**
 * Parses the first line of a JSON connection.
 *
 * @param line The line.
 * @returns The hello.
 * @throws {ProtocolError} When it is not a valid hello.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseHello } from "./protocol.ts";
 * assert.ok(parseHello('{"op":"hello","token":"t"}').token === "t");
 * const nonce = "0".repeat(64);
 * assert.equal(parseHello(`{"op":"hello","version":3,"nonce":"${nonce}"}`).nonce, nonce);
 * assert.throws(() => parseHello('{"op":"hello","version":2}'), /speaks 3/);
 * ```
 */
export function parseHello(line: string): HelloRequest {
  const message = parseObject(line);
  if (message.op !== "hello") {
    throw new ProtocolError('The first message must be {"op": "hello", ...}');
  }
  if (message.token !== undefined && typeof message.token !== "string") {
    throw new ProtocolError('"token" must be a string');
  }
  if (message.token !== undefined) {
    if (
      message.version !== undefined &&
      !TOKEN_HELLO_VERSIONS.includes(message.version as number)
    ) {
      throw unsupportedVersion(message.version);
    }
  } else if (message.version === 1) {
    throw new ProtocolError('A version 1 hello must carry "token"');
  } else if (message.version !== PROTOCOL_VERSION) {
    throw message.version === undefined
      ? new ProtocolError(
        `A hello without "token" must say "version": ${PROTOCOL_VERSION} and carry a "nonce"`,
      )
      : unsupportedVersion(message.version);
  } else if (!isNonce(message.nonce)) {
    throw new ProtocolError('"nonce" must be 64 lowercase hex digits');
  }
  if (message.colors !== undefined && typeof message.colors !== "boolean") {
    throw new ProtocolError('"colors" must be a boolean');
  }
  return message as unknown as HelloRequest;
}

/** The one line both sides show for a version this side does not speak. */
function unsupportedVersion(version: unknown): ProtocolError {
  return new ProtocolError(
    `Unsupported protocol version ${
      JSON.stringify(version)
    }: this console speaks ${PROTOCOL_VERSION}${
      typeof version === "number" && version < PROTOCOL_VERSION
        ? " (the client is older than the console: update it)"
        : ""
    }`,
  );
}

function isNonce(value: unknown): value is string {
  return typeof value === "string" && /^[0-9a-f]{64}$/.test(value);
}

/**
 * Parses the answer to a challenge.
 *
 * @param line The line after the hello.
 * @returns The answer.
 * @throws {ProtocolError} When it is not a valid `auth` request.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAuth } from "./protocol.ts";
 * const answer = "0".repeat(64);
 * const auth = parseAuth(
 *   `{"op":"auth","endpoint":"tcp:127.0.0.1:44444","answer":"${answer}"}`,
 * );
 * assert.equal(auth.endpoint, "tcp:127.0.0.1:44444");
 * ```
 */
export function parseAuth(line: string): AuthRequest {
  const message = parseObject(line);
  if (message.op !== "auth") {
    throw new ProtocolError(
      'The answer to a challenge must be {"op": "auth", "endpoint": ..., "answer": ...}',
    );
  }
  if (!isEndpoint(message.endpoint)) {
    throw new ProtocolError(
      '"endpoint" must be the address dialled, as "tcp:ADDRESS:PORT" or "unix:/PATH"',
    );
  }
  if (!isNonce(message.answer)) {
    throw new ProtocolError('"answer" must be 64 lowercase hex digits');
  }
  return { op: "auth", endpoint: message.endpoint, answer: message.answer };
}

/**
 * Parses and validates one request line after the hello.
 *
 * @param line The line.
 * @returns The request.
 * @throws {ProtocolError} When the line is not a valid request; its `id` is
 * set when the line carried a usable one, so the reply can name it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRequest } from "./protocol.ts";
 * const request = parseRequest('{"op":"eval","id":1,"code":"1+1"}');
 * assert.ok(request.op === "eval");
 * ```
 */
export function parseRequest(line: string): Request {
  const message = parseObject(line);
  const id = message.id;
  if (!isRequestId(id)) {
    throw new ProtocolError(
      '"id" must be a number or a string of up to 128 characters',
    );
  }
  switch (message.op) {
    case "eval":
      if (typeof message.code !== "string") {
        throw new ProtocolError('"code" must be a string', id);
      }
      if (
        message.format !== undefined && message.format !== "text" &&
        message.format !== "json"
      ) {
        throw new ProtocolError('"format" must be "text" or "json"', id);
      }
      return message.format === undefined
        ? { op: "eval", id, code: message.code }
        : { op: "eval", id, code: message.code, format: message.format };
    case "complete": {
      if (typeof message.code !== "string") {
        throw new ProtocolError('"code" must be a string', id);
      }
      const cursor = message.cursor ?? message.code.length;
      if (
        !Number.isInteger(cursor) || (cursor as number) < 0 ||
        (cursor as number) > message.code.length
      ) {
        throw new ProtocolError(
          '"cursor" must be an integer offset within "code"',
          id,
        );
      }
      return {
        op: "complete",
        id,
        code: message.code,
        cursor: cursor as number,
      };
    }
    case "interrupt":
      if (message.target !== undefined && !isRequestId(message.target)) {
        throw new ProtocolError('"target" must be a request id', id);
      }
      return { op: "interrupt", id, target: message.target as RequestId };
    default:
      throw new ProtocolError(
        `Unknown op ${
          JSON.stringify(message.op)
        }: expected "eval", "complete" or "interrupt"`,
        id,
      );
  }
}

function parseObject(line: string): Record<string, unknown> {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    throw new ProtocolError("Malformed JSON");
  }
  if (
    typeof message !== "object" || message === null || Array.isArray(message)
  ) {
    throw new ProtocolError("A message must be a JSON object");
  }
  return message as Record<string, unknown>;
}

function isRequestId(id: unknown): id is RequestId {
  return (typeof id === "number" && Number.isFinite(id)) ||
    (typeof id === "string" && id.length <= 128);
}
