/**
 * What both session modes share: one session's evaluator, its pending
 * evaluations (so they can be interrupted), the evaluation log line, and
 * teardown. The JSON-lines and text modes (`json_session.ts`,
 * `text_session.ts`) differ only in how they read requests and write
 * replies.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { ConnectionWriter } from "../connection_writer.ts";
import {
  createEvaluator,
  type EvalResult,
  type EvaluateOptions,
  type Evaluator,
} from "../eval/evaluator.ts";
import type { ProgressFn } from "../heap/progress.ts";
import type { LineReader } from "../line_reader.ts";
import type { RequestId } from "../protocol.ts";
import { escapeLogField } from "./log.ts";

/** What a session's extra bindings can do: report progress to the client. */
export interface SessionIO {
  /**
   * Reports progress of a long operation to the client (a progress bar in
   * the interactive client).
   */
  progress: ProgressFn;
  /**
   * Aborts when the session closes: what the bindings hold for the session
   * alone can be let go then.
   */
  closed?: AbortSignal;
}

/**
 * Makes a session's own bindings (the leak toolkit, injected by the serve
 * command); may load them on first use.
 */
export type ScopeFactory = (
  io: SessionIO,
) => Record<string, unknown> | Promise<Record<string, unknown>>;

/** What a session needs from its server. */
export interface SessionContext {
  /** The session's number, for the log. */
  number: number;
  /** The client's address, for the log. */
  peer: string;
  /** The service's namespace. */
  namespace: Record<string, unknown>;
  /** Extra, session-only bindings (the leak toolkit). */
  scope: ScopeFactory;
  /** Where log lines go. */
  log: (line: string) => void;
  /** Lines from the client. */
  reader: LineReader;
  /** Lines to the client. */
  writer: ConnectionWriter;
  /** Render values with colours. */
  colors: boolean;
  /**
   * Called once when the client's input ends: the session's slot is freed
   * at once, whatever is still pending.
   */
  inputEnded(): void;
  /**
   * How long evaluations still pending when the input ended are waited for
   * (a script that only closed its sending side gets their answers); then
   * the session closes and they go on as background work.
   */
  endGraceMs: number;
}

/** A session's lifetime, so its server can end it. */
export interface Session {
  /** Settles when the client leaves or the session is closed. */
  done: Promise<void>;
  /** Interrupts a pending evaluation and releases the session's state. */
  close(): void;
}

/** An evaluation registered with the session, so it can be interrupted early. */
export interface PendingEvaluation {
  /** The request's id; `null` in text mode. */
  id: RequestId | null;
  /** Aborting settles the evaluation with an `Interrupted` error. */
  controller: AbortController;
}

/** Where a session mode sends what its evaluations write. */
export interface SessionSinks {
  /**
   * Console output of the evaluation `id` (or of no pending one).
   *
   * @param id The evaluation that wrote it, or `null`.
   * @param stream Where it was written.
   * @param text The text.
   */
  output(
    id: RequestId | null,
    stream: "stdout" | "stderr",
    text: string,
  ): void;
  /**
   * Progress of a long operation of the evaluation `id`.
   *
   * @param id The evaluation, or `null`.
   * @param label What is running.
   * @param done Steps done.
   * @param total Steps in all.
   */
  progress(
    id: RequestId | null,
    label: string,
    done: number,
    total: number,
  ): void;
}

/** Options of one evaluation, as the protocol passes them on. */
export interface SessionEvaluateOptions {
  /** `"json"` asks the evaluator for the value as JSON text too. */
  format?: "text" | "json";
}

/** An evaluation's outcome, with the JSON text the evaluator may add. */
export type SessionResult = EvalResult & { json?: string };

/**
 * The evaluator of one session with its pending evaluations, logging and
 * teardown. Made by {@linkcode createSessionCore}.
 */
export class SessionCore {
  /** The session's evaluator (completion goes straight to it). */
  readonly evaluator: Evaluator;
  #context: SessionContext;
  #current: PendingEvaluation | undefined;
  #waiting: PendingEvaluation[] = [];
  #closed = false;
  #onClose: (() => void) | undefined;

  /**
   * @param context The session's environment.
   * @param evaluator Its evaluator.
   * @param onClose Called once by {@linkcode SessionCore.close}.
   */
  constructor(
    context: SessionContext,
    evaluator: Evaluator,
    onClose?: () => void,
  ) {
    this.#context = context;
    this.evaluator = evaluator;
    this.#onClose = onClose;
  }

  /** The id of the evaluation running now, for output routing. */
  get currentId(): RequestId | null {
    return this.#current?.id ?? null;
  }

