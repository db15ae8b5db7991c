import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { MAX_LINE_BYTES, type Reply } from "../../../console/protocol.ts";
import { valueOf } from "../_console_client.ts";
import { settle, startTest, TOKEN } from "./_server.ts";

Deno.test("runJsonSession() is greeted with the protocol version, pid and names", async () => {
  await using t = await startTest();
  const connection = await t.connect();
  const hello = await connection.hello(TOKEN);
  assert.ok(hello?.type === "hello");
  assert.equal(hello.version, 3);
  assert.equal(hello.pid, Deno.pid);
  assert.deepEqual(hello.names, ["main", "cache", "state", "slow"]);
  assert.match(hello.banner, /help\(\)/);
});

Deno.test("runJsonSession() answers an eval with a result carrying its id and duration", async () => {
  await using t = await startTest();
  const c = await t.session();
  assert.equal(valueOf((await c.eval(1, "cache.size")).final), "2");
  assert.equal(
    valueOf((await c.eval(2, "main.cache === cache")).final),
    "true",
  );
  const { final } = await c.eval("three", "main.cache.get('b')");
  assert.deepEqual(final, {
    type: "result",
    id: "three",
    value: "2",
    durationMs: (final as { durationMs: number }).durationMs,
  });
});

Deno.test("runJsonSession() logs every evaluation with its session, peer, code length and hash, duration and outcome, never the code", async () => {
  await using t = await startTest();
  const c = await t.session();
  const snippets: [string, string][] = [
    ["'s3cr3t-value'.length", "ok"],
    ["'s3cr3t-value'.length", "ok"],
    ["throw new RangeError('s3cr3t')", "error RangeError"],
    ["foo('s3cr3t',", "incomplete"],
  ];
  for (const [i, [code]] of snippets.entries()) await c.eval(i, code);
  // The reply goes out first and the line is logged in the same turn, so it
  // is there once the reply arrived.
  const evals = t.logs.filter((line) => line.includes(" eval "));
  assert.equal(evals.length, snippets.length);
  for (const [i, [code, outcome]] of snippets.entries()) {
    const digest = createHash("sha256").update(code).digest("hex");
    assert.match(
      evals[i]!,
      new RegExp(
        String.raw`^console session \d+ from 127\.0\.0\.1:\d+ eval ` +
          `${code.length} chars sha256:${digest.slice(0, 12)} ` +
          String.raw`\d+\.\d ms ${outcome}$`,
      ),
    );
    assert.ok(!evals[i]!.includes("s3cr3t"));
  }
});

Deno.test("runJsonSession() gives every session its own declarations", async () => {
  await using t = await startTest();
  const a = await t.session();
  const b = await t.session();
  await a.eval(1, "let x = 41");
  assert.equal(valueOf((await a.eval(2, "x + 1")).final), "42");
  const inB = (await b.eval(1, "x")).final;
  assert.equal(inB.type, "error");
  assert.equal(inB.type === "error" && inB.error.name, "ReferenceError");
});

Deno.test("runJsonSession() sends console output only to the session that logged, before the result", async () => {
  await using t = await startTest();
  const a = await t.session();
  const b = await t.session();
  const { final, before } = await a.eval(
    1,
    "console.log('one'); await slow(10); console.error('two'); 3",
  );
  assert.equal(valueOf(final), "3");
  assert.deepEqual(
    before.map((reply) =>
      reply.type === "output" && [reply.id, reply.stream, reply.text]
    ),
    [[1, "stdout", "one\n"], [1, "stderr", "two\n"]],
  );
  // b saw nothing of it: its next reply is its own.
  assert.equal(valueOf((await b.eval(1, "1")).final), "1");
});

Deno.test("runJsonSession() sends output of work a snippet left running with a null id", async () => {
  await using t = await startTest();
  const c = await t.session();
  assert.equal(
    valueOf(
      (await c.eval(1, "setTimeout(() => console.log('later'), 20); 'now'"))
        .final,
    ),
    '"now"',
  );
  assert.deepEqual(await c.reply(), {
    type: "output",
    id: null,
    stream: "stdout",
    text: "later\n",
  });
});

Deno.test("runJsonSession() answers incomplete input with `incomplete`", async () => {
  await using t = await startTest();
  const c = await t.session();
  assert.deepEqual((await c.eval(1, "[1, 2,")).final, {
    type: "incomplete",
    id: 1,
  });
  assert.equal(valueOf((await c.eval(2, "[1, 2,\n3].length")).final), "3");
});

