import assert from "node:assert/strict";
import { createEvaluator } from "../../../console/eval/evaluator.ts";
import { dotCommand } from "../../../console/eval/session_helpers.ts";
import { createApp } from "../../../lib/app.ts";
import { parseServeArgs, type ServeConfig } from "../../../lib/config.ts";
import { RequestStats } from "../../../lib/metrics.ts";
import { createNamespace } from "../../../lib/namespace.ts";
import { createUsers } from "../../../lib/users.ts";

async function serviceSession(users = 500) {
  const store = createUsers({ cache: new Map() });
  const requests = new RequestStats();
  const main = createNamespace({
    app: createApp({ users: store, requests }),
    users: store,
    requests,
    config: parseServeArgs([]) as ServeConfig,
  });
  for (let i = 0; i < users; i++) await store.getUser(`u${i}`);
  const evaluator = createEvaluator(main, {
    output: { write() {} },
    scope: { help: () => "Leak toolkit\n  mem()  memory", mem: () => 1 },
  });
  const run = async (code: string) => {
    const result = await evaluator.evaluate(code);
    if (result.kind === "incomplete") throw new Error(`${code}: incomplete`);
    return result;
  };
  const text = async (code: string) => {
    const result = await run(code);
    assert.equal(result.kind, "value", `${code} -> ${JSON.stringify(result)}`);
    return (result as { text: string }).text;
  };
  return { evaluator, run, text };
}

function lines(text: string): number {
  return text.split("\n").length;
}

Deno.test("evaluate() renders the service's whole namespace, main, on one screen", async () => {
  const { text } = await serviceSession();
  const shown = await text("main");
  assert.ok(lines(shown) <= 41, `${lines(shown)} lines`);
  assert.ok(shown.length < 2_000, `${shown.length} chars`);
  assert.match(shown, /cache: \[Map\]/);
  assert.match(shown, /inspect\(_, \{ depth: 2 \}\) shows more$/);
  for (const member of ["cache", "users", "faker"]) {
    assert.ok(lines(await text(member)) <= 42, member);
  }
});

Deno.test("evaluate() shows more of a value through inspect()", async () => {
  const { text } = await serviceSession();
  const deep = await text("inspect(main, { depth: 2 })");
  assert.ok(lines(deep) > 100, `${lines(deep)} lines`);
  const cut = await text("inspect(main, { depth: 2, lines: 10 })");
  assert.equal(lines(cut), 11);
  const twenty = await text("cache");
  assert.match(twenty, /\.\.\. 480 more items/);
  const all = await text("inspect(cache, { entries: 600, depth: 0 })");
  assert.doesNotMatch(all, /more items/);
  // inspect(_) keeps the limits it is not given.
  await text("inspect(main, { depth: 0 })");
  assert.equal(
    await text("inspect(_, { lines: Infinity })"),
    await text("inspect(main, { depth: 0 })"),
  );
});

Deno.test("inspect() refuses limits that are not whole numbers", async () => {
  const { run } = await serviceSession(0);
  for (
    const [code, message] of [
      [
        "inspect(main, 3)",
        /takes \{ depth, entries, lines \} as its second argument, got number/,
      ],
      [
        'inspect(main, { depth: "2" })',
        /takes depth as a whole number ≥ 0 or Infinity, got "2"/,
      ],
      ["inspect(main, { entries: 0 })", /takes entries as a whole number ≥ 1/],
      ["inspect(main, { lines: 1.5 })", /takes lines as/],
      ["inspect(main, { depth: NaN })", /got NaN/],
    ] as const
  ) {
    const result = await run(code);
    assert.equal(result.kind, "error", code);
    assert.match((result as { message: string }).message, message, code);
    assert.equal((result as { stack: string }).stack.split("\n").length, 2);
  }
});

Deno.test("evaluate() answers Python habits with one line saying the JavaScript way", async () => {
  const { text } = await serviceSession(3);
  const answers: Array<[string, RegExp]> = [
    ["dir", /Object\.keys\(main\)/],
    ["dir()", /Object\.keys\(main\)/],
    [
      "dir(main)",
      /Object\.keys\(value\) lists its own keys \(here 8: app, cache/,
    ],
    ["len(cache)", /a Map has \.size \(here 3\), e\.g\. cache\.size/],
    ["len([1, 2])", /an array has \.length \(here 2\)/],
    ["len('abc')", /a string has \.length \(here 3\)/],
    ["len", /cache\.size/],
    ["exit", /\.exit or Ctrl-D/],
    ["exit()", /\.exit or Ctrl-D/],
    ["quit", /\.exit or Ctrl-D/],
    ["quit()", /\.exit or Ctrl-D/],
    [".help", /^help\(\) lists what is in scope; \.exit or Ctrl-D/],
    ["help", /help\(\) lists what is in scope/],
  ];
  for (const [code, expected] of answers) {
    const answer = await text(code);
    assert.match(answer, expected, code);
    assert.equal(lines(answer), 1, code);
  }
});

Deno.test("help() lists the toolkit, the namespace and the session's helpers, one line each", async () => {
  const { text } = await serviceSession(2);
  const listing = await text("help()");
  assert.ok(listing.startsWith("Leak toolkit\n  mem()  memory\n"));
  for (
    const line of [
      /^ {2}main +the namespace/m,
      /^ {2}cache +Map\(2\)$/m,
      /^ {2}getUser +function getUser$/m,
      /^ {2}fetchUserFromDatabase +async function fetchUserFromDatabase$/m,
      /^ {2}config +Object \{ host, port/m,
      /^ {2}requests +RequestStats \{\}$/m,
      /^ {2}inspect\(v, \{ depth, entries, lines \}\) /m,
    ]
  ) {
    assert.match(listing, line);
  }
  assert.equal(`${await text("help()")}`.includes("[Function"), false);
});

Deno.test("evaluate() refuses process.exit() and Deno.exit() with a clear message", async () => {
  const { run, text } = await serviceSession(0);
  for (
    const code of [
      "process.exit()",
      "process.exit(0)",
      "Deno.exit(3)",
      "process.abort()",
      "process.reallyExit(1)",
    ]
  ) {
    const result = await run(code);
    assert.equal(result.kind, "error", code);
    assert.match(
      (result as { message: string }).message,
      /^(process|Deno)\.\w+\(\) would stop the whole service \(HTTP and every console session\), not this session: \.exit or Ctrl-D leaves/,
    );
  }
  // Everything else is the real thing.
  assert.equal(await text("Deno.pid === process.pid"), "true");
  assert.equal(await text("typeof Deno.inspect({})"), '"string"');
  assert.equal(await text("process.memoryUsage().rss > 0"), "true");
  assert.equal(await text("Deno.env.get('HOME') === process.env.HOME"), "true");
});

Deno.test("dotCommand() answers dot lines only", () => {
  assert.match(
    dotCommand(" .exit ") ?? "",
    /on a line of its own or press Ctrl-D/,
  );
  assert.match(dotCommand(".load x") ?? "not a command", /not a command/);
  assert.match(dotCommand(".clear") ?? "", /^\.clear is not a console command/);
  assert.equal(dotCommand("[1].map(String)"), undefined);
  assert.equal(dotCommand(".5 + 1"), undefined);
});
