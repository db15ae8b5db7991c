import assert from "node:assert/strict";
import { stripColors } from "../../../console/ansi.ts";
import {
  createEvaluator,
  type EvalResult,
} from "../../../console/eval/evaluator.ts";
import { cleanStack } from "../../../console/eval/stack.ts";
import { count } from "../../../console/toolkit/count.ts";

type ErrorResult = Extract<EvalResult, { kind: "error" }>;

function open(colors: boolean) {
  return createEvaluator({}, {
    output: { write() {} },
    colors,
    scope: { count },
  });
}

const THROWING = "function f() { throw new Error('boom') }\nf()";

Deno.test("evaluate() with colors shows only the snippet's frames in the error text", async () => {
  const evaluator = open(true);
  const result = await evaluator.evaluate(THROWING) as ErrorResult;
  assert.equal(result.kind, "error");
  assert.equal(
    stripColors(result.text),
    "Uncaught Error: boom\n    at f (<console>:1:22)\n    at <console>:2:1",
  );
  assert.equal(
    result.stack,
    "Error: boom\n    at f (<console>:1:22)\n    at <console>:2:1",
  );
  assert.doesNotMatch(
    result.text,
    /AsyncLocalStorage|console_routing|evaluator\.ts/,
  );
});

Deno.test("evaluate() gives _error the reply's mapped stack", async () => {
  const evaluator = open(false);
  const result = await evaluator.evaluate(THROWING) as ErrorResult;
  const stack = await evaluator.evaluate("_error.stack");
  assert.equal(
    stack.kind === "value" && stack.text,
    JSON.stringify(result.stack),
  );
  const colored = open(true);
  await colored.evaluate(THROWING);
  const again = await colored.evaluate("String(_error.stack)");
  assert.equal(
    again.kind === "value" && stripColors(again.text),
    JSON.stringify(result.stack),
  );
});

Deno.test("evaluate() shows no toolkit frames in a toolkit refusal", async () => {
  for (const colors of [false, true]) {
    const evaluator = open(colors);
    const result = await evaluator.evaluate("count(42)") as ErrorResult;
    assert.equal(result.name, "TypeError");
    assert.equal(
      result.stack,
      "TypeError: count() takes a class, a constructor function or a class name, got number\n    at <console>:1:1",
    );
    assert.equal(stripColors(result.text), `Uncaught ${result.stack}`);
  }
});

Deno.test("cleanStack() drops frames of any file under console/, colored or not", () => {
  const root = new URL("../../../console/", import.meta.url).href;
  const text = [
    "Error: x",
    `    at helper (${root}toolkit/heap.ts:1:1)`,
    `    at \x1b[90m(${root}server/\x1b[39msession.ts:2:2\x1b[90m)\x1b[39m`,
    "    at service (file:///srv/lib/users.ts:3:3)",
  ].join("\n");
  assert.equal(
    cleanStack(text),
    "Error: x\n    at service (file:///srv/lib/users.ts:3:3)",
  );
});

Deno.test("evaluate() shows snippet frames only in logged errors and errors inside values", async () => {
  for (const colors of [false, true]) {
    const lines: string[] = [];
    const evaluator = createEvaluator({}, {
      output: { write: (_stream, text) => lines.push(stripColors(text)) },
      colors,
    });
    await evaluator.evaluate(
      "try { null.x } catch (e) { console.log(e); console.error('got', e) }",
    );
    assert.deepEqual(lines, [
      "TypeError: Cannot read properties of null (reading 'x')\n    at <console>:1:12\n",
      "got TypeError: Cannot read properties of null (reading 'x')\n    at <console>:1:12\n",
    ]);
    const result = await evaluator.evaluate("({ e: new Error('nested') })");
    assert.equal(
      result.kind === "value" && stripColors(result.text),
      "{\n  e: Error: nested\n      at <console>:1:7\n}",
    );
  }
});
