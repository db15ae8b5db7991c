/**
 * The ANSI terminal escapes the console writes and recognises, in one place:
 * SGR color sequences (`ESC [ … m`), other CSI sequences (cursor moves,
 * erasing), the few fixed sequences the console sends, and how the client
 * shows a server's text: every control character visible, colours only.
 *
 * @module
 */

/** Resets every color and style. */
export const RESET = "\x1b[0m";

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

// Control characters a terminal acts on (C0 but tab and newline, DEL, C1),
// the bidirectional controls that reorder what is shown (Trojan Source),
// and the line and paragraph separators; a carriage return is kept only
// before a newline. An SGR sequence is matched whole, to be judged.
const UNSAFE =
  // deno-lint-ignore no-control-regex
  /\x1b\[([0-9;]*)m|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]|\r(?!\n)/g;
// The same characters but the newline family, for JSON text.
const UNSAFE_IN_JSON =
  // deno-lint-ignore no-control-regex
  /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
// SGR parameters that only colour and style text. Left out: blink (5, 6),
// conceal (8: hides text), fonts and frames.
const SGR_STYLES = new Set([
  0,
  1,
  2,
  3,
  4,
  7,
  9,
  21,
  22,
  23,
  24,
  25,
  27,
  28,
  29,
  30,
  31,
  32,
  33,
  34,
  35,
  36,
  37,
  39,
  40,
  41,
  42,
  43,
  44,
  45,
  46,
  47,
  49,
  53,
  55,
  59,
  90,
  91,
  92,
  93,
  94,
  95,
  96,
  97,
  100,
  101,
  102,
  103,
  104,
  105,
  106,
  107,
]);

/** Options for {@linkcode escapeControls}. */
export interface EscapeOptions {
  /**
   * Let colour and style sequences (SGR: `ESC [ 31 m`, 256 and true
   * colours) through, so that values coloured by the console keep their
   * colours; every other sequence is shown escaped. Off: every escape is
   * shown.
   */
  colors?: boolean;
}

/**
 * Makes text from a console server safe to print on a terminal: every
 * control character is shown escaped, as `\u001b` (so a server cannot set
 * the window title, write the clipboard with OSC 52, clear the screen,
 * move the cursor, ring the bell or reorder a line with a bidirectional
 * override), tab and newline excepted. With `colors`, colour and style
 * sequences pass, and a reset closes the text if any did, so no colour
 * leaks into what the client prints next.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeControls } from "./ansi.ts";
 *
 * assert.equal(
 *   escapeControls("\x1b]52;c;cHduZWQ=\x07ok\n"),
 *   "\\u001b]52;c;cHduZWQ=\\u0007ok\n",
 * );
 * assert.equal(
 *   escapeControls("\x1b[33m42\x1b[39m\x1b[2J", { colors: true }),
 *   "\x1b[33m42\x1b[39m\\u001b[2J\x1b[0m",
 * );
 * assert.equal(escapeControls("a\u202eb"), "a\\u202eb");
 * ```
 *
 * @param text Text a server sent (or any text not the client's own).
 * @param options Whether colours may pass.
 * @returns The text to print.
 */
export function escapeControls(
  text: string,
  options: EscapeOptions = {},
): string {
  let colored = false;
  const escaped = String(text).replace(
    UNSAFE,
    (match: string, sgr: string | undefined) => {
      if (sgr !== undefined) {
        if (options.colors && isStyleOnly(sgr)) {
          colored = true;
          return match;
        }
        return codePoint(ESCAPE) + match.slice(1);
      }
      return codePoint(match);
    },
  );
  if (!colored) return escaped;
  // A newline ends the text: the reset goes before it.
  return escaped.endsWith("\n")
    ? `${escaped.slice(0, -1)}${RESET}\n`
    : escaped + RESET;
}

/**
 * Makes JSON text from a console server safe to print: the control
 * characters {@linkcode escapeControls} shows are written as JSON escapes
 * (`\u001b`) instead, which JSON allows only inside strings, where they
 * mean the same: a program reading the JSON gets the very same values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeJsonControls } from "./ansi.ts";
 *
 * const json = JSON.stringify({ text: "\x9b2J\u202e" });
 * assert.equal(escapeJsonControls(json), '{"text":"\\u009b2J\\u202e"}');
 * assert.deepEqual(JSON.parse(escapeJsonControls(json)), JSON.parse(json));
 * ```
 *
 * @param json JSON text.
 * @returns The same JSON, safe on a terminal.
 */
export function escapeJsonControls(json: string): string {
  return String(json).replace(UNSAFE_IN_JSON, codePoint);
}

/**
 * Whether `text` holds a character {@linkcode escapeControls} would escape,
 * or a newline or tab: such text cannot stand for a name (a completion
 * candidate, say).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hasControlCharacters } from "./ansi.ts";
 *
 * assert.equal(hasControlCharacters("firstName"), false);
 * assert.equal(hasControlCharacters("x\x1b]0;title\x07"), true);
 * assert.equal(hasControlCharacters("a\nb"), true);
 * ```
 *
 * @param text The text.
 * @returns `true` when it has one.
 */
export function hasControlCharacters(text: string): boolean {
  return /[\t\n\r]/.test(text) || new RegExp(UNSAFE_IN_JSON.source).test(text);
}

/** Whether SGR parameters only set colours and styles. */
function isStyleOnly(parameters: string): boolean {
  const numbers = parameters === ""
    ? [0]
    : parameters.split(";").map((p) => p === "" ? 0 : Number(p));
  for (let i = 0; i < numbers.length; i++) {
    const n = numbers[i]!;
    if (SGR_STYLES.has(n)) continue;
    if (n !== 38 && n !== 48 && n !== 58) return false;
    // Extended colour: 5;N (256 colours) or 2;R;G;B (true colour).
    const mode = numbers[i + 1];
    const count = mode === 5 ? 1 : mode === 2 ? 3 : -1;
    if (count < 0) return false;
    const values = numbers.slice(i + 2, i + 2 + count);
    if (values.length !== count || values.some((v) => !(v <= 255))) {
      return false;
    }
    i += 1 + count;
  }
  return true;
}

function codePoint(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
}
