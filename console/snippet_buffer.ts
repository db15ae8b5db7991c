/**
 * Gathers REPL input lines into snippets: a snippet the console calls
 * incomplete (an open bracket, say) goes on with the next line.
 *
 * @module
 */

/** The prompt before a new snippet. */
export const PROMPT = ">>> ";

/** The prompt before a continuation line. */
export const CONTINUATION_PROMPT = "... ";

/** What to do with a line, as {@linkcode SnippetBuffer.add} decides. */
export type SnippetStep =
  /** Evaluate `code`: the pending lines and this one. */
  | { kind: "evaluate"; code: string }
  /** Nothing to evaluate (a blank line); prompt again. */
  | { kind: "skip" }
  /** `.exit` with nothing pending: leave. */
  | { kind: "exit" };

/**
 * The lines of the snippet being typed. Call {@linkcode SnippetBuffer.add}
 * for each line, evaluate the code it returns, then
 * {@linkcode SnippetBuffer.settle} with whether the console found it
 * incomplete.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SnippetBuffer } from "./snippet_buffer.ts";
 * const buffer = new SnippetBuffer();
 * buffer.add("[1,");
 * buffer.settle(true); // the console answered "incomplete"
 * const step = buffer.add("2]");
 * assert.ok(step.kind === "evaluate" && step.code === "[1,\n2]");
 * ```
 */
export class SnippetBuffer {
  // The waiting lines as one text: each line appends to it, so a snippet of
  // thousands of lines is never joined again from the start.
  #text = "";
  #lines = 0;
  #candidate: string | undefined;

  /** Whether lines of an incomplete snippet are waiting for more. */
  get pending(): boolean {
    return this.#lines > 0;
  }

  /** The waiting lines, joined; `""` when none. */
  get text(): string {
    return this.#text;
  }

  /** How many lines are waiting. */
  get lineCount(): number {
    return this.#lines;
  }

  /** The prompt for the next line: `>>> ` or `... `. */
  get prompt(): string {
    return this.pending ? CONTINUATION_PROMPT : PROMPT;
  }

  /**
   * Takes the next line.
   *
   * @param line The line, without its newline.
   * @returns What to do with it.
   */
  add(line: string): SnippetStep {
    if (!this.pending) {
      if (line.trim() === "") return { kind: "skip" };
      if (line.trim() === ".exit") return { kind: "exit" };
    } else if (line.trim() === "") {
      // A blank line cannot complete a snippet: keep it, ask for more.
      this.#text = this.#joined(line);
      this.#lines++;
      return { kind: "skip" };
    }
    this.#candidate = this.#joined(line);
    return { kind: "evaluate", code: this.#candidate };
  }

  #joined(line: string): string {
    return this.pending ? `${this.#text}\n${line}` : line;
  }

  /**
   * Records the console's answer to the last code returned by `add`.
   *
   * @param incomplete Whether the console found it incomplete; otherwise
   * the snippet is done (evaluated, failed or refused) and a new one starts.
   */
  settle(incomplete: boolean): void {
    if (incomplete && this.#candidate !== undefined) {
      this.#text = this.#candidate;
      this.#lines++;
    } else {
      this.#text = "";
      this.#lines = 0;
    }
    this.#candidate = undefined;
  }

  /** Drops the waiting lines (Ctrl-C). */
  clear(): void {
    this.#text = "";
    this.#lines = 0;
    this.#candidate = undefined;
  }
}
