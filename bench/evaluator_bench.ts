/**
 * Measures the evaluation engine's share of a console round trip: one
 * `evaluate("cache.size")` on a warm session, as the TCP benchmark sends it.
 *
 * Run: deno bench bench/evaluator_bench.ts
 */

import { createEvaluator } from "../console/eval/evaluator.ts";

const namespace = { cache: new Map([["a", 1], ["b", 2]]) };
const evaluator = createEvaluator(namespace, { output: { write() {} } });
const colored = createEvaluator(namespace, {
  output: { write() {} },
  colors: true,
});
await evaluator.evaluate("cache.size");
await colored.evaluate("cache.size");

Deno.bench('evaluate("cache.size")', { baseline: true }, async () => {
  await evaluator.evaluate("cache.size");
});

Deno.bench('evaluate("cache.size") with colors', async () => {
  await colored.evaluate("cache.size");
});

Deno.bench("evaluate(\"cache.get('a')\")", async () => {
  await evaluator.evaluate("cache.get('a')");
});

Deno.bench('evaluate("await 1")', async () => {
  await evaluator.evaluate("await 1");
});

let counter = 0;
Deno.bench("evaluate(new snippet text each time), cache miss", async () => {
  await evaluator.evaluate(`cache.size + ${counter++}`);
});

Deno.bench('complete("cache.si")', async () => {
  await evaluator.complete("cache.si", 8);
});
