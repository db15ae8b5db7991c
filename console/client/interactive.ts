/**
 * The client's interactive mode: a `node:readline` REPL over a console
 * session, with prompts, completion by the console, persistent history,
 * Ctrl-C to clear or interrupt, progress bars, and output of background work
 * printed above the prompt.
 *
 * @module
 */

import { createInterface, type Interface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { createCompleter, toReadlineCompleter } from "./tab_completion.ts";
import { ConsoleClientError, type EvalOutcome } from "./connection.ts";
import type { ClientSession } from "./client_session.ts";
import { appendHistory, HISTORY_SIZE, loadHistory } from "./history.ts";
import type { ProgressLine } from "./progress_bar.ts";
import { escapeControls } from "../ansi.ts";
import { PROMPT, SnippetBuffer } from "../snippet_buffer.ts";

/** Options for {@linkcode runInteractive}. */
export interface InteractiveOptions {
  /** Keys from the user: `node:process` stdin (not `Deno.stdin`). */
  input: Readable;
  /** Prompts, values and snippet output: `node:process` stdout. */
  output: Writable;
  /** Errors and the snippet's stderr output: `node:process` stderr. */
  errorOutput: Writable;
  /** Whether `input` and `output` are a terminal (raw keys, redraws); true. */
  terminal?: boolean;
  /** The history file; no persistent history without one. */
  historyPath?: string;
  /** The most history entries kept; {@linkcode HISTORY_SIZE}. */
  historySize?: number;
  /** The progress bar; none shows no progress. */
  progress?: ProgressLine;
  /** Shown before the first prompt (the console's banner). */
  banner?: string;
  /**
   * Let the server's colour sequences through (the session asked for
   * colours). Every other control character a server sends is shown
   * escaped, always (see `escapeControls`).
   */
  colors?: boolean;
}

const INTERRUPT_IGNORED =
  "error: the evaluation does not answer the interrupt (a synchronous loop cannot be stopped); leaving\n";

/**
 * Said at once on the first Ctrl-C during an evaluation: the client cannot
 * tell a synchronous loop (which nothing can stop) from slow asynchronous
 * work (which the interrupt stops), so it says what happens in both cases.
 */
export const INTERRUPT_SENT =
  "^C interrupt sent: awaited (asynchronous) work stops at once; synchronous work (a loop) cannot be stopped and stalls the service until it ends.\n" +
  "Press Ctrl-C again to leave the console; the work keeps running in the service.\n";

/**
 * Runs a REPL until the user leaves (Ctrl-D, `.exit`) or the connection is
 * lost. Lines typed during an evaluation wait their turn.
 *
 * Ctrl-C clears the line (and an incomplete snippet); during an evaluation
 * it sends an interrupt and says at once what it can and cannot stop, and a
 * second Ctrl-C before the evaluation ends leaves.
 *
 * @param connection The open session.
 * @param options The streams, history file and progress bar.
 * @returns The exit code: 0 when the user left, 2 when the connection was
 * lost, 130 when left by a second Ctrl-C.
 *
 * @example
 * ```ts ignore
 * import process from "node:process";
 * import { runInteractive } from "./interactive.ts";
 * const code = await runInteractive(connection, {
 *   input: process.stdin,
 *   output: process.stdout,
 *   errorOutput: process.stderr,
 * });
 * ```
 */
export async function runInteractive(
  connection: ClientSession,
  options: InteractiveOptions,
): Promise<number> {
  const warnings = new HistoryWarnings(options.errorOutput);
  const historySize = options.historySize ?? HISTORY_SIZE;
  const history = options.historyPath === undefined
    ? []
    : await loadHistory(options.historyPath, historySize).catch((error) => {
      warnings.report(error);
      return [];
    });
  const repl = new Repl(connection, options, history, warnings);
  return await repl.run();
}

/** Warns once that history is not being saved, then stays quiet. */
class HistoryWarnings {
  #output: Writable;
  #warned = false;

  constructor(output: Writable) {
    this.#output = output;
  }

  report(error: unknown): void {
    if (this.#warned) return;
    this.#warned = true;
    this.#output.write(
      `warning: history not saved: ${
        error instanceof Error ? error.message : error
      }\n`,
    );
  }
}

/**
 * One interactive session's state and its event handlers: readline's
 * `line`, `SIGINT` and `close`, the connection's background messages, and
 * the queue of lines typed while an evaluation runs.
 */
class Repl {
  #connection: ClientSession;
  #options: InteractiveOptions;
  #terminal: boolean;
  #warnings: HistoryWarnings;
  #buffer = new SnippetBuffer();
  #rl: Interface;
  #queue: string[] = [];
  #busy = false;
  #interrupting = false;
  #inputClosed = false;
  #done = false;
  #resolve: (code: number) => void = () => {};

  constructor(
    connection: ClientSession,
    options: InteractiveOptions,
    history: string[],
    warnings: HistoryWarnings,
  ) {
    this.#connection = connection;
    this.#options = options;
    this.#terminal = options.terminal ?? true;
    this.#warnings = warnings;
    const completer = createCompleter(
      (code, cursor) => connection.complete(code, cursor),
      () => this.#buffer.text,
    );
    this.#rl = createInterface({
      input: options.input,
      output: options.output,
      terminal: this.#terminal,
      prompt: PROMPT,
      completer: toReadlineCompleter(completer),
      history: [...history].reverse(), // readline wants the newest first
      historySize: options.historySize ?? HISTORY_SIZE,
      removeHistoryDuplicates: true,
    });
  }

  /** Shows the banner and the prompt; settles with the exit code. */
  run(): Promise<number> {
    const { promise, resolve } = Promise.withResolvers<number>();
    this.#resolve = resolve;
    if (this.#options.banner) {
      this.#options.output.write(this.#shown(this.#options.banner) + "\n");
    }
    this.#connection.background = {
      output: (stream, text) => this.#print(stream, text),
      progress: (label, done, total) => {
        // Idle, a bar would fight the prompt for the line.
        if (this.#busy) this.#options.progress?.update(label, done, total);
      },
      notice: (error) => this.#print("stderr", `error: ${error.message}\n`),
    };
    this.#connection.finished().then((lost) => {
      // During an evaluation, its failure reports the loss.
      if (lost && !this.#busy) this.#finish(2, `\nerror: ${lost.message}\n`);
    });
    this.#rl.on("line", (line: string) => {
      this.#queue.push(line);
      this.#pump();
    });
    this.#rl.on("SIGINT", () => this.#onCtrlC());
    this.#rl.on("close", () => this.#onInputClosed());
    this.#rl.prompt();
    return promise;
  }

  #finish(code: number, message = ""): void {
    if (this.#done) return;
    this.#done = true;
    this.#options.progress?.clear();
    // Messages may quote the server (a lost connection's reason).
    if (message !== "") this.#options.errorOutput.write(this.#shown(message));
    this.#rl.close();
    this.#resolve(code);
  }

  /** Server text as printed: control characters escaped, colours kept when asked for. */
  #shown(text: string): string {
    return escapeControls(text, { colors: this.#options.colors });
  }

  /** Prints server text above the prompt when one is shown, else straight out. */
  #print(stream: "stdout" | "stderr", text: string): void {
    if (this.#done) return;
    this.#options.progress?.clear();
    const atPrompt = !this.#busy && !this.#inputClosed;
    if (atPrompt && this.#terminal) this.#options.output.write("\r\x1b[K");
    const shown = this.#shown(text);
    (stream === "stderr" ? this.#options.errorOutput : this.#options.output)
      .write(shown.endsWith("\n") ? shown : shown + "\n");
    if (atPrompt) this.#rl.prompt(true);
  }

  /** Evaluates queued lines one at a time, then prompts again. */
  async #pump(): Promise<void> {
    if (this.#busy || this.#done) return;
    this.#busy = true;
    try {
      while (this.#queue.length > 0 && !this.#done) {
        this.#interrupting = false;
        await this.#evaluateLine(this.#queue.shift()!);
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return this.#finish(
        error instanceof ConsoleClientError ? 2 : 1,
        `error: ${message}\n`,
      );
    } finally {
      this.#busy = false;
      this.#interrupting = false;
    }
    if (this.#done) return;
    if (this.#inputClosed) return this.#finish(0);
    this.#rl.setPrompt(this.#buffer.prompt);
    this.#rl.prompt();
  }

  /** Adds a line to the snippet; evaluates it once it is complete. */
  async #evaluateLine(line: string): Promise<void> {
    const { historyPath, progress, output, errorOutput } = this.#options;
    if (historyPath !== undefined && line.trim() !== "") {
      appendHistory(historyPath, line).catch((error) =>
        this.#warnings.report(error)
      );
    }
    const step = this.#buffer.add(line);
    if (step.kind === "exit") return this.#finish(0);
    if (step.kind === "skip") return;
    let outcome: EvalOutcome;
    try {
      outcome = await this.#connection.evaluate(step.code, {
        output: (stream, text) => this.#print(stream, text),
        progress: (label, done, total) => progress?.update(label, done, total),
      });
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      this.#buffer.clear();
      errorOutput.write(`error: ${error.message}\n`);
      return;
    } finally {
      progress?.clear();
    }
    this.#buffer.settle(outcome.kind === "incomplete");
    if (outcome.kind === "value") {
      output.write(this.#shown(outcome.value) + "\n");
    } else if (outcome.kind === "error") {
      errorOutput.write(this.#shown(outcome.text) + "\n");
    }
  }

  #onCtrlC(): void {
    if (this.#done) return;
    if (this.#busy) this.#interruptEvaluation();
    else this.#clearLine();
  }

  /**
   * First Ctrl-C: send an interrupt and say what it can stop; second one:
   * leave, as the evaluation did not answer.
   */
  #interruptEvaluation(): void {
    this.#queue.length = 0; // what was typed ahead belonged to the stopped work
    if (this.#interrupting) {
      const ignored = this.#connection.interruptTexts?.ignored ??
        INTERRUPT_IGNORED;
      return this.#finish(130, `\n${ignored}`);
    }
    this.#interrupting = true;
    this.#options.progress?.clear();
    this.#options.errorOutput.write(
      this.#connection.interruptTexts?.sent ?? INTERRUPT_SENT,
    );
    this.#connection.interrupt().catch(() => {
      // A lost connection is reported by the evaluation it ends.
    });
  }

  /** Leaves what was typed on screen, marked, and starts a fresh line. */
  #clearLine(): void {
    const { output } = this.#options;
    const typed = this.#rl.line !== "";
    if (typed) this.#rl.write(null, { ctrl: true, name: "e" }); // cursor to the end
    output.write("^C\n");
    if (!typed && !this.#buffer.pending) {
      output.write("(To leave, press Ctrl-D or type .exit)\n");
    }
    if (typed) this.#rl.write(null, { ctrl: true, name: "u" }); // empty the line
    this.#buffer.clear();
    this.#rl.setPrompt(this.#buffer.prompt);
    this.#rl.prompt();
  }

  #onInputClosed(): void {
    if (this.#done) return;
    this.#inputClosed = true;
    if (!this.#busy && this.#queue.length === 0) {
      if (this.#terminal) this.#options.output.write("\n");
      this.#finish(0);
    } else {
      this.#pump();
    }
  }
}
