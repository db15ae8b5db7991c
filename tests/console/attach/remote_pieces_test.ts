/**
 * The pieces of an attached session that need no target: completion
 * queries, stack cleaning, values rebuilt here, snippet reading, and the
 * exit habit.
 */

import assert from "node:assert/strict";
import {
  completionQuery,
  matchingNames,
} from "../../../console/attach/remote_completion.ts";
import { cleanRemoteStack } from "../../../console/attach/remote_stack.ts";
import {
  exitRefusal,
  readSnippet,
  SNIPPET_PREFIX,
} from "../../../console/attach/remote_snippet.ts";
import { expandText, standIn } from "../../../console/attach/remote_values.ts";
import { renderValue } from "../../../console/eval/render.ts";

Deno.test("completionQuery() finds the member expression before the word, and nothing where there is none", () => {
  assert.deepEqual(completionQuery("map.get('a').va", 15), {
    start: 13,
    partial: "va",
    expression: "map.get('a')",
  });
  assert.deepEqual(completionQuery("a[b[0]].", 8), {
    start: 8,
    partial: "",
    expression: "a[b[0]]",
  });
  assert.deepEqual(completionQuery("f(x, ca", 7), { start: 5, partial: "ca" });
  assert.equal(completionQuery("[...ab", 6)?.expression, undefined);
  assert.equal(completionQuery("x = 12.5", 8), undefined);
  assert.equal(completionQuery("(1 + 2].", 8), undefined, "unbalanced");
  assert.equal(completionQuery(").x", 3), undefined);
  assert.equal(
    completionQuery("a".repeat(2000) + ".b", 2002),
    undefined,
    "too long",
  );
  assert.deepEqual(completionQuery("", 0), { start: 0, partial: "" });
  assert.deepEqual(completionQuery("abc", 99), { start: 0, partial: "abc" });
  assert.deepEqual(
    matchingNames(Array.from({ length: 5000 }, (_, i) => `n${i}`), "n").length,
    1000,
  );
});

Deno.test("cleanRemoteStack() maps snippet frames to <console> positions as typed, drops the agent's, keeps the rest", () => {
  const shift = SNIPPET_PREFIX.length;
  const text = [
    "TypeError: x",
    `    at inner (<anonymous>:1:${shift + 5})`,
    "    at helper (<anonymous>:3:9)",
    "    at leakwatch-attach-agent:12:7",
    `    at <console>:1:${shift + 2}`,
    "    at file:///app.ts:4:2",
  ].join("\n");
  const frames = [
    { url: "<console>", lineNumber: 0, columnNumber: shift + 4 },
    { url: "leakwatch-attach-agent", lineNumber: 2, columnNumber: 8 },
  ];
  assert.equal(
    cleanRemoteStack(text, frames),
    [
      "TypeError: x",
      "    at inner (<console>:1:5)",
      "    at <console>:1:2",
      "    at file:///app.ts:4:2",
    ].join("\n"),
  );
  assert.equal(cleanRemoteStack("no frames here"), "no frames here");
});

Deno.test("standIn() lays a target's rendering out through renderValue(), notes and truncation counted as in the target", () => {
  const lines = Array.from({ length: 60 }, (_, i) => `line ${i}`).join("\n");
  const renders = {
    "2": { text: lines.slice(0, 100), length: lines.length, lines: 60 },
    "1": { text: "{ short }", length: 9, lines: 1 },
  };
  assert.equal(
    renderValue(standIn(renders), {
      colors: false,
      maxChars: 1_000,
      limits: { depth: 2, entries: 20, lines: 40 },
    }),
    "{ short }\n… depth 1 of 2 shown to fit 40 lines: inspect(_, { depth: 2 }) shows more",
  );
  const expanded = expandText(renders["2"]);
  assert.equal(expanded.length, lines.length);
  assert.equal(expanded.split("\n").length, 60);
});

Deno.test("readSnippet() reads TypeScript first, says incomplete or where the syntax error is, and lists what the snippet declares", async () => {
  const generic = await readSnippet(
    "const id = <T,>(x: T) => x; id<number>(7)",
  );
  assert.ok(generic.kind === "ok");
  assert.match(generic.expression, /const id = \(x\) => x; id\(7\)/);
  assert.deepEqual(generic.declared, ["id"]);
  const literal = await readSnippet("{ a: 1 }");
  assert.ok(literal.kind === "ok" && literal.expression.includes("({ a: 1 })"));
  const declared = await readSnippet(
    "var v = 1; let [a, { b }] = [1, { b: 2 }]; class K {} function f() {}",
  );
  assert.ok(declared.kind === "ok");
  assert.deepEqual(
    new Set(declared.declared),
    new Set(["v", "a", "b", "K", "f"]),
  );
  assert.equal((await readSnippet("if (x) {")).kind, "incomplete");
  const error = await readSnippet("let = = 1");
  assert.equal(error.kind, "error");
});

Deno.test("exitRefusal() refuses the habit of ending the REPL with Deno.exit() or process.exit(), not other calls", () => {
  for (
    const code of [
      "Deno.exit()",
      "process.exit(1)",
      "  process . exit ( )",
      "x; process.abort()",
      "process.kill(process.pid)",
    ]
  ) {
    assert.ok(exitRefusal(code, 7), code);
  }
  for (
    const code of [
      "myDeno.exit()",
      "obj.process.exit()",
      "exit()",
      "process.exitCode = 1",
      "Deno.exitCode",
    ]
  ) {
    assert.equal(exitRefusal(code, 7), undefined, code);
  }
});
