/**
 * What a fake or compromised console sends to attack the operator's
 * terminal, and the check that the client printed none of it raw.
 *
 * @module
 */

import assert from "node:assert/strict";

/**
 * Terminal escapes a server could hide in any text: clipboard, title,
 * hyperlink, clearing, cursor moves, device control, C1 controls, hidden
 * text, bidirectional overrides, carriage return, bell, backspace, DEL; and
 * one colour, which may pass when the client asked for colours.
 */
export const HOSTILE = [
  "\x1b]52;c;cm0gLXJmIH4K\x07", // OSC 52: write the clipboard
  "\x1b]0;owned\x07", // OSC 0: the window title
  "\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\", // a hyperlink
  "\x1b[2J\x1b[3J\x1b[H", // clear the screen and scrollback, cursor home
  "\x1b[5A\x1b[2K\x1b[10;1H", // cursor up, erase the line, move
  '\x1bP$q"p\x1b\\', // DCS: a device query
  "\x1bc", // full reset
  "\x9b2J\x9d0;t\x9c\x90q\x9c", // C1: CSI, OSC, ST, DCS
  "\x1b[8mhidden\x1b[28m", // concealed text
  "\u202egnp.exe\u202c \u2066x\u2069 \u200f", // bidirectional overrides
  "line\rover", // a carriage return overwriting the line
  "\x07\x08\x7f", // bell, backspace, DEL
  "\x1b[31mred\x1b[39m", // a colour
].join("");

// deno-lint-ignore no-control-regex
const CONTROLS = /[\x00-\x08\x0b-\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f]/;
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;
// deno-lint-ignore no-control-regex
const SGR = /\x1b\[([0-9;]*)m/g;

/**
 * Asserts that `text` (what the client printed) holds no terminal control
 * a server could have sent: no escape but colour sequences (and those only
 * with `colors`, and never concealing), no C0 but tab and newline (a
 * carriage return only before a newline), no C1, no bidirectional control;
 * and that the attacks are shown, escaped.
 *
 * @param text What the client printed.
 * @param what Names it in failures.
 * @param options `colors`: colour sequences may pass; `shown`: the escaped
 * attack must be visible in `text`.
 */
export function assertInert(
  text: string,
  what: string,
  options: { colors?: boolean; shown?: boolean } = {},
): void {
  const withoutColors = options.colors
    ? text.replace(SGR, (sequence, parameters: string) => {
      assert.ok(
        !parameters.split(";").includes("8"),
        `${what}: concealing sequence ${JSON.stringify(sequence)}`,
      );
      return "";
    })
    : text;
  assert.ok(
    !withoutColors.includes("\x1b"),
    `${what}: a raw escape in ${JSON.stringify(text.slice(0, 400))}`,
  );
  assert.doesNotMatch(withoutColors, CONTROLS, `${what}: a raw control`);
  assert.doesNotMatch(withoutColors, BIDI, `${what}: a bidirectional control`);
  assert.doesNotMatch(withoutColors, /\r(?!\n)/, `${what}: a carriage return`);
  if (options.shown ?? true) {
    for (const visible of ["\\u001b]52;c;", "\\u009b2J", "\\u202egnp.exe"]) {
      assert.ok(text.includes(visible), `${what}: ${visible} not shown`);
    }
  }
}
