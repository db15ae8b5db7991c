import assert from "node:assert/strict";
import {
  CLEAR_LINE,
  escapeControls,
  escapeJsonControls,
  hasControlCharacters,
  RESET,
  startsWithColor,
  stripAnsi,
  stripColors,
} from "../../console/ansi.ts";

Deno.test("stripColors() removes SGR sequences and keeps cursor escapes", () => {
  assert.equal(
    stripColors(`\x1b[1;33mwarn\x1b[0m${CLEAR_LINE}`),
    `warn${CLEAR_LINE}`,
  );
});

Deno.test("stripAnsi() removes colors, erase and private-mode sequences", () => {
  assert.equal(stripAnsi(`a${RESET}b\x1b[Kc\x1b[?25ld\x1b[2J`), "abcd");
});

Deno.test("startsWithColor() accepts only a complete sequence at the start", () => {
  assert.equal(startsWithColor("\x1b[38;5;2mx"), true);
  assert.equal(startsWithColor("\x1b[38;5"), false);
  assert.equal(startsWithColor("x\x1b[0m"), false);
});

Deno.test("escapeControls() shows every control character escaped, tab and newline kept", () => {
  assert.equal(
    escapeControls("a\tb\nc\r\nd\re\x00\x07\x08\x7f\x85\x9b\u202e\u2066\u2028"),
    "a\tb\nc\r\nd\\u000de\\u0000\\u0007\\u0008\\u007f\\u0085\\u009b\\u202e\\u2066\\u2028",
  );
  // Escapes, colours included, when colours are off.
  assert.equal(
    escapeControls("\x1b]0;title\x07\x1b[31mred\x1b[39m"),
    "\\u001b]0;title\\u0007\\u001b[31mred\\u001b[39m",
  );
  // Text that merely looks escaped stays as it is.
  assert.equal(escapeControls("\\u001b"), "\\u001b");
  assert.equal(escapeControls("plain ünïcödé 𝒳 text"), "plain ünïcödé 𝒳 text");
});

Deno.test("escapeControls() with colors lets colour and style sequences pass, nothing else", () => {
  const colors = { colors: true };
  for (
    const sgr of [
      "\x1b[m",
      "\x1b[0m",
      "\x1b[1;33m",
      "\x1b[22;39m",
      "\x1b[90m",
      "\x1b[38;5;208m",
      "\x1b[48;2;10;20;30m",
      "\x1b[4;53m",
    ]
  ) {
    assert.equal(escapeControls(`${sgr}x`, colors), `${sgr}x${RESET}`, sgr);
  }
  for (
    const other of [
      "\x1b[8m", // conceal
      "\x1b[5m", // blink
      "\x1b[38;5;300m", // out of range
      "\x1b[38;2;1;2m", // too few
      "\x1b[38:2::1:2:3m", // colon form
      "\x1b[2J",
      "\x1b[1;1H",
      "\x1b[?1049h", // the alternate screen
    ]
  ) {
    assert.equal(
      escapeControls(other, colors),
      "\\u001b" + other.slice(1),
      JSON.stringify(other),
    );
  }
  // The reset closes coloured text, before its newline.
  assert.equal(
    escapeControls("\x1b[31mred\n", colors),
    `\x1b[31mred${RESET}\n`,
  );
});

Deno.test("escapeJsonControls() keeps JSON's values and makes its text safe", () => {
  const value = { text: "\x1b]52;c;x\x07 \x85\x9b \u202e \u2028 ok" };
  const json = JSON.stringify(value);
  const safe = escapeJsonControls(json);
  assert.deepEqual(JSON.parse(safe), value);
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(safe, /[\x00-\x1f\x7f-\x9f\u202e\u2028]/);
});

Deno.test("hasControlCharacters() finds what cannot be a name", () => {
  for (const text of ["a\x1bb", "a\nb", "a\tb", "a\x9bb", "a\u202eb"]) {
    assert.equal(hasControlCharacters(text), true, JSON.stringify(text));
  }
  assert.equal(hasControlCharacters("firstName_$ü𝒳"), false);
});