Deno.test("runJsonSession() sends an error's name, message, stack and text; the session carries on", async () => {
  await using t = await startTest();
  const c = await t.session();
  const { final } = await c.eval(
    1,
    "function g() { throw new TypeError('bad') }\ng()",
  );
  assert.ok(final.type === "error");
  assert.equal(final.error.name, "TypeError");
  assert.equal(final.error.message, "bad");
  assert.match(final.error.stack ?? "", /TypeError: bad\n\s+at g/);
  assert.match(final.text ?? "", /^Uncaught TypeError: bad/);
  assert.equal(
    valueOf((await c.eval(2, "'still here'")).final),
    '"still here"',
  );
});

Deno.test("runJsonSession() answers complete with candidates from the session's scope", async () => {
  await using t = await startTest();
  const c = await t.session();
  await c.send({ op: "complete", id: 9, code: "cache.si", cursor: 8 });
  assert.deepEqual(await c.reply(), {
    type: "completions",
    id: 9,
    candidates: ["size"],
    start: 6,
  });
});

Deno.test("runJsonSession() interrupt stops waiting for a pending evaluation and frees the session", async () => {
  await using t = await startTest();
  const c = await t.session();
  await c.send({ op: "eval", id: 1, code: "await slow(60_000)" });
  await c.send({ op: "eval", id: 2, code: "'queued'" });
  await c.send({ op: "interrupt", id: 3, target: 1 });
  const replies = [await c.reply(), await c.reply(), await c.reply()];
  assert.deepEqual(replies.find((r) => r?.type === "interrupted"), {
    type: "interrupted",
    id: 3,
    target: 1,
  });
  const interrupted = replies.find((r) => r?.type === "error");
  assert.ok(interrupted?.type === "error");
  assert.equal(interrupted.id, 1);
  assert.equal(interrupted.error.name, "Interrupted");
  assert.equal(valueOf(replies.find((r) => r?.type === "result")!), '"queued"');
  // Nothing pending now.
  await c.send({ op: "interrupt", id: 4 });
  const none = await c.reply();
  assert.ok(none?.type === "error" && none.id === 4);
  assert.equal(none.error.message, "No evaluation is pending");
});

Deno.test("runJsonSession() answers malformed requests with a ProtocolError and carries on", async () => {
  await using t = await startTest();
  const c = await t.session();
  const cases: [string, RegExp][] = [
    ["not json", /^Malformed JSON$/],
    ['{"op":"eval","id":1', /^Malformed JSON$/],
    ["[1,2]", /JSON object/],
    ['{"op":"eval","code":"1"}', /"id"/],
    ['{"op":"eval","id":{},"code":"1"}', /"id"/],
    ['{"op":"eval","id":1,"code":5}', /"code" must be a string/],
    ['{"op":"frobnicate","id":1}', /Unknown op/],
    ['{"op":"complete","id":1,"code":"ab","cursor":9}', /"cursor"/],
    [
      '{"op":"eval","id":1,"code":"1","format":"yaml"}',
      /^"format" must be "text" or "json"$/,
    ],
  ];
  for (const [line, message] of cases) {
    await c.write(line + "\n");
    const reply = await c.reply();
    assert.ok(reply?.type === "error", line);
    assert.equal(reply.error.name, "ProtocolError");
    assert.match(reply.error.message, message, line);
  }
  assert.equal(valueOf((await c.eval(2, "1 + 1")).final), "2");
  assert.equal(t.namespace.state.touched, 0);
});

Deno.test("runJsonSession() answers a line over 1 MiB with an error and carries on", async () => {
  await using t = await startTest();
  const c = await t.session();
  const huge = JSON.stringify({
    op: "eval",
    id: 1,
    code: "'" + "x".repeat(MAX_LINE_BYTES) + "'",
  });
  await c.write(huge + "\n");
  const reply = await c.reply();
  assert.ok(reply?.type === "error");
  assert.match(reply.error.message, /over the 1048576-byte limit/);
  assert.equal(valueOf((await c.eval(2, "'fine'")).final), '"fine"');
});

