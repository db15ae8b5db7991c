/**
 * The client's interactive mode: a `node:readline` REPL over a console
 * session, with prompts, completion by the console, persistent history,
 * Ctrl-C to clear or interrupt, progress bars, and output of background work
 * printed above the prompt.
 *
 * @module
 */

import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { createCompleter, toReadlineCompleter } from "./tab_completion.ts";
import {
  ConsoleClientError,
  type ConsoleConnection,
  type EvalOutcome,
} from "./connection.ts";
import { appendHistory, HISTORY_SIZE, loadHistory } from "./history.ts";
import type { ProgressLine } from "./progress_bar.ts";
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
}

const INTERRUPT_IGNORED =
  "error: the evaluation does not answer the interrupt (a synchronous loop cannot be stopped); leaving\n";

/**
 * Runs a REPL until the user leaves (Ctrl-D, `.exit`) or the connection is
 * lost. Lines typed during an evaluation wait their turn.
 *
 * Ctrl-C clears the line (and an incomplete snippet); during an evaluation
 * it sends an interrupt, and a second Ctrl-C before the evaluation ends
 * leaves.
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
  connection: ConsoleConnection,
  options: InteractiveOptions,
): Promise<number> {
  const { input, output, errorOutput, progress, historyPath } = options;
  const terminal = options.terminal ?? true;
  const historySize = options.historySize ?? HISTORY_SIZE;
  let historyFailed = false;
  const historyWarning = (error: unknown) => {
    if (historyFailed) return;
    historyFailed = true;
    errorOutput.write(
      `warning: history not saved: ${
        error instanceof Error ? error.message : error
      }\n`,
    );
  };
  let history: string[] = [];
  if (historyPath !== undefined) {
    try {
      history = await loadHistory(historyPath, historySize);
    } catch (error) {
      historyWarning(error);
    }
  }

  const buffer = new SnippetBuffer();
  const completer = createCompleter(
    (code, cursor) => connection.complete(code, cursor),
    () => buffer.text,
  );
  const rl = createInterface({
    input,
    output,
    terminal,
    prompt: PROMPT,
    completer: toReadlineCompleter(completer),
    history: [...history].reverse(), // readline wants the newest first
    historySize,
    removeHistoryDuplicates: true,
  });

  if (options.banner) output.write(options.banner + "\n");

  return await new Promise<number>((resolve) => {
    const queue: string[] = [];
    let busy = false;
    let interrupting = false;
    let inputClosed = false;
    let done = false;

    const finish = (code: number, message = "") => {
      if (done) return;
      done = true;
      progress?.clear();
      if (message !== "") errorOutput.write(message);
      rl.close();
      resolve(code);
    };

    /** Prints above the prompt when one is shown, else straight out. */
    const print = (stream: "stdout" | "stderr", text: string) => {
      if (done) return;
      progress?.clear();
      const atPrompt = !busy && !inputClosed;
      if (atPrompt && terminal) output.write("\r\x1b[K");
      (stream === "stderr" ? errorOutput : output).write(
        text.endsWith("\n") ? text : text + "\n",
      );
      if (atPrompt) rl.prompt(true);
    };

    connection.background = {
      output: print,
      progress(label, done, total) {
        // Idle, a bar would fight the prompt for the line.
        if (busy) progress?.update(label, done, total);
      },
      notice: (error) => print("stderr", `error: ${error.message}\n`),
    };
    connection.finished().then((lost) => {
      // During an evaluation, its failure reports the loss.
      if (lost && !busy) finish(2, `\nerror: ${lost.message}\n`);
    });

    const evaluate = async (line: string): Promise<void> => {
      if (historyPath !== undefined && line.trim() !== "") {
        appendHistory(historyPath, line).catch(historyWarning);
      }
      const step = buffer.add(line);
      if (step.kind === "exit") return finish(0);
      if (step.kind === "skip") return;
      let outcome: EvalOutcome;
      try {
        outcome = await connection.evaluate(step.code, {
          output: print,
          progress: (label, done, total) =>
            progress?.update(label, done, total),
        });
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
        buffer.clear();
        errorOutput.write(`error: ${error.message}\n`);
        return;
      } finally {
        progress?.clear();
      }
      buffer.settle(outcome.kind === "incomplete");
      if (outcome.kind === "value") output.write(outcome.value + "\n");
      else if (outcome.kind === "error") {
        errorOutput.write(outcome.text + "\n");
      }
    };

    const pump = async () => {
      if (busy || done) return;
      busy = true;
      try {
        while (queue.length > 0 && !done) {
          interrupting = false;
          await evaluate(queue.shift()!);
        }
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return finish(
          error instanceof ConsoleClientError ? 2 : 1,
          `error: ${message}\n`,
        );
      } finally {
        busy = false;
        interrupting = false;
      }
      if (done) return;
      if (inputClosed) return finish(0);
      rl.setPrompt(buffer.prompt);
      rl.prompt();
    };

    rl.on("line", (line: string) => {
      queue.push(line);
      pump();
    });

    rl.on("SIGINT", () => {
      if (done) return;
      if (busy) {
        queue.length = 0; // what was typed ahead belonged to the stopped work
        if (interrupting) return finish(130, `\n${INTERRUPT_IGNORED}`);
        interrupting = true;
        connection.interrupt().catch(() => {
          // A lost connection is reported by the evaluation it ends.
        });
        return;
      }
      // Leave what was typed on screen, marked, and start a fresh line.
      const typed = rl.line !== "";
      if (typed) rl.write(null, { ctrl: true, name: "e" }); // cursor to the end
      output.write("^C\n");
      if (!typed && !buffer.pending) {
        output.write("(To leave, press Ctrl-D or type .exit)\n");
      }
      if (typed) rl.write(null, { ctrl: true, name: "u" }); // empty the line
      buffer.clear();
      rl.setPrompt(buffer.prompt);
      rl.prompt();
    });

    rl.on("close", () => {
      if (done) return;
      inputClosed = true;
      if (!busy && queue.length === 0) {
        if (terminal) output.write("\n");
        finish(0);
      } else {
        pump();
      }
    });

    rl.prompt();
  });
}
