import assert from "node:assert/strict";
import {
  CLEAR_LINE,
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
