import assert from "node:assert/strict";
import {
  EMPTY_SCAN,
  isOpen,
  PARSE_EACH_LINE_MAX_CHARS,
  scanText,
  SnippetContinuation,
} from "../../../console/eval/continuation.ts";
import { createEvaluator } from "../../../console/eval/evaluator.ts";
import { parseSnippet } from "../../../console/eval/syntax.ts";
import { stripTypes } from "../../../console/eval/transpile.ts";
import { SnippetBuffer } from "../../../console/snippet_buffer.ts";

const scan = (text: string) => scanText(EMPTY_SCAN, text);

Deno.test("scanText() finds brackets, templates and comments still open", () => {
  for (
    const text of [
      "foo(1,",
      "const o = { a: [1, 2,",
      "`text ${ value",
      "`text ${ { a: 1 } } and more",
      "/* a comment",
      "if (x) {\n  y = /[)}]/.test(s)",
      "const s = 'a (string' + \"with ( [\" + f(",
      "// a (comment\nfoo(",
      "x = a / b * (c",
      "for await (const x of y) {",
      "x = `outer ${`inner ${[1, 2]} `} `; call(",
    ]
  ) {
    assert.equal(isOpen(scan(text)), true, text);
  }
});

Deno.test("scanText() finds balanced text, which the parser then reads", () => {
  for (
    const text of [
      "foo(1, 2)",
      "const o = { a: [1, 2] }",
      "`${a}` + `b`",
      "/* done */ x",
      "x = a.return / 2 / (b)",
      "if (x) /re/.test(s)",
      "y = x++ / 2",
      "const n: number = value! / 2",
      "x = 1.5e+3 / 0x1f / 10n",
      "let 𝒳 = 1; f(𝒳 / 2) / 3",
    ]
  ) {
    assert.equal(isOpen(scan(text)), false, text);
    assert.equal(scan(text).uncertain, false, text);
  }
});

Deno.test("scanText() leaves what it cannot read with certainty to the parser", () => {
  for (
    const text of [
      "if (a) {} /x(/.test(s); (", // a block's end, then a regular expression
      "foo(1))(", // a closer that matches nothing
      "f('cut at the end\n", // a string cannot span lines
      "x = of / 2 / (3", // `of` may be a name
      "x = /unterminated(",
    ]
  ) {
    const state = scan(text);
    assert.equal(state.uncertain, true, text);
    assert.equal(isOpen(state), false, text);
  }
});

Deno.test("scanText() carries its state from line to line", () => {
  const lines = [
    "const f = (a, b) => {",
    "  const s = `sum ${a + b",
    "  } of ${[a,",
    "  b]}`; /* a",
    "  comment */ return s.length / 2;",
    "};",
  ];
  let state = EMPTY_SCAN;
  lines.forEach((line, index) => {
    state = scanText(state, (index === 0 ? "" : "\n") + line);
    const whole = scan(lines.slice(0, index + 1).join("\n"));
    assert.deepEqual(state, whole, line);
  });
  assert.equal(isOpen(state), false);
});

Deno.test("scanText() never calls open what the parser reads as complete or wrong", async () => {
  // Every prefix of real code that ends a line: where the scan says open,
  // the parser must find it incomplete too. The code: this project's own
  // modules as scripts, their types stripped.
  let source = "";
  for (
    const file of [
      "../../../console/eval/continuation.ts",
      "../../../console/client/fan_out.ts",
    ]
  ) {
    const typescript = await Deno.readTextFile(new URL(file, import.meta.url));
    const stripped = await stripTypes(typescript);
    assert.ok(stripped.kind === "ok");
    // A script, as snippets are: imports go, exports become declarations.
    source += stripped.code
      .replace(/^import [\s\S]*?from "[^"]+";$/gm, "")
      .replace(/^export /gm, "") + "\n";
  }
  const lines = source.split("\n");
  assert.ok(lines.length > 500, "the sample has code");
  lines.length = 700;
  let state = EMPTY_SCAN;
  let checked = 0;
  for (let i = 0; i < lines.length; i++) {
    state = scanText(state, (i === 0 ? "" : "\n") + lines[i]);
    if (!isOpen(state)) continue;
    const prefix = lines.slice(0, i + 1).join("\n");
    const outcome = parseSnippet(prefix);
    assert.equal(
      outcome.kind,
      "incomplete",
      `line ${i + 1}: ${lines[i]} (${JSON.stringify(outcome).slice(0, 200)})`,
    );
    checked++;
  }
  assert.ok(checked > 50, `${checked} open prefixes checked`);
});