Deno.test("runJsonSession() never sends a line over 1 MiB for huge output, values and errors", async () => {
  await using t = await startTest();
  const c = await t.session();
  // 3 MiB of output with multi-byte characters and surrogate pairs.
  const { final, before } = await c.eval(
    1,
    "console.log('é😀'.repeat(500_000)); 1",
  );
  assert.equal(valueOf(final), "1");
  const text = before.map((r) => r.type === "output" ? r.text : "").join("");
  assert.equal(text, "é😀".repeat(500_000) + "\n");
  assert.ok(before.length > 1);
  for (const reply of [...before, final]) {
    assert.ok(
      new TextEncoder().encode(JSON.stringify(reply)).length < MAX_LINE_BYTES,
    );
  }
  const error = (await c.eval(2, "throw new Error('x'.repeat(3_000_000))"))
    .final;
  assert.ok(error.type === "error");
  assert.ok(JSON.stringify(error).length < MAX_LINE_BYTES);
  assert.match(error.error.message, /^x+… \(truncated, \d+ more chars\)$/);
  const value = (await c.eval(3, "'y'.repeat(3_000_000)")).final;
  assert.ok(JSON.stringify(value).length < MAX_LINE_BYTES);
  assert.equal(valueOf((await c.eval(4, "'fine'")).final), '"fine"');
});

Deno.test("runJsonSession() of a client that vanishes mid-evaluation disturbs no one", async () => {
  await using t = await startTest();
  const leaving = await t.session();
  const staying = await t.session();
  await leaving.send({
    op: "eval",
    id: 1,
    code: "console.log('x'); await slow(200); state.touched++",
  });
  await leaving.reply();
  leaving.close();
  await settle(() => t.server.sessions === 1);
  assert.equal(valueOf((await staying.eval(1, "cache.size")).final), "2");
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(valueOf((await staying.eval(2, "'ok'")).final), '"ok"');
});

Deno.test("runJsonSession() still answers every request of a client that closed its sending side", async () => {
  // printf '{"op":"hello",...}\n{"op":"eval",...}\n' | nc -N host port
  await using t = await startTest();
  const c = await t.connect();
  await c.write(
    [
      { op: "hello", token: TOKEN },
      { op: "eval", id: 1, code: "await slow(50); cache.size" },
      { op: "eval", id: 2, code: "[1," },
      { op: "eval", id: 3, code: "null.x" },
      { op: "eval", id: 4, code: "'last'" },
    ].map((message) => JSON.stringify(message) + "\n").join(""),
  );
  await c.conn.closeWrite();
  const replies = [];
  for (let line = await c.line(); line !== null; line = await c.line()) {
    replies.push(JSON.parse(line));
  }
  assert.deepEqual(
    replies.map((reply) => [reply.type, reply.id ?? null]),
    [
      ["hello", null],
      ["result", 1],
      ["incomplete", 2],
      ["error", 3],
      ["result", 4],
    ],
  );
  assert.equal(replies[1].value, "2");
  assert.equal(replies[3].error.name, "TypeError");
  assert.equal(replies[4].value, '"last"');
  await settle(() => t.server.sessions === 0);
});

Deno.test("runJsonSession() accepts format json and copies the evaluator's json text into the result", async () => {
  await using t = await startTest();
  const c = await t.session();
  await c.send({
    op: "eval",
    id: 1,
    code: "({ a: [1, 'x'] })",
    format: "json",
  });
  const { final } = await c.until(1);
  assert.ok(final.type === "result");
  assert.equal(final.value, '{ a: [ 1, "x" ] }');
  // The evaluator adds `json` (branch eval); until then the field is absent.
  if (final.json !== undefined) assert.equal(final.json, '{"a":[1,"x"]}');
  await c.send({ op: "eval", id: 2, code: "1", format: "text" });
  const text = (await c.until(2)).final;
  assert.ok(text.type === "result" && text.json === undefined);
});

Deno.test("runJsonSession() says so when a single output over the 8 MiB write budget is cut", async () => {
  await using t = await startTest();
  const c = await t.session();
  const total = 9 * 1024 * 1024;
  const { final, before } = await c.eval(
    1,
    `console.log("x".repeat(${total})); 1`,
  );
  assert.equal(valueOf(final), "1");
  const texts = before.map((reply) =>
    reply.type === "output" ? reply.text : ""
  );
  const note = texts.at(-1)!;
  const match = note.match(
    /^… \((\d+) characters of output dropped: the client did not read fast enough\)\n$/,
  );
  assert.ok(match, note.slice(0, 200));
  const delivered = texts.slice(0, -1).join("").length;
  assert.equal(delivered + Number(match[1]), total + 1);
  assert.ok(delivered >= 8 * 1024 * 1024 - 128 * 1024);
});

