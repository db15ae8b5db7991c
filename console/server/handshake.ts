/**
 * The console's door: what happens between accepting a connection and
 * opening its session. A first line that looks like HTTP is closed
 * unanswered. A JSON client proves it knows the token by challenge–response
 * (its hello carries a nonce, the server sends another, the client answers
 * HMAC-SHA256 keyed with the token over both nonces and the endpoint it
 * dialled, and the server proves it knows the token the same way), so the
 * token never crosses the wire and an answer cannot be relayed to another
 * console; a text-mode line (a human on `nc`) or a hello with a `token` (a
 * script) is the token itself. Every token checked takes from the
 * failed-authentication budget first (`auth_throttle.ts`). A full console
 * refuses with a clear error.
 *
 * @module
 */

import type { ConnectionWriter } from "../connection_writer.ts";
import { describeEndpoint } from "../endpoint.ts";
import type { LineReader } from "../line_reader.ts";
import {
  looksLikeHttp,
  parseAuth,
  parseHello,
  ProtocolError,
  type Reply,
} from "../protocol.ts";
import {
  createNonce,
  proveConsole,
  tokensEqual,
  verifyAnswer,
} from "../token.ts";
import type { AuthRefusal, AuthThrottle } from "./auth_throttle.ts";
import { escapeLogField } from "./log.ts";

/** What the handshake needs from its server. */
export interface HandshakeSettings {
  /** The console's token. */
  token: string;
  /**
   * This connection's endpoint as the console sees it (`endpoint.ts`): the
   * address the client must have dialled.
   */
  endpoint: string;
  /** The connection's peer (`peer.ts`), whose budget its guesses take from. */
  peer: string;
  /** Failed authentications, per peer and overall. */
  throttle: AuthThrottle;
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
   * Reports the connection's progress, for the waiting room: a valid hello
   * or a token arrived (`greeted`), or its token was wrong (`failed`).
   *
   * @param stage Where it is now.
   */
  progressed(stage: "greeted" | "failed"): void;
  /**
   * Records a refused connection.
   *
   * @param reason Why, for the log (no client text).
   * @param detail More about it, escaped for the log.
   */
  refused(reason: string, detail?: string): void;
  /**
   * Records a failed authentication (a wrong token, a throttled attempt, an
   * answer for another address): logged apart from the other refusals, so
   * a connection flood cannot hide them.
   *
   * @param reason Why, for the log (no client text).
   * @param detail More about it, escaped for the log.
   */
  authRefused(reason: string, detail?: string): void;
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
  /** After a challenge: the console's proof for its `hello` reply. */
  proof?: string;
  /** Frees the session slot once the session ends. */
  release(): void;
}

