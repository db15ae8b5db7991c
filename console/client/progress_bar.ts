/**
 * A one-line progress bar for a terminal: drawn in place with `\r`, cleared
 * before anything else is printed.
 *
 * @module
 */

import { escapeControls } from "../ansi.ts";

/**
 * Renders a progress bar: `[#####.....]  50% label`.
 *
 * @param label What is being done.
 * @param done Units done.
 * @param total Units in all; a total of 0 or less shows 0%.
 * @param width The bar's width in characters, brackets excluded.
 * @returns The bar, without control characters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderProgressBar } from "./progress_bar.ts";
 * assert.equal(renderProgressBar("capture", 1, 2, 10), "[#####.....]  50% capture");
 * ```
 */
export function renderProgressBar(
  label: string,
  done: number,
  total: number,
  width = 20,
): string {
  const fraction = total > 0 && Number.isFinite(done / total)
    ? Math.min(1, Math.max(0, done / total))
    : 0;
  const filled = Math.floor(fraction * width);
  const percent = String(Math.floor(fraction * 100)).padStart(3);
  return `[${"#".repeat(filled)}${
    ".".repeat(width - filled)
  }] ${percent}% ${label}`;
}

/** A progress bar drawn in place on one terminal line. */
export class ProgressLine {
  #write: (text: string) => void;
  #columns: () => number | undefined;
  #shown = false;

  /**
   * @param write Writes text to the terminal (stderr, usually).
   * @param columns The terminal's width, when known, to keep the bar on one line.
   */
  constructor(
    write: (text: string) => void,
    columns: () => number | undefined = () => undefined,
  ) {
    this.#write = write;
    this.#columns = columns;
  }

  /** Whether a bar is on screen. */
  get shown(): boolean {
    return this.#shown;
  }

  /**
   * Draws the bar over the previous one.
   *
   * @param label What is being done.
   * @param done Units done.
   * @param total Units in all.
   */
  update(label: string, done: number, total: number): void {
    // The label is the server's: on one line, its control characters shown.
    let bar = renderProgressBar(
      escapeControls(String(label).replace(/[\r\n]/g, " ")),
      done,
      total,
    );
    const columns = this.#columns();
    if (columns !== undefined && columns > 1 && bar.length >= columns) {
      bar = bar.slice(0, columns - 1);
    }
    this.#write(`\r${bar}\x1b[K`);
    this.#shown = true;
  }

  /** Erases the bar, if one is shown. */
  clear(): void {
    if (!this.#shown) return;
    this.#shown = false;
    this.#write("\r\x1b[K");
  }
}