Deno.test("runJsonSession() answers a completion that throws with an error and carries on", async () => {
  const trap = () => {
    throw 2;
  };
  const evil = new Proxy({}, {
    get: trap,
    getPrototypeOf: trap,
    ownKeys: trap,
    has: trap,
    getOwnPropertyDescriptor: trap,
  });
  await using t = await startTest({ scope: () => ({ evil }) });
  const c = await t.session();
  for (const [id, code] of [[1, "evil."], [2, "evil.a"]] as const) {
    await c.send({ op: "complete", id, code });
    const reply = await c.reply();
    assert.ok(
      reply?.type === "completions" ||
        (reply?.type === "error" && reply.error.name === "CompletionError"),
      JSON.stringify(reply),
    );
    assert.equal(reply.id, id);
  }
  assert.equal(
    valueOf((await c.eval(3, "'still here'")).final),
    '"still here"',
  );
});

const NOTE =
  /^… \((\d+) characters of output dropped: the client did not read fast enough\)\n$/;

/** Characters delivered and noted as dropped, per evaluation id (`null`: background). */
function account(
  replies: Reply[],
): Map<unknown, { delivered: number; noted: number }> {
  const byId = new Map<unknown, { delivered: number; noted: number }>();
  for (const reply of replies) {
    if (reply.type !== "output") continue;
    const entry = byId.get(reply.id) ?? { delivered: 0, noted: 0 };
    const note = reply.text.match(NOTE);
    if (note) entry.noted += Number(note[1]);
    else entry.delivered += reply.text.length;
    byId.set(reply.id, entry);
  }
  return byId;
}

Deno.test("runJsonSession() counts every character dropped for a client that does not read, in notes", async () => {
  await using t = await startTest();
  const c = await t.session();
  // 20 million characters in lines while the client reads nothing, then
  // 5 million more from a timer, after the evaluation answered.
  await c.send({
    op: "eval",
    id: 1,
    code:
      "for (let i = 0; i < 20_000; i++) console.log('x'.repeat(999)); 'printed'",
  });
  await c.send({
    op: "eval",
    id: 2,
    code: "setTimeout(() => { " +
      "for (let i = 0; i < 50_000; i++) console.log('y'.repeat(99)); " +
      "state.touched = 1 }, 0); 1",
  });
  await settle(() => t.namespace.state.touched === 1, 120_000);
  // Now read: the backlog drains, the notes owed go out, and every note
  // is in before the answer to a last request.
  const replies: Reply[] = [];
  await c.send({ op: "eval", id: 3, code: "'last'" });
  while (true) {
    const reply = await c.reply();
    assert.ok(reply !== null, "connection open");
    replies.push(reply);
    if (reply.type === "result" && reply.id === 3) break;
  }
  const byId = account(replies);
  const first = byId.get(1)!;
  const background = byId.get(null)!;
  assert.ok(first.noted > 0 && background.noted > 0, JSON.stringify([...byId]));
  assert.equal(first.delivered + first.noted, 20_000 * 1000);
  assert.equal(background.delivered + background.noted, 50_000 * 100);
  assert.equal(
    replies.filter((r) => r.type === "result").map((r) => r.id).join(),
    "1,2,3",
  );
});

Deno.test("runJsonSession() notes a dropped single output of 50 million characters before its result", async () => {
  await using t = await startTest();
  const c = await t.session();
  const total = 50_000_000;
  await c.send({
    op: "eval",
    id: 1,
    code: `console.log("x".repeat(${total})); 1`,
  });
  await settle(() => t.logs.some((line) => / eval .* ok$/.test(line)), 60_000);
  const { final, before } = await c.until(1);
  assert.equal(valueOf(final), "1");
  const { delivered, noted } = account(before).get(1)!;
  assert.equal(delivered + noted, total + 1);
  assert.match((before.at(-1) as { text: string }).text, NOTE);
});

Deno.test("runJsonSession() cuts long output into pieces, never inside an escape sequence", async () => {
  await using t = await startTest();
  const c = await t.session();
  const { before } = await c.eval(
    1,
    'console.log("a".repeat(128 * 1024 - 3) + "\\x1b[31mred\\x1b[39m" + "b".repeat(10))',
  );
  const texts = before.map((reply) =>
    reply.type === "output" ? reply.text : ""
  );
  assert.ok(texts.length > 1);
  assert.equal(
    texts.join(""),
    "a".repeat(128 * 1024 - 3) + "\x1b[31mred\x1b[39m" + "b".repeat(10) + "\n",
  );
  for (const text of texts) {
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(text, /\x1b(\[[0-9;]*)?$/, "a piece ends inside one");
  }
});