/** How a token (or an answer) was judged. */
type Verdict =
  | { kind: "right"; proof?: string }
  | { kind: "wrong" }
  | { kind: "throttled"; refusal: AuthRefusal }
  | { kind: "elsewhere"; dialled: string };

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
    let verdict: Verdict;
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
      settings.progressed("greeted");
      colors = hello.colors ?? false;
      if (hello.token !== undefined) {
        // A script through nc may send the token itself, as text mode does.
        verdict = await checkToken(hello.token, settings);
      } else {
        // Refused now rather than after a round trip for nothing.
        const early = settings.throttle.check(settings.peer);
        const answer = early === undefined
          ? await challenge(visitor, deadline)
          : undefined;
        if (answer?.kind === "timeout") {
          return await refuse(
            "no answer to the challenge in time",
            failure(
              "AuthenticationError",
              "No answer to the challenge in time",
            ),
          );
        }
        if (answer?.kind === "bad") {
          return await refuse(
            "bad answer to the challenge",
            answer.reply,
            escapeLogField(answer.detail),
          );
        }
        verdict = answer === undefined
          ? { kind: "throttled", refusal: early! }
          : await checkAnswer(answer, hello.nonce!, settings);
      }
    } else {
      settings.progressed("greeted");
      verdict = await checkToken(first.line.trim(), settings);
    }

    switch (verdict.kind) {
      case "throttled": {
        // Refused unchecked, at once: nothing was learnt, nothing to wait for.
        const message = throttledMessage(verdict.refusal, settings.peer);
        settings.authRefused(
          "authentication throttled",
          verdict.refusal.scope === "peer"
            ? `too many failures from ${settings.peer}`
            : "too many failures overall",
        );
        writer.send(failure("AuthenticationThrottledError", message));
        await writer.flush();
        return undefined;
      }
      case "wrong":
        settings.authRefused("invalid token");
        return await refuseAfterPause(
          failure(
            "AuthenticationError",
            "Authentication failed: invalid console token",
          ),
          visitor,
          settings,
        );
      case "elsewhere": {
        const dialled = describeEndpoint(verdict.dialled);
        const here = describeEndpoint(settings.endpoint);
        settings.authRefused(
          "answer for another address",
          escapeLogField(
            `dialled ${dialled}, this console is ${here}: a relay in between`,
          ),
        );
        return await refuseAfterPause(
          failure(
            "AuthenticationError",
            `Authentication failed: the client dialled ${dialled}, but this console is ${here}: something in between passed the connection on`,
          ),
          visitor,
          settings,
        );
      }
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
      ...verdict.proof === undefined ? {} : { proof: verdict.proof },
      release,
    };
  } finally {
    deadline.clear();
  }
}

/** Checks a token sent as is (text mode, a hello with `token`). */
async function checkToken(
  presented: string,
  settings: HandshakeSettings,
): Promise<Verdict> {
  const attempt = settings.throttle.attempt(settings.peer);
  if ("scope" in attempt) return { kind: "throttled", refusal: attempt };
  if (!await tokensEqual(presented, settings.token)) return { kind: "wrong" };
  attempt.succeeded();
  return { kind: "right" };
}

/**
 * Checks an answer to the challenge: first that it was made with the
 * token, for the endpoint it names; then that this endpoint is ours.
 */
async function checkAnswer(
  answer: { nonce: string; endpoint: string; answer: string },
  clientNonce: string,
  settings: HandshakeSettings,
): Promise<Verdict> {
  const attempt = settings.throttle.attempt(settings.peer);
  if ("scope" in attempt) return { kind: "throttled", refusal: attempt };
  const binding = {
    serverNonce: answer.nonce,
    clientNonce,
    endpoint: answer.endpoint,
  };
  if (!await verifyAnswer(settings.token, binding, answer.answer)) {
    return { kind: "wrong" };
  }
  // The token was right: whatever follows, it was no guess.
  attempt.succeeded();
  if (answer.endpoint !== settings.endpoint) {
    return { kind: "elsewhere", dialled: answer.endpoint };
  }
  return { kind: "right", proof: await proveConsole(settings.token, binding) };
}

/**
 * Answers a failed authentication after the pause: the connection waits as
 * `failed`, the first to make room for a newcomer.
 */
async function refuseAfterPause(
  reply: string,
  { writer }: Visitor,
  settings: HandshakeSettings,
): Promise<undefined> {
  settings.progressed("failed");
  await delay(settings.authFailureDelayMs);
  writer.send(reply);
  await writer.flush();
  return undefined;
}

function throttledMessage(refusal: AuthRefusal, peer: string): string {
  const seconds = Math.max(1, Math.ceil(refusal.retryAfterMs / 1000));
  const where = refusal.scope === "overall"
    ? "on this console"
    : peer === "loopback"
    ? "from this machine"
    : peer === "unix socket"
    ? "through its unix socket"
    : `from ${peer}`;
  return `Too many failed authentications ${where}: try again in ${seconds} s`;
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
  | { kind: "answer"; nonce: string; endpoint: string; answer: string }
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
    const { endpoint, answer } = parseAuth(event.line);
    return { kind: "answer", nonce, endpoint, answer };
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
