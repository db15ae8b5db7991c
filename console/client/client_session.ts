/**
 * The one shape the client's modes (the REPL, `-e`, piped input) drive: a
 * session that evaluates, completes and interrupts. A console connection
 * (`ConsoleConnection`, the console's own protocol) is one kind; an attached
 * process's inspector (`console/attach/`) is another.
 *
 * @module
 */

import type {
  BackgroundHandlers,
  ConsoleClientError,
  EvalOutcome,
  EvaluateOptions,
  SessionInfo,
  StreamHandlers,
} from "./connection.ts";

/**
 * What the interactive mode says at Ctrl-C during an evaluation, when the
 * session's kind can do other than the console's default.
 */
export interface InterruptTexts {
  /** Said at once on the first Ctrl-C during an evaluation. */
  sent: string;
  /** Said when leaving on a second Ctrl-C the evaluation did not answer. */
  ignored: string;
}

/**
 * An open session, whatever carries it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClientSession } from "./client_session.ts";
 * import { runEvalOnce } from "./batch.ts";
 *
 * // A session that answers every snippet with its length.
 * const session: ClientSession = {
 *   info: { session: 1, pid: 1, names: [], banner: "" },
 *   background: {},
 *   closed: false,
 *   finished: () => new Promise(() => {}),
 *   evaluate: (code) =>
 *     Promise.resolve({ kind: "value", value: String(code.length), durationMs: 0 }),
 *   complete: (_code, cursor = 0) => Promise.resolve({ candidates: [], start: cursor }),
 *   interrupt: () => Promise.resolve(false),
 *   close: () => Promise.resolve(),
 * };
 * const printed: string[] = [];
 * const code = await runEvalOnce(session, "abc", {
 *   write: (_stream, text) => printed.push(text),
 * });
 * assert.equal(code, 0);
 * assert.deepEqual(printed, ["3\n"]);
 * ```
 */
export interface ClientSession {
  /** The session the other side opened. */
  readonly info: SessionInfo;
  /** Where output and progress of no pending request go; settable. */
  background: BackgroundHandlers;
  /** Whether the session has ended. */
  readonly closed: boolean;
  /**
   * Settles when the session ends, with the error that ended it
   * (`undefined` after {@linkcode ClientSession.close}).
   */
  finished(): Promise<ConsoleClientError | undefined>;
  /**
   * Evaluates a snippet; its console output and progress go to `handlers`.
   *
   * @throws {RangeError} When the snippet is over the session's size limit.
   * @throws {ConsoleClientError} When the session is lost meanwhile.
   */
  evaluate(
    code: string,
    handlers?: StreamHandlers,
    options?: EvaluateOptions,
  ): Promise<EvalOutcome>;
  /** Completions of `code` before `cursor`: replacements from `start`. */
  complete(
    code: string,
    cursor?: number,
  ): Promise<{ candidates: string[]; start: number }>;
  /**
   * Interrupts the pending evaluation: it ends with an `Interrupted` error.
   *
   * @returns Whether an evaluation was interrupted.
   */
  interrupt(): Promise<boolean>;
  /** Ends the session; pending requests fail. Idempotent. */
  close(): Promise<void>;
  /** What Ctrl-C says, when not the console's default. */
  readonly interruptTexts?: InterruptTexts;
}
