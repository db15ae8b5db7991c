import assert from "node:assert/strict";
import {
  classifyParseError,
  lineAndColumn,
  parseSnippet,
} from "../../../console/eval/syntax.ts";

/** Checks that each snippet parses to an outcome of `kind`. */
function assertEachParsesAs(kind: "ok" | "error", codes: string[]): void {
  for (const code of codes) assert.equal(parseSnippet(code).kind, kind, code);
}

Deno.test("parseSnippet() parses complete scripts with top-level await", () => {
  assertEachParsesAs("ok", [
    "1 + 1",
    "let x = 1",
    "await fetchIt()",
    "for await (const x of y) {}",
    "",
  ]);
});

Deno.test("parseSnippet() reads {…} as an object literal when it parses as one", () => {
  const literal = parseSnippet("{a: 1}");
  assert.equal(literal.kind === "ok" && literal.wrapped, true);
  assert.equal(literal.kind === "ok" && literal.code, "({a: 1})");
  const block = parseSnippet("{ let a = 1; a }");
  assert.equal(block.kind === "ok" && block.wrapped, false);
});

Deno.test("parseSnippet() reports unfinished input as incomplete", () => {
  for (
    const code of [
      "foo(",
      "[1,",
      "{",
      "function f() {",
      "1 +",
      "a ?",
      "if (x)",
      "if (x) {} else",
      "x.",
      "`abc",
      "`${a",
      "/* note",
      "'line \\",
      "const f = () =>",
      "class A { x",
      "1 + // comment\n",
      "foo(\n  1,\n",
    ]
  ) {
    assert.deepEqual(parseSnippet(code), { kind: "incomplete" }, code);
  }
});

Deno.test("parseSnippet() reports genuine syntax errors with their position", () => {
  assert.deepEqual(parseSnippet("1 +* 2"), {
    kind: "error",
    message: "Unexpected token",
    pos: 3,
    line: 1,
    column: 3,
  });
  assertEachParsesAs("error", [
    ")",
    "'abc",
    "let let = 1",
    "return 1",
    "import x from 'y'",
    "a b",
    "1 )",
  ]);
});

Deno.test("classifyParseError() rethrows what is not a parser error", () => {
  assert.throws(
    () => classifyParseError("x", new TypeError("other")),
    TypeError,
  );
});

Deno.test("lineAndColumn() finds the line and column of an offset", () => {
  assert.deepEqual(lineAndColumn("ab\ncd\nef", 0), { line: 1, column: 0 });
  assert.deepEqual(lineAndColumn("ab\ncd\nef", 4), { line: 2, column: 1 });
  assert.deepEqual(lineAndColumn("ab\ncd\nef", 6), { line: 3, column: 0 });
});