  /** Whether {@linkcode SessionCore.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Registers an evaluation as waiting, so it can be interrupted early.
   *
   * @param id The request's id.
   * @returns The registration to pass to {@linkcode SessionCore.evaluate}.
   */
  prepare(id: RequestId | null): PendingEvaluation {
    const pending = { id, controller: new AbortController() };
    this.#waiting.push(pending);
    return pending;
  }

  /**
   * Runs one evaluation, hands its result to `reply`, then logs it: the
   * log line's hashing and synchronous write happen while the reply is
   * already on its way, not before it.
   *
   * @param code The snippet.
   * @param pending Its registration from {@linkcode SessionCore.prepare}.
   * @param reply Sends the result to the client.
   * @param options The request's options (`format`).
   * @returns The result.
   */
  async evaluate(
    code: string,
    pending: PendingEvaluation,
    reply: (result: SessionResult) => void,
    options: SessionEvaluateOptions = {},
  ): Promise<SessionResult> {
    const index = this.#waiting.indexOf(pending);
    if (index !== -1) this.#waiting.splice(index, 1);
    this.#current = pending;
    const started = performance.now();
    let result: SessionResult;
    try {
      // `format` is passed only when asked for, as the evaluator's option.
      const evaluateOptions: EvaluateOptions & { format?: "text" | "json" } = {
        signal: pending.controller.signal,
      };
      if (options.format !== undefined) evaluateOptions.format = options.format;
      result = await this.evaluator.evaluate(code, evaluateOptions);
    } finally {
      if (this.#current === pending) this.#current = undefined;
    }
    const durationMs = result.kind === "incomplete"
      ? performance.now() - started
      : result.durationMs;
    try {
      reply(result);
    } finally {
      logEvaluation(this.#context, code, durationMs, result);
    }
    return result;
  }

  /**
   * Interrupts the evaluation `target` (or the running one).
   *
   * @param target The evaluation's id; the running or first waiting one
   * when omitted.
   * @returns The id interrupted, or `undefined` when none matched.
   */
  interrupt(target?: RequestId): RequestId | undefined {
    const candidates = this.#current
      ? [this.#current, ...this.#waiting]
      : this.#waiting;
    const found = target === undefined
      ? candidates[0]
      : candidates.find((pending) => pending.id === target);
    if (found === undefined || found.id === null) return undefined;
    found.controller.abort();
    return found.id;
  }

  /**
   * Ends the session: pending evaluations are interrupted (their work goes
   * on in the background), the evaluator is closed (what the session
   * defined lives on while referenced) and the link to the connection is
   * cut. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#current?.controller.abort();
    for (const pending of this.#waiting) pending.controller.abort();
    this.#evaluatorClose();
    this.#onClose?.();
  }

  #evaluatorClose(): void {
    try {
      this.evaluator.close();
    } catch (error) {
      this.#context.log(
        `console session ${this.#context.number} close failed: ${
          error instanceof Error ? error.message : error
        }`,
      );
    }
  }
}

/**
 * Makes a session's core: its scope (the injected bindings), then its
 * evaluator, whose output and progress go to `sinks` tagged with the
 * evaluation running at the time.
 *
 * @param context The session's environment.
 * @param sinks Where output and progress go.
 * @returns The core.
 */
export async function createSessionCore(
  context: SessionContext,
  sinks: SessionSinks,
): Promise<SessionCore> {
  // The sinks need the core's current evaluation; the core needs the
  // evaluator they feed. Closing cuts the link: functions the session made
  // may outlive it (a hook in the namespace keeps the session's scope, the
  // toolkit's `io` in it), and must not keep its connection too.
  const link: { sinks?: SessionSinks; core?: SessionCore } = { sinks };
  const ended = new AbortController();
  const io: SessionIO = {
    progress(label, done, total) {
      link.sinks?.progress(link.core?.currentId ?? null, label, done, total);
    },
    closed: ended.signal,
  };
  const scope = await context.scope(io);
  const evaluator = createEvaluator(context.namespace, {
    output: {
      write(stream, text, info) {
        // Background output (a timer's, an interrupted evaluation's) belongs
        // to no request, even while another evaluation is pending.
        link.sinks?.output(
          info?.background ? null : link.core?.currentId ?? null,
          stream,
          text,
        );
      },
    },
    scope,
    colors: context.colors,
  });
  link.core = new SessionCore(context, evaluator, () => {
    link.sinks = undefined;
    link.core = undefined;
    ended.abort();
  });
  return link.core;
}

/** Characters of output per message: at most 6 bytes each once escaped. */
export const OUTPUT_PIECE_CHARS = 128 * 1024;

/** Makes the wire text of one piece of output (a JSON line, or the text itself). */
export type OutputFormat = (
  id: RequestId | null,
  stream: "stdout" | "stderr",
  text: string,
) => string;

/**
 * A session's console output on its way to a client that may read slowly
 * or not at all: sent in pieces, dropped while more than the writer's limit
 * waits, and every dropped character counted in a note (`… (N characters
 * of output dropped: …)`) that goes out as soon as output could go again,
 * and at the latest before the next reply (so at most one note per
 * evaluation and stream waits, whatever the backlog). For each evaluation
 * and stream, the characters delivered plus those the notes count are the
 * characters printed.
 */
export class ClientOutput {
  #writer: ConnectionWriter;
  #format: OutputFormat;
  /** Dropped characters not yet noted, per evaluation and stream. */
  #owed = new Map<string, {
    id: RequestId | null;
    stream: "stdout" | "stderr";
    characters: number;
  }>();

  /**
   * @param writer The connection.
   * @param format Makes the wire text of a piece of output.
   */
  constructor(writer: ConnectionWriter, format: OutputFormat) {
    this.#writer = writer;
    this.#format = format;
    writer.drained = () => this.#report(false);
  }

  /**
   * Sends output, as much as the client's backlog allows; the rest is
   * counted for a note.
   *
   * @param id The evaluation that wrote it, or `null`.
   * @param stream Where it was written.
   * @param text The text.
   */
  write(id: RequestId | null, stream: "stdout" | "stderr", text: string): void {
    // What was dropped earlier is said before what comes after it.
    this.#report(false);
    let sent = 0;
    if (this.#owed.size === 0) {
      for (const piece of pieces(text, OUTPUT_PIECE_CHARS)) {
        if (!this.#writer.send(this.#format(id, stream, piece), true)) break;
        sent += piece.length;
      }
    }
    if (sent < text.length) this.#drop(id, stream, text.length - sent);
  }

  /**
   * Sends every note still owed, whatever the backlog (at most one per
   * evaluation and stream): called before a reply, so the notes of an
   * evaluation's output come before its result.
   */
  flush(): void {
    this.#report(true);
  }

  #drop(id: RequestId | null, stream: "stdout" | "stderr", characters: number) {
    const key = `${stream} ${JSON.stringify(id)}`;
    const owed = this.#owed.get(key);
    if (owed !== undefined) owed.characters += characters;
    else this.#owed.set(key, { id, stream, characters });
  }

  #report(force: boolean): void {
    for (const [key, { id, stream, characters }] of this.#owed) {
      const note =
        `… (${characters} characters of output dropped: the client did not read fast enough)\n`;
      // Unforced, a note goes when output could go again: one note per
      // stretch of dropped output, not one per line dropped.
      const sent = this.#writer.send(this.#format(id, stream, note), !force);
      if (!sent) return;
      this.#owed.delete(key);
    }
  }
}

/**
 * Cuts `text` into pieces of at most `size` code units, never inside a
 * surrogate pair or a terminal escape sequence.
 */
function* pieces(text: string, size: number): Generator<string> {
  let start = 0;
  while (text.length - start > size) {
    let end = start + size;
    const last = text.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff) end--;
    // An escape sequence (`ESC [ 3 1 m`) cut in two would reach the client
    // as two broken halves: cut before it instead.
    const escape = text.lastIndexOf("\x1b", end - 1);
    if (
      escape > start && end - escape < 64 &&
      !/[@-~]/.test(text.slice(escape + 2, end))
    ) {
      end = escape;
    }
    yield text.slice(start, end);
    start = end;
  }
  yield text.slice(start);
}

/**
 * Waits for what a session still owes a client whose input ended, at most
 * `graceMs`.
 *
 * @param work The pending evaluations.
 * @param graceMs The most to wait.
 * @returns When the work is done or the grace is over.
 */
export async function drain(work: Promise<unknown>, graceMs: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    work.catch(() => {}),
    new Promise((resolve) => timer = setTimeout(resolve, graceMs)),
  ]);
  clearTimeout(timer);
}

/** Logs one evaluation: who, how much code and its hash, how long, how it ended; never the code. */
function logEvaluation(
  context: SessionContext,
  code: string,
  durationMs: number,
  result: EvalResult,
): void {
  const outcome = result.kind === "error"
    ? (result.name === "Interrupted"
      ? "interrupted"
      : `error ${escapeLogField(result.name)}`)
    : result.kind === "value"
    ? "ok"
    : "incomplete";
  context.log(
    `console session ${context.number} from ${context.peer} eval ${code.length} chars sha256:${
      createHash("sha256").update(code).digest("hex").slice(0, 12)
    } ${durationMs.toFixed(1)} ms ${outcome}`,
  );
}
