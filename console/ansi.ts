/**
 * The ANSI terminal escapes the console writes and recognises, in one place:
 * SGR color sequences (`ESC [ … m`), other CSI sequences (cursor moves,
 * erasing), and the few fixed sequences the console sends.
 *
 * @module
 */

/** Resets every color and style. */
export const RESET = "\x1b[0m";

/** Moves the cursor home and erases the screen (`console.clear()`). */
export const CLEAR_SCREEN = "\x1b[1;1H\x1b[0J";

/** Erases from the cursor to the end of the line. */
export const CLEAR_LINE = "\x1b[K";

/** The escape character that starts every sequence. */
export const ESCAPE = "\x1b";

// deno-lint-ignore no-control-regex
const SGR = /\x1b\[[0-9;]*m/g;
// deno-lint-ignore no-control-regex
const SGR_AT_START = /^\x1b\[[0-9;]*m/;
// deno-lint-ignore no-control-regex
const CSI = /\x1b\[\??[0-9;]*[A-Za-z]/g;

/**
 * Removes color (SGR) sequences, leaving cursor and erase sequences alone.
 *
 * @example
 * ```ts
 * import { stripColors } from "./ansi.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(stripColors("\x1b[33m42\x1b[39m"), "42");
 * ```
 *
 * @param text Text that may contain color sequences.
 * @returns The text without them.
 */
export function stripColors(text: string): string {
  return text.replace(SGR, "");
}

/**
 * Removes every CSI sequence: colors, cursor moves, erasing.
 *
 * @example
 * ```ts
 * import { stripAnsi } from "./ansi.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(stripAnsi("\r\x1b[Kdone \x1b[1mok\x1b[22m"), "\rdone ok");
 * ```
 *
 * @param text Text that may contain escapes.
 * @returns The text without them.
 */
export function stripAnsi(text: string): string {
  return text.replace(CSI, "");
}

/**
 * Tells whether `text` begins with a whole color sequence (used to avoid
 * cutting text inside one).
 *
 * @example
 * ```ts
 * import { startsWithColor } from "./ansi.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(startsWithColor("\x1b[33m1"), true);
 * assert.equal(startsWithColor("\x1b[3"), false);
 * ```
 *
 * @param text The text.
 * @returns `true` when it starts with a complete SGR sequence.
 */
export function startsWithColor(text: string): boolean {
  return SGR_AT_START.test(text);
}
