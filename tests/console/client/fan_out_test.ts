import assert from "node:assert/strict";
import {
  evaluateOnTargets,
  type FanOutOptions,
  renderTargetTable,
  targetResultLine,
} from "../../../console/client/fan_out.ts";
import { runMain } from "../../_process.ts";
import { startRelay } from "../_relay.ts";
import { listenDeaf, startTestConsole, TOKEN } from "./_fixture.ts";

const withToken = (token = TOKEN): FanOutOptions["credentials"] => () =>
  Promise.resolve({ token, source: "--token" });

/** A port with nothing listening on it. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("evaluateOnTargets() answers for every target, in order, a dead one included", async () => {
  await using first = await startTestConsole();
  await using second = await startTestConsole({}, {
    cache: new Map([["only", 1]]),
  });
  const dead = closedPort();
  const results = await evaluateOnTargets(
    [
      { host: "127.0.0.1", port: first.port },
      { host: "127.0.0.1", port: dead },
      { host: "127.0.0.1", port: second.port },
    ],
    "cache.size",
    { credentials: withToken(), timeoutMs: 5_000 },
  );
  assert.deepEqual(
    results.map(({ target, ok, value, error }) => ({
      target,
      ok,
      value,
      error: error?.name,
    })),
    [
      {
        target: `127.0.0.1:${first.port}`,
        ok: true,
        value: "2",
        error: undefined,
      },
      {
        target: `127.0.0.1:${dead}`,
        ok: false,
        value: undefined,
        error: "ConnectionError",
      },
      {
        target: `127.0.0.1:${second.port}`,
        ok: true,
        value: "1",
        error: undefined,
      },
    ],
  );
  assert.match(results[1]!.error!.message, /connection refused/);
  assert.equal(results[0]!.pid, Deno.pid);
  assert.equal(results[1]!.pid, undefined);
  for (const result of results) assert.ok(result.durationMs >= 0);
});

Deno.test("evaluateOnTargets() reports a wrong token, a thrown error and incomplete input per target", async () => {
  await using t = await startTestConsole();
  const address = { host: "127.0.0.1", port: t.port };
  const [refused] = await evaluateOnTargets([address], "1", {
    credentials: withToken("not-the-token-at-all"),
    timeoutMs: 5_000,
  });
  assert.equal(refused!.ok, false);
  assert.equal(refused!.error!.name, "AuthenticationError");
  assert.match(refused!.error!.message, /invalid console token/);

  const [thrown] = await evaluateOnTargets(
    [address],
    "throw new TypeError('boom')",
    { credentials: withToken(), timeoutMs: 5_000 },
  );
  assert.deepEqual(
    [thrown!.ok, thrown!.error, thrown!.errorText],
    [false, { name: "TypeError", message: "boom" }, "Uncaught TypeError: boom"],
  );

  const [incomplete] = await evaluateOnTargets([address], "[1,", {
    credentials: withToken(),
    timeoutMs: 5_000,
  });
  assert.equal(incomplete!.error!.name, "IncompleteInputError");
});

Deno.test("evaluateOnTargets() gives up on a target at its deadline, and the others still answer", async () => {
  await using alive = await startTestConsole({ maxSessions: 1 });
  // Accepts and never says a word: a hung process, or not a console.
  await using deaf = listenDeaf();
  const started = performance.now();
  const results = await evaluateOnTargets(
    [
      { host: "127.0.0.1", port: deaf.port },
      { host: "127.0.0.1", port: alive.port },
    ],
    "cache.size",
    { credentials: withToken(), timeoutMs: 300 },
  );
  const elapsed = performance.now() - started;
  assert.equal(results[0]!.ok, false);
  assert.equal(results[0]!.error!.name, "TimeoutError");
  assert.match(results[0]!.error!.message, /^no answer within 300\.0 ms/);
  assert.equal(results[1]!.value, "2");
  assert.ok(elapsed < 5_000, `took ${elapsed} ms`);

  // An evaluation that never settles: interrupted and closed at the
  // deadline, so the one session slot is free again at once.
  const [pending] = await evaluateOnTargets(
    [{ host: "127.0.0.1", port: alive.port }],
    "new Promise(() => {})",
    { credentials: withToken(), timeoutMs: 300 },
  );
  assert.equal(pending!.error!.name, "TimeoutError");
  assert.equal(pending!.pid, Deno.pid);
  let again;
  const deadline = Date.now() + 5_000;
  do {
    [again] = await evaluateOnTargets(
      [{ host: "127.0.0.1", port: alive.port }],
      "'free'",
      { credentials: withToken(), timeoutMs: 2_000 },
    );
  } while (!again!.ok && Date.now() < deadline);
  assert.equal(again!.value, '"free"', JSON.stringify(again));
});

Deno.test("evaluateOnTargets() hands each target's console output over with its name", async () => {
  await using t = await startTestConsole();
  const seen: string[] = [];
  const [result] = await evaluateOnTargets(
    [{ host: "127.0.0.1", port: t.port }],
    "console.log('hi'); console.error('oh'); 7",
    {
      credentials: withToken(),
      timeoutMs: 5_000,
      output: (target, stream, text) =>
        seen.push(`${target} ${stream} ${text}`),
    },
  );
  assert.equal(result!.value, "7");
  assert.deepEqual(seen, [
    `127.0.0.1:${t.port} stdout hi\n`,
    `127.0.0.1:${t.port} stderr oh\n`,
  ]);
});

Deno.test("renderTargetTable() puts multi-line values and errors last, indented under their column", () => {
  assert.equal(
    renderTargetTable([
      {
        target: "/run/a.sock",
        ok: true,
        value: "{\n  a: 1\n}",
        durationMs: 1520,
      },
      {
        target: "10.0.0.5:44444",
        ok: false,
        error: { name: "Error", message: "x" },
        errorText: "Uncaught Error: x",
        durationMs: 12,
      },
    ]),
    [
      "instance        duration  value or error",
      "/run/a.sock       1.52 s  {",
      "                            a: 1",
      "                          }",
      "10.0.0.5:44444   12.0 ms  Uncaught Error: x",
      "",
    ].join("\n"),
  );
});

Deno.test("targetResultLine() is one JSON object: the value parsed, or the error", () => {
  const failed = JSON.parse(targetResultLine({
    target: "127.0.0.1:1",
    ok: false,
    error: { name: "TimeoutError", message: "no answer within 1.00 s" },
    durationMs: 1000,
  }));
  assert.deepEqual(failed, {
    target: "127.0.0.1:1",
    ok: false,
    durationMs: 1000,
    error: { name: "TimeoutError", message: "no answer within 1.00 s" },
  });
  const line = targetResultLine({
    target: "x",
    ok: true,
    value: "[ 1 ]",
    json: "[1]",
    durationMs: 1,
  });
  assert.ok(!line.includes("\n"));
  assert.deepEqual(JSON.parse(line).value, [1]);
});

Deno.test("main.ts console --target: a relay to an instance sharing the token is an authentication failure in its row", async () => {
  // Two instances with one token, as a fleet started with CONSOLE_TOKEN.
  await using first = await startTestConsole({}, { name: "first" });
  await using second = await startTestConsole({}, { name: "second" });
  // A local user listening on a port of the operator's list, passing every
  // connection on to the first instance.
  await using relay = await startRelay("0", String(first.port));
  const run = (json: boolean) =>
    runMain([
      "console",
      "--token",
      TOKEN,
      "--target",
      `localhost:${first.port}`,
      "--target",
      String(relay.listening),
      "--target",
      `127.0.0.1:${second.port}`,
      ...json ? ["--json"] : [],
      "-e",
      "name",
    ], { task: "console" });
  const refusal =
    `authentication failed at 127.0.0.1:${relay.listening}: the client dialled 127.0.0.1:${relay.listening}, but this console is 127.0.0.1:${first.port}: something in between passed the connection on`;

  const table = await run(false);
  assert.equal(table.code, 1, table.stderr);
  const rows = table.stdout.trim().split("\n").map((row) =>
    row.replace(/\s+\d+(\.\d+)? m?s\s+/, " | ")
  );
  assert.deepEqual(rows.slice(1), [
    `localhost:${first.port} | "first"`,
    `127.0.0.1:${relay.listening} | error: ${refusal}`,
    `127.0.0.1:${second.port} | "second"`,
  ]);

  const lines = await run(true);
  assert.equal(lines.code, 1, lines.stderr);
  const results = lines.stdout.trim().split("\n").map((line) =>
    JSON.parse(line)
  );
  assert.deepEqual(results.map((result) => result.ok), [true, false, true]);
  assert.deepEqual(results[1].error, {
    name: "AuthenticationError",
    message: refusal,
  });
  await relay.output.waitFor(/^relayed 2$/);
});

Deno.test("renderTargetTable() shows the instances' escapes escaped, colours only when asked", () => {
  const results = [
    {
      target: "127.0.0.1:4001",
      ok: true,
      value: "\x1b[33m1\x1b[39m\x1b]0;title\x07",
      durationMs: 1,
    },
    {
      target: "127.0.0.1:4002",
      ok: false,
      error: { name: "Error", message: "x" },
      errorText: "Uncaught \x9b2J\u202eboom",
      durationMs: 1,
    },
  ];
  const plain = renderTargetTable(results);
  assert.ok(plain.includes("\\u001b[33m1\\u001b[39m\\u001b]0;title\\u0007"));
  assert.ok(plain.includes("Uncaught \\u009b2J\\u202eboom"));
  const colored = renderTargetTable(results, { colors: true });
  assert.ok(
    colored.includes("\x1b[33m1\x1b[39m\\u001b]0;title\\u0007\x1b[0m"),
    colored,
  );
});