Deno.test("SnippetContinuation answers long snippets line by line and checks short ones with the parser", () => {
  const continuation = new SnippetContinuation();
  let code = "const rows = [";
  continuation.settled(code, true);
  let answered = 0;
  while (code.length < 3 * PARSE_EACH_LINE_MAX_CHARS) {
    code += "\n  { id: 1, name: 'a (b' },";
    if (continuation.stillOpen(code)) answered++;
    else assert.ok(code.length <= PARSE_EACH_LINE_MAX_CHARS);
    continuation.settled(code, true);
  }
  assert.ok(answered > 100);
  // Not the same snippet any more: the parser is asked.
  assert.equal(continuation.stillOpen("other" + code), false);
  // Extended within its last line (a client's own text): the parser is asked.
  assert.equal(continuation.stillOpen(code + " {"), false);
  continuation.settled(code, false);
  assert.equal(continuation.stillOpen(code + "\n  {"), false);
});

Deno.test("evaluate() reads a long snippet typed line by line without parsing it again each line", async () => {
  const evaluator = createEvaluator({}, { output: { write() {} } });
  const count = 4000;
  const lines = [
    "const sum = () => {",
    "  let total = 0;",
    ...Array.from(
      { length: count },
      (_, i) => `  total += ${i}; // line ${i} (of ${count})`,
    ),
    "  return total;",
    "};",
    "sum()",
  ];
  /** Feeds the lines as the REPL does; `evaluate` or only build the text. */
  const paste = async (evaluate: boolean) => {
    const buffer = new SnippetBuffer();
    const started = performance.now();
    let last;
    for (const line of lines) {
      const step = buffer.add(line);
      if (step.kind !== "evaluate") continue;
      if (evaluate) {
        last = await evaluator.evaluate(step.code);
      } else {
        // The snippet so far, flat in memory, as each request carries it:
        // the cost no reading of it can avoid.
        step.code.charCodeAt(step.code.length - 1);
        last = { kind: "incomplete" as const };
      }
      buffer.settle(
        last.kind === "incomplete" && step.code !== lines.join("\n"),
      );
    }
    return { ms: performance.now() - started, last };
  };
  await paste(true); // warm up, the parse worker included
  const baseline = await paste(false);
  const { ms, last } = await paste(true);
  assert.equal(
    last?.kind === "value" && last.text,
    String(count * (count - 1) / 2),
  );
  // Each line costs a copy of the snippet so far either way (the reading
  // now costs less than building the text: ~0.6–0.8×); parsing it again
  // each line cost ~20× that (41.5 s against 1.95 s, load average 12).
  assert.ok(
    ms / Math.max(baseline.ms, 1) < 5,
    `${ms.toFixed(0)} ms, ${(ms / baseline.ms).toFixed(1)}× building the text`,
  );
  evaluator.close();
});

Deno.test("evaluate() still reports a syntax error inside a short open snippet at once", async () => {
  const evaluator = createEvaluator({}, { output: { write() {} } });
  assert.equal((await evaluator.evaluate("foo(1,")).kind, "incomplete");
  const result = await evaluator.evaluate("foo(1,\n2 3,");
  assert.equal(result.kind, "error");
  assert.match(
    (result as { message: string }).message,
    /^Unexpected token \(2:3\)/,
  );
  evaluator.close();
});
