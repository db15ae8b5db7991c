import assert from "node:assert/strict";
import { parse } from "../../../console/npm/acorn.ts";
import {
  rewriteSnippet,
  toSourceOffset,
} from "../../../console/eval/rewrite.ts";

function rewrite(code: string) {
  return rewriteSnippet(
    code,
    parse(code, { ecmaVersion: "latest", allowAwaitOutsideFunction: true }),
  );
}

Deno.test("rewriteSnippet() turns top-level declarations into assignments", () => {
  const out = rewrite("let a = 1, b; const {c, d: [e]} = o; class K {}");
  assert.equal(
    out.body,
    "void (a = 1, b); void ({c, d: [e]} = o); void (K = class K {});",
  );
  assert.deepEqual(out.lexicalNames, ["a", "b", "c", "e", "K"]);
});

Deno.test("rewriteSnippet() hoists vars outside functions only", () => {
  const out = rewrite(
    "for (var i = 0; i < 1; i++) { var j = i } function f() { var local = 1 }",
  );
  assert.equal(
    out.body,
    "for ( i = 0; i < 1; i++) { void (j = i); } function f() { var local = 1 }",
  );
  assert.deepEqual(out.varNames, ["i", "j"]);
  assert.deepEqual(out.functionNames, ["f"]);
});

Deno.test("rewriteSnippet() leaves block-scoped declarations alone", () => {
  const out = rewrite("{ let a = 1; const b = 2; class C {} function g() {} }");
  assert.equal(
    out.body,
    "{ let a = 1; const b = 2; class C {} function g() {} }",
  );
  assert.deepEqual([out.lexicalNames, out.varNames, out.functionNames], [
    [],
    [],
    [],
  ]);
});

Deno.test("rewriteSnippet() records every expression statement outside functions", () => {
  const out = rewrite("a; if (b) c; else { d }\nfunction f() { e }");
  assert.equal(
    out.body,
    "__ce$r = (a); if (b) __ce$r = (c); else { __ce$r = (d) }\nfunction f() { e }",
  );
});

Deno.test("rewriteSnippet() calls bare names without a receiver, except eval", () => {
  assert.equal(
    rewrite("f(1); o.m(); eval('x'); tag`t`").body,
    "__ce$r = ((0, f)(1)); __ce$r = (o.m()); __ce$r = (eval('x')); __ce$r = ((0, tag)`t`)",
  );
});

Deno.test("rewriteSnippet() collects assigned names and top-level await", () => {
  const out = rewrite(
    "x = 1; [y, ...z] = w; ({p: q = 2} = r); n++; function f() { inner = 1 }",
  );
  assert.deepEqual([...out.assignedNames].sort(), [
    "inner",
    "n",
    "q",
    "x",
    "y",
    "z",
  ]);
  assert.equal(out.hasTopLevelAwait, false);
  assert.equal(rewrite("await 1").hasTopLevelAwait, true);
  assert.equal(rewrite("for await (const x of y) {}").hasTopLevelAwait, true);
  assert.equal(rewrite("const v = await g()").hasTopLevelAwait, true);
  assert.equal(
    rewrite("async function f() { await 1 }").hasTopLevelAwait,
    false,
  );
  assert.equal(
    rewrite("const f = async () => await 1").hasTopLevelAwait,
    false,
  );
});

Deno.test("rewriteSnippet() maps output offsets back to the source", () => {
  const code = "let a = 1; boom()";
  const out = rewrite(code);
  assert.equal(out.body, "void (a = 1); __ce$r = ((0, boom)())");
  // `a` in the output is `a` in the source.
  assert.equal(
    toSourceOffset(out.offsets, out.body.indexOf("a =")),
    code.indexOf("a ="),
  );
  // V8 reports `(0, boom)()` at its `(`: shown at `boom`.
  assert.equal(
    toSourceOffset(out.offsets, out.body.indexOf(")()") + 1),
    code.indexOf("boom"),
  );
  // Inside inserted text: the edit's position.
  assert.equal(toSourceOffset(out.offsets, 2), 0);
});
