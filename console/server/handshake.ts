/**
 * The console's door: what happens between accepting a connection and
 * opening its session. A first line that looks like HTTP is closed
 * unanswered. A JSON client proves it knows the token by challenge–response
 * (the server sends a nonce, the client answers HMAC-SHA256 keyed with the
 * token over it) and so never sends the token itself; a text-mode line (a
 * human on `nc`) or a hello with a `token` (a script) is the token itself.
 * A full console refuses with a clear error.
 *
 * @module
 */

import type { ConnectionWriter } from "../connection_writer.ts";
import type { LineReader } from "../line_reader.ts";
import {
  looksLikeHttp,
  parseAuth,
  parseHello,
  ProtocolError,
  type Reply,
} from "../protocol.ts";
import { createNonce, tokensEqual, verifyAnswer } from "../token.ts";
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
  // One deadline for the whole handshake, challenge round trip included.
  const deadline = new Deadline(settings.authTimeoutMs);
  try {
    const first = await readFirstLine(visitor, settings, deadline);
    if (first.kind === "timeout") {
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
    const failure = (name: string, message: string) =>
      json ? errorLine(name, message) : `error: ${message}\n`;
    let colors = false;
    let authenticated: boolean;
    if (json) {
      let hello;
      try {
        hello = parseHello(first.line);
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
      colors = hello.colors ?? false;
      if (hello.token !== undefined) {
        // A script through nc may send the token itself, as text mode does.
        authenticated = await tokensEqual(hello.token, settings.token);
      } else {
        const answer = await challenge(visitor, deadline);
        if (answer.kind === "timeout") {
          return await refuse(
            "no answer to the challenge in time",
            failure(
              "AuthenticationError",
              "No answer to the challenge in time",
            ),
          );
        }
        if (answer.kind === "bad") {
          return await refuse(
            "bad answer to the challenge",
            answer.reply,
            escapeLogField(answer.detail),
          );
        }
        authenticated = await verifyAnswer(
          settings.token,
          answer.nonce,
          answer.answer,
        );
      }
    } else {
      authenticated = await tokensEqual(first.line.trim(), settings.token);
    }

    if (!authenticated) {
      await delay(settings.authFailureDelayMs);
      return await refuse(
        "invalid token",
        failure(
          "AuthenticationError",
          "Authentication failed: invalid console token",
        ),
      );
    }
    const release = settings.claimSession();
    if (release === undefined) {
      return await refuse(
        "too many sessions",
        failure(
          "SessionLimitError",
          `Too many console sessions: ${settings.maxSessions} are open, try again later`,
        ),
      );
    }
    return {
      mode: json ? "json" : "text",
      colors,
      prompted: first.prompted,
      release,
    };
  } finally {
    deadline.clear();
  }
}

/** A deadline several reads race against. */
class Deadline {
  #timer: ReturnType<typeof setTimeout>;
  /** Settles with `"timeout"` when the time is up. */
  readonly expired: Promise<"timeout">;

  constructor(ms: number) {
    let fire!: (value: "timeout") => void;
    this.expired = new Promise((resolve) => fire = resolve);
    this.#timer = setTimeout(() => fire("timeout"), ms);
  }

  clear(): void {
    clearTimeout(this.#timer);
  }
}

type ChallengeOutcome =
  | { kind: "answer"; nonce: string; answer: string }
  | { kind: "bad"; reply: string; detail: string }
  | { kind: "timeout" };

/** Sends a fresh nonce and reads the client's answer to it. */
async function challenge(
  { reader, writer }: Visitor,
  deadline: Deadline,
): Promise<ChallengeOutcome> {
  const nonce = createNonce();
  const reply: Reply = { type: "challenge", nonce };
  writer.send(JSON.stringify(reply) + "\n");
  const event = await Promise.race([reader.next(), deadline.expired])
    .catch(() => ({ kind: "eof" as const }));
  if (event === "timeout") return { kind: "timeout" };
  if (event.kind !== "line") {
    const detail = event.kind === "eof"
      ? "closed before answering"
      : "oversize line";
    return {
      kind: "bad",
      reply: errorLine(
        "ProtocolError",
        `No answer to the challenge: ${detail}`,
      ),
      detail,
    };
  }
  try {
    return { kind: "answer", nonce, answer: parseAuth(event.line).answer };
  } catch (error) {
    const message = error instanceof ProtocolError
      ? error.message
      : String(error);
    return {
      kind: "bad",
      reply: errorLine("ProtocolError", message),
      detail: message,
    };
  }
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
  deadline: Deadline,
): Promise<FirstLine> {
  let prompted = false;
  const promptTimer = setTimeout(() => {
    if (reader.buffered === 0) {
      prompted = true;
      writer.send("token: ");
    }
  }, settings.promptDelayMs);
  try {
    const first = await Promise.race([
      reader.next(),
      deadline.expired.then(() => ({ kind: "timeout" as const })),
    ]).catch(() => ({ kind: "eof" as const }));
    return first.kind === "line"
      ? { kind: "line", line: first.line, prompted }
      : { kind: first.kind };
  } finally {
    clearTimeout(promptTimer);
  }
}

function errorLine(name: string, message: string): string {
  const reply: Reply = { type: "error", id: null, error: { name, message } };
  return JSON.stringify(reply) + "\n";
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
