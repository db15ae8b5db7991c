import assert from "node:assert/strict";
import { inspectWith, plainText } from "../../../console/eval/inspection.ts";
import {
  describeThrown,
  renderValue,
  truncateText,
} from "../../../console/eval/render.ts";
import { cleanStack } from "../../../console/eval/stack.ts";

const plain = { colors: false, maxChars: 1000 };

Deno.test("renderValue() inspects values like deno repl", () => {
  assert.equal(renderValue("s", plain), '"s"');
  assert.equal(renderValue([1, { a: null }], plain), "[ 1, { a: null } ]");
  assert.equal(
    renderValue(new Promise(() => {}), plain),
    "Promise { <pending> }",
  );
  assert.equal(
    renderValue(1, { colors: true, maxChars: 100 }),
    "\x1b[33m1\x1b[39m",
  );
});

Deno.test("truncateText() cuts long text with a marker", () => {
  assert.equal(truncateText("short", 10), "short");
  assert.equal(truncateText("abcdef", 4), "abcd… (truncated, 2 more chars)");
});

Deno.test("truncateText() does not split a surrogate pair or a color escape", () => {
  assert.equal(truncateText("a😀b", 2), "a… (truncated, 3 more chars)");
  const colored = "\x1b[33m1\x1b[39m".repeat(3);
  const cut = truncateText(colored, 8);
  assert.equal(cut, "\x1b[33m1\x1b[0m… (truncated, 27 more chars)");
});

Deno.test("describeThrown() describes errors and other thrown values", () => {
  const error = new RangeError("too far");
  const described = describeThrown(error, plain);
  assert.equal(described.name, "RangeError");
  assert.equal(described.message, "too far");
  assert.match(described.stack, /^RangeError: too far\n {4}at /);
  assert.match(described.text, /^Uncaught RangeError: too far/);
  assert.deepEqual(describeThrown("text", plain), {
    name: "string",
    message: '"text"',
    stack: "",
    text: 'Uncaught "text"',
  });
  assert.equal(describeThrown(null, plain).name, "null");
});

Deno.test("describeThrown() keeps extra properties and causes", () => {
  const error = Object.assign(
    new Error("outer", { cause: new Error("inner") }),
    { code: "E1" },
  );
  const { text } = describeThrown(error, plain);
  assert.match(text, /code: "E1"/);
  assert.match(text, /\[cause\]: Error: inner/);
});

Deno.test("cleanStack() maps snippet frames and drops everything below them", () => {
  const stack = [
    "Error: x",
    "    at helper (file:///srv/lib/users.ts:3:9)",
    "    at eval (<console:999999>, <anonymous>:5:3)",
    "    at AsyncLocalStorage.run (ext:deno_node/async_hooks.ts:1:1762)",
    "    at caller (file:///srv/console/server.ts:9:9)",
  ].join("\n");
  // An evicted (here: unknown) snippet keeps its column, line minus the header.
  assert.equal(
    cleanStack(stack),
    "Error: x\n    at helper (file:///srv/lib/users.ts:3:9)\n    at <console>:2:3",
  );
  assert.equal(cleanStack("no frames here"), "no frames here");
});

Deno.test("renderValue() shows the deepest rendering that fits, and says so", () => {
  const value = {
    a: Array.from({ length: 30 }, (_, i) => ({ i, nested: { i } })),
  };
  const options = { colors: false, maxChars: 10_000 };
  const fits = renderValue(value, {
    ...options,
    limits: { depth: 2, entries: 20, lines: 14 },
  });
  assert.match(fits, /^\{\n {2}a: \[\n {4}\[Object\], \[Object\]/);
  assert.match(
    fits,
    /\n… depth 1 of 2 shown to fit 14 lines: inspect\(_, \{ depth: 2 \}\) shows more$/,
  );
  assert.ok(fits.split("\n").length <= 15);
  assert.equal(
    renderValue(value, {
      ...options,
      limits: { depth: 2, entries: 20, lines: 5 },
    }),
    "{ a: [Array] }\n… depth 0 of 2 shown to fit 5 lines: inspect(_, { depth: 2 }) shows more",
  );
});

Deno.test("renderValue() shows inspect() wrappers with their limits and plain text as is", () => {
  const options = { colors: false, maxChars: 10_000 };
  const big = Array.from({ length: 200 }, (_, i) => i);
  assert.match(renderValue(big, options), /\.\.\. 180 more items/);
  assert.doesNotMatch(
    renderValue(
      inspectWith(big, { depth: 1, entries: 500, lines: Infinity }),
      options,
    ),
    /more items/,
  );
  const text = Array.from({ length: 60 }, (_, i) => `line ${i}`).join("\n");
  assert.equal(renderValue(plainText(text), options), text);
});
