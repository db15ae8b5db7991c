// This file runs in its own isolate, so nothing else has started the parse
// worker (which loads sucrase) yet.
import assert from "node:assert/strict";
import { createEvaluator } from "../../../console/eval/evaluator.ts";
import { parseWorkerStarts } from "../../../console/eval/parse_worker_client.ts";
import {
  mightBeTypeScript,
  stripTypes,
} from "../../../console/eval/transpile.ts";

Deno.test("evaluate() starts the parse worker (and its transpiler) only for TypeScript", async () => {
  const evaluator = createEvaluator({ cache: new Map() }, {
    output: { write() {} },
  });
  await evaluator.evaluate("cache.size");
  await evaluator.evaluate("let x = { a: [1, 2] }; x.a.map((n) => n * 2)");
  await evaluator.evaluate("1 +* 2");
  await evaluator.evaluate("foo(");
  assert.equal(parseWorkerStarts(), 0);
  const result = await evaluator.evaluate("let typed: number = 2; typed");
  assert.equal(result.kind === "value" && result.text, "2");
  assert.equal(parseWorkerStarts(), 1);
});

Deno.test("mightBeTypeScript() spots TypeScript-only syntax", () => {
  assert.equal(mightBeTypeScript("x as number"), true);
  assert.equal(mightBeTypeScript("interface A {}"), true);
  assert.equal(mightBeTypeScript("f<T>()"), true);
  assert.equal(mightBeTypeScript("1 +* 2"), false);
  assert.equal(mightBeTypeScript(")"), false);
});

Deno.test("stripTypes() keeps lines and reports unfinished input", async () => {
  assert.deepEqual(
    await stripTypes("let a: number = 1;\nlet b: string = 'x'"),
    {
      kind: "ok",
      code: "let a = 1;\nlet b = 'x'",
    },
  );
  assert.deepEqual(await stripTypes("interface A {"), { kind: "incomplete" });
  assert.equal((await stripTypes("let a: = 1")).kind, "error");
});
