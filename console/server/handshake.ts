/**
 * The console's door: what happens between accepting a connection and
 * opening its session. A first line that looks like HTTP is closed
 * unanswered; a JSON hello or a text-mode token must match the console's
 * token; a full console refuses with a clear error.
 *
 * @module
 */

import type { ConnectionWriter } from "../connection_writer.ts";
import type { LineReader } from "../line_reader.ts";
import {
  looksLikeHttp,
  parseHello,
  ProtocolError,
  type Reply,
} from "../protocol.ts";
import { tokensEqual } from "../token.ts";
import { escapeLogField } from "./log.ts";

/** What the handshake needs from its server. */
export interface HandshakeSettings {
  /** The console's token. */
  token: string;
  /** Most sessions at once, for the refusal's message. */
  maxSessions: number;
  /**
   * Takes a session slot.
   *
   * @returns The slot's release, or `undefined` when the console is full.
   */
  claimSession(): (() => void) | undefined;
  /** The pause before a wrong token's connection is closed. */
  authFailureDelayMs: number;
  /** How long a connection may take to authenticate. */
  authTimeoutMs: number;
  /** Silence after which a text-mode connection is asked for its token. */
  promptDelayMs: number;
  /**
   * Records a refused connection.
   *
   * @param reason Why, for the log (no client text).
   * @param detail More about it, escaped for the log.
   */
  refused(reason: string, detail?: string): void;
}

/** One accepted connection, before its session. */
export interface Visitor {
  /** Lines from the client. */
  reader: LineReader;
  /** Lines to the client. */
  writer: ConnectionWriter;
}

/** An authenticated connection with its session slot. */
export interface Admission {
  /** JSON lines (a client) or text (a human with `nc`). */
  mode: "json" | "text";
  /** Whether values are rendered with ANSI colours. */
  colors: boolean;
  /** Whether the `token: ` question was shown (text mode). */
  prompted: boolean;
  /** Frees the session slot once the session ends. */
  release(): void;
}

/**
 * Authenticates a connection and claims its session slot. A refused
 * connection has been answered (or, for HTTP, deliberately not) and
 * recorded; the caller only closes it.
 *
 * @param visitor The connection's reader and writer.
 * @param settings The token, limits and delays.
 * @returns The admission, or `undefined` when refused.
 */
export async function admit(
  visitor: Visitor,
  settings: HandshakeSettings,
): Promise<Admission | undefined> {
  const { writer } = visitor;
  const refuse = async (reason: string, reply?: string, detail?: string) => {
    settings.refused(reason, detail);
    if (reply !== undefined) writer.send(reply);
    await writer.flush();
    return undefined;
  };

  const first = await readFirstLine(visitor, settings);
  if (first.kind === "timeout") {
    return await refuse("no token in time", "error: no token in time\n");
  }
  if (first.kind !== "line") {
    return await refuse(
      first.kind === "eof" ? "closed before the token" : "oversize first line",
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
        "bad hello",
        errorLine("ProtocolError", message),
        escapeLogField(message),
      );
    }
  } else {
    presented = first.line.trim();
  }

  if (!await tokensEqual(presented, settings.token)) {
    await delay(settings.authFailureDelayMs);
    const message = "Authentication failed: invalid console token";
    return await refuse(
      "invalid token",
      json ? errorLine("AuthenticationError", message) : `error: ${message}\n`,
    );
  }
  const release = settings.claimSession();
  if (release === undefined) {
    const message =
      `Too many console sessions: ${settings.maxSessions} are open, try again later`;
    return await refuse(
      "too many sessions",
      json ? errorLine("SessionLimitError", message) : `error: ${message}\n`,
    );
  }
  return {
    mode: json ? "json" : "text",
    colors,
    prompted: first.prompted,
    release,
  };
}

type FirstLine =
  | { kind: "line"; line: string; prompted: boolean }
  | { kind: "eof" | "oversize" | "timeout" };

/**
 * Reads the first line within the deadline. A human on `nc` says nothing
 * at first: after a short silence the connection is asked for its token. A
 * client speaks at once and never sees the question.
 */
async function readFirstLine(
  { reader, writer }: Visitor,
  settings: HandshakeSettings,
): Promise<FirstLine> {
  let prompted = false;
  const promptTimer = setTimeout(() => {
    if (reader.buffered === 0) {
      prompted = true;
      writer.send("token: ");
    }
  }, settings.promptDelayMs);
  let authTimer: ReturnType<typeof setTimeout> | undefined;
  try {
    const first = await Promise.race([
      reader.next(),
      new Promise<{ kind: "timeout" }>((resolve) => {
        authTimer = setTimeout(
          () => resolve({ kind: "timeout" }),
          settings.authTimeoutMs,
        );
      }),
    ]).catch(() => ({ kind: "eof" as const }));
    return first.kind === "line"
      ? { kind: "line", line: first.line, prompted }
      : { kind: first.kind };
  } finally {
    clearTimeout(promptTimer);
    clearTimeout(authTimer);
  }
}

function errorLine(name: string, message: string): string {
  const reply: Reply = { type: "error", id: null, error: { name, message } };
  return JSON.stringify(reply) + "\n";
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
