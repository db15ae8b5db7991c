import assert from "node:assert/strict";
import { parseServeArgs, type ServeConfig } from "../../lib/config.ts";
import { UsageError } from "../../console/flags.ts";

Deno.test("parseServeArgs() refuses SIGUSR1's inspector unless --allow-inspector-signal is given", () => {
  const parse = (args: string[]) => parseServeArgs(args) as ServeConfig;
  assert.equal(parse([]).allowInspectorSignal, false);
  assert.equal(parse(["--allow-inspector-signal"]).allowInspectorSignal, true);
  assert.equal(
    parse(["--allow-inspector-signal", "--no-allow-inspector-signal"])
      .allowInspectorSignal,
    false,
  );
  assert.throws(
    () => parse(["--allow-inspector-signal=yes"]),
    (error) =>
      error instanceof UsageError &&
      /does not take an argument/.test(error.message),
  );
});
