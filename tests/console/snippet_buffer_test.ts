import assert from "node:assert/strict";
import {
  CONTINUATION_PROMPT,
  PROMPT,
  SnippetBuffer,
} from "../../console/snippet_buffer.ts";

Deno.test("SnippetBuffer gathers lines while the console answers incomplete", () => {
  const buffer = new SnippetBuffer();
  assert.equal(buffer.prompt, PROMPT);
  assert.deepEqual(buffer.add("const o = {"), {
    kind: "evaluate",
    code: "const o = {",
  });
  buffer.settle(true);
  assert.equal(buffer.prompt, CONTINUATION_PROMPT);
  assert.equal(buffer.text, "const o = {");
  assert.deepEqual(buffer.add("  a: 1,"), {
    kind: "evaluate",
    code: "const o = {\n  a: 1,",
  });
  buffer.settle(true);
  assert.deepEqual(buffer.add("}"), {
    kind: "evaluate",
    code: "const o = {\n  a: 1,\n}",
  });
  buffer.settle(false);
  assert.equal(buffer.pending, false);
  assert.equal(buffer.prompt, PROMPT);
});

Deno.test("SnippetBuffer skips blank lines, keeps them inside a snippet, and knows .exit", () => {
  const buffer = new SnippetBuffer();
  assert.deepEqual(buffer.add("   "), { kind: "skip" });
  assert.deepEqual(buffer.add(" .exit "), { kind: "exit" });
  buffer.add("[");
  buffer.settle(true);
  assert.deepEqual(buffer.add(""), { kind: "skip" });
  assert.deepEqual(buffer.add(".exit"), {
    kind: "evaluate",
    code: "[\n\n.exit",
  });
});

Deno.test("SnippetBuffer starts over after a finished snippet or clear()", () => {
  const buffer = new SnippetBuffer();
  buffer.add("(");
  buffer.settle(true);
  buffer.add("oops(");
  buffer.settle(false); // a syntax error, say: the snippet is done
  assert.equal(buffer.pending, false);
  buffer.add("[");
  buffer.settle(true);
  buffer.clear();
  assert.equal(buffer.pending, false);
  assert.deepEqual(buffer.add("1"), { kind: "evaluate", code: "1" });
});

Deno.test("SnippetBuffer counts its lines, blank ones included", () => {
  const buffer = new SnippetBuffer();
  buffer.add("[1,");
  buffer.settle(true);
  assert.equal(buffer.add("").kind, "skip");
  buffer.add("2,");
  buffer.settle(true);
  assert.equal(buffer.lineCount, 3);
  assert.equal(buffer.text, "[1,\n\n2,");
  buffer.add("]");
  buffer.settle(false);
  assert.equal(buffer.lineCount, 0);
  assert.equal(buffer.text, "");
});
