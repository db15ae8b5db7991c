/**
 * Run without `--allow-read`: the parse worker cannot load its code. Prints
 * what a session answers to TypeScript (an error that says which flag to
 * add) and to plain JavaScript (a value), one JSON line each.
 *
 * @module
 */

import { createEvaluator } from "../../../console/eval/evaluator.ts";

const evaluator = createEvaluator({}, { output: { write() {} } });
for (const code of ["let n: number = 6 * 7; n", "6 * 7"]) {
  const result = await evaluator.evaluate(code);
  console.log(JSON.stringify(
    result.kind === "error"
      ? { kind: result.kind, name: result.name, message: result.message }
      : result,
  ));
}
evaluator.close();
