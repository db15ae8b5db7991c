import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  ConsoleConfigError,
  type ConsoleServerOptions,
  isLoopback,
  startConsoleServer,
} from "../../../console/server/listener.ts";
import { MAX_LINE_BYTES } from "../../../console/protocol.ts";
import { tokenFilePath, tokensEqual } from "../../../console/token.ts";
import { TestConnection, valueOf } from "../_console_client.ts";

const TOKEN = "test-token-0123456789abcdef";
/** The one socket path the test task permits (`--allow-net=unix:...`). */
/**
 * A socket path of this run's own (the test task grants it), so two runs on
 * one machine cannot collide.
 */
function testSocketPath(): string {
  const dir = Deno.env.get("LEAKWATCH_TEST_DIR") ??
    Deno.makeTempDirSync({ prefix: "leakwatch-test-" });
  return `${dir}/console.sock`;
}

/** A namespace whose `touched` counter proves whether anything ran. */
function testNamespace() {
  return {
    cache: new Map([["a", 1], ["b", 2]]),
    state: { touched: 0 },
    slow: (ms: number) => new Promise((resolve) => setTimeout(resolve, ms, ms)),
  };
}

async function startTest(options: ConsoleServerOptions = {}) {
  const namespace = testNamespace();
  const logs: string[] = [];
  const server = await startConsoleServer(namespace, {
    port: 0,
    token: TOKEN,
    authFailureDelayMs: 20,
    scope: () => ({}),
    log: (line) => logs.push(line),
    ...options,
  });
  const port = (server.addr as Deno.NetAddr).port;
  const open: TestConnection[] = [];
  const connect = async () => {
    const connection = await TestConnection.open(port);
    open.push(connection);
    return connection;
  };
  const session = async () => {
    const connection = await connect();
    const hello = await connection.hello(TOKEN);
    assert.equal(hello?.type, "hello");
    return connection;
  };
  return {
    namespace,
    server,
    port,
    logs,
    connect,
    session,
    async [Symbol.asyncDispose]() {
      for (const connection of open) connection.close();
      await server.close();
    },
  };
}

/** Waits until the server notices closed connections. */
async function settle(condition: () => boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("Condition never held");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("startConsoleServer() greets an authenticated client with the protocol version and names", async () => {
  await using t = await startTest();
  const connection = await t.connect();
  const hello = await connection.hello(TOKEN);
  assert.ok(hello?.type === "hello");
  assert.equal(hello.version, 1);
  assert.equal(hello.pid, Deno.pid);
  assert.deepEqual(hello.names, ["main", "cache", "state", "slow"]);
  assert.match(hello.banner, /help\(\)/);
});

Deno.test("eval sees namespace members by bare name and `main` as the namespace", async () => {
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

Deno.test("every evaluation is logged with its session, peer, code length and hash, duration and outcome, never the code", async () => {
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

Deno.test("declarations persist within a session and never cross sessions", async () => {
  await using t = await startTest();
  const a = await t.session();
  const b = await t.session();
  await a.eval(
    1,
    "let x = 41; const y = 1; var z = 'z'; function f() { return x + y } class K {}",
  );
  assert.equal(valueOf((await a.eval(2, "f()")).final), "42");
  assert.equal(
    valueOf((await a.eval(3, "[typeof K, z]")).final),
    '[ "function", "z" ]',
  );
  const inB = (await b.eval(1, "x")).final;
  assert.equal(inB.type, "error");
  assert.equal(inB.type === "error" && inB.error.name, "ReferenceError");
  assert.equal("x" in globalThis, false);
});

Deno.test("top-level await keeps its declarations; `_` and `_error` hold the last value and error", async () => {
  await using t = await startTest();
  const c = await t.session();
  await c.eval(1, "const u = await slow(5)");
  assert.equal(valueOf((await c.eval(2, "u")).final), "5");
  await c.eval(3, "6 * 7");
  assert.equal(valueOf((await c.eval(4, "_")).final), "42");
  await c.eval(5, "throw new RangeError('boom')");
  assert.equal(valueOf((await c.eval(6, "_error.message")).final), '"boom"');
});

Deno.test("console output reaches only the session that logged, including after await", async () => {
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

Deno.test("output of work a snippet left running arrives with a null id", async () => {
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

Deno.test("incomplete input gets `incomplete`; the completed text evaluates", async () => {
  await using t = await startTest();
  const c = await t.session();
  for (
    const code of ["[1, 2,", "function f() {", "`open", "1 +", "if (true)"]
  ) {
    assert.deepEqual((await c.eval(1, code)).final, {
      type: "incomplete",
      id: 1,
    });
  }
  assert.equal(valueOf((await c.eval(2, "[1, 2,\n3].length")).final), "3");
});

Deno.test("an error carries name, message and stack; the session carries on", async () => {
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

Deno.test("TypeScript syntax evaluates", async () => {
  await using t = await startTest();
  const c = await t.session();
  await c.eval(1, "interface P { n: number }\nconst p: P = { n: 2 } as P");
  assert.equal(valueOf((await c.eval(2, "p.n as number")).final), "2");
});

Deno.test("complete returns candidates from the server's scope", async () => {
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

Deno.test("interrupt stops waiting for a pending evaluation and frees the session", async () => {
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

Deno.test("malformed requests get a ProtocolError and the session continues", async () => {
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

Deno.test("a line over 1 MiB gets an error and the session continues", async () => {
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

Deno.test("huge output, values and errors never make a line over 1 MiB", async () => {
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

Deno.test("a client without a valid hello is refused and nothing is evaluated", async () => {
  await using t = await startTest();
  const lines = [
    '{"op":"eval","id":1,"code":"state.touched++"}',
    '{"op":"hello"}',
    '{"op":"hello","token":42}',
    '{"op":"hello","token":"' + TOKEN + '","version":2}',
  ];
  for (const line of lines) {
    const c = await t.connect();
    await c.write(line + '\n{"op":"eval","id":2,"code":"state.touched++"}\n');
    const reply = await c.reply();
    assert.ok(reply?.type === "error", line);
    assert.equal(reply.error.name, "ProtocolError");
    assert.equal(await c.line(), null, "connection closed");
  }
  assert.equal(t.namespace.state.touched, 0);
});

Deno.test("a wrong token gets a clear error after a pause, then the connection closes", async () => {
  await using t = await startTest({ authFailureDelayMs: 300 });
  const c = await t.connect();
  const started = performance.now();
  await c.write(
    '{"op":"hello","token":"wrong-token-wrong-token"}\n{"op":"eval","id":1,"code":"state.touched++"}\n',
  );
  const reply = await c.reply();
  assert.ok(performance.now() - started >= 280);
  assert.deepEqual(reply, {
    type: "error",
    id: null,
    error: {
      name: "AuthenticationError",
      message: "Authentication failed: invalid console token",
    },
  });
  assert.equal(await c.line(), null);
  // Text mode too.
  const text = await t.connect();
  await text.write("wrong-token\nstate.touched++\n");
  assert.equal(
    await text.line(),
    "error: Authentication failed: invalid console token",
  );
  assert.equal(await text.line(), null);
  assert.equal(t.namespace.state.touched, 0);
  assert.ok(t.logs.some((line) => /refused: invalid token/.test(line)));
  assert.ok(t.logs.every((line) => !line.includes("wrong-token")));
});

Deno.test("an HTTP-looking first line is closed without an answer or evaluation", async () => {
  await using t = await startTest();
  const requests = [
    `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n\r\n${TOKEN}\nstate.touched++\n`,
    `GET /?${TOKEN} HTTP/1.0\r\n\r\n`,
    `Host: 127.0.0.1:${t.port}\r\n${TOKEN}\r\nstate.touched++\r\n`,
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    `OPTIONS * HTTP/1.1\r\n\r\n`,
  ];
  for (const request of requests) {
    const c = await t.connect();
    await c.write(request);
    assert.equal(await c.line(), null, request);
  }
  assert.equal(t.namespace.state.touched, 0);
  assert.equal(
    t.logs.filter((line) => /refused: HTTP-looking request/.test(line)).length,
    requests.length,
  );
});

Deno.test("text mode asks for the token, shows a banner and prompts, accepts CRLF", async () => {
  await using t = await startTest({ promptDelayMs: 50 });
  const c = await t.connect();
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(1024);
  const n = await c.conn.read(buffer);
  assert.equal(decoder.decode(buffer.subarray(0, n!)), "token: ");
  await c.write(`${TOKEN}\r\n`);
  assert.equal(await c.line(), "");
  assert.match(
    (await c.line())!,
    /^leakwatch console \(protocol 1\), pid \d+$/,
  );
  assert.equal(await c.line(), "In scope: main, cache, state, slow");
  assert.match((await c.line())!, /help\(\)/);
  assert.match((await c.line())!, /synchronous endless loop/);
  await c.write("let s = [1,\r\n2,\r\n3]\r\ns.length\r\n");
  // Prompt, continuation prompts, then each result after its prompt.
  assert.equal(await c.line(), ">>> ... ... undefined");
  assert.equal(await c.line(), ">>> 3");
  await c.write("console.log('hi'); throw new Error('nope')\r\n");
  assert.equal(await c.line(), ">>> hi");
  assert.equal(await c.line(), "Uncaught Error: nope");
  await c.write(".exit\r\n");
  let rest = "";
  while (true) {
    const line = await c.line();
    if (line === null) break;
    rest += line + "\n";
  }
  assert.match(rest, /^\s+at <console>:1:\d+\n>>> \n$/);
});

Deno.test("text mode with a token sent at once gets no token question", async () => {
  await using t = await startTest({ promptDelayMs: 50 });
  const c = await t.connect();
  await c.write(`${TOKEN}\n6*7\n`);
  assert.match((await c.line())!, /^leakwatch console/);
  await c.line();
  await c.line();
  await c.line();
  assert.equal(await c.line(), ">>> 42");
});

Deno.test("more sessions than the limit get a clear refusal", async () => {
  await using t = await startTest({ maxSessions: 2 });
  await t.session();
  await t.session();
  const third = await t.connect();
  const reply = await third.hello(TOKEN);
  assert.deepEqual(reply, {
    type: "error",
    id: null,
    error: {
      name: "SessionLimitError",
      message: "Too many console sessions: 2 are open, try again later",
    },
  });
  assert.equal(await third.line(), null);
  assert.equal(t.server.sessions, 2);
});

Deno.test("a client that vanishes mid-evaluation disturbs no one", async () => {
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

Deno.test("a client that sends its requests and closes its sending side still gets every answer", async () => {
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

Deno.test("fuzzed connections never break the server", async () => {
  await using t = await startTest({ authTimeoutMs: 500 });
  const random = (n: number) => {
    const bytes = new Uint8Array(n);
    for (let at = 0; at < n; at += 65536) {
      crypto.getRandomValues(bytes.subarray(at, at + 65536));
    }
    return bytes;
  };
  const attempts: Promise<void>[] = [];
  for (let i = 0; i < 40; i++) {
    attempts.push((async () => {
      const c = await t.connect();
      try {
        const kind = i % 4;
        if (kind === 0) await c.write(random(1 + (i * 97) % 5000));
        if (kind === 1) await c.write('{"op":"hello","tok');
        if (kind === 2) await c.write(random(70_000)); // over the hello limit
        if (kind === 3) {
          await c.write(`{"op":"hello","token":"${TOKEN}"}\n`);
          await c.write(random(3000));
          await c.write('\n{"op":"eval","id":1,"code":"1"}\n');
        }
        await c.conn.closeWrite().catch(() => {});
        while (await c.line(5_000).catch(() => null) !== null) {
          // Drain until the server closes.
        }
      } finally {
        c.close();
      }
    })());
  }
  await Promise.all(attempts);
  const c = await t.session();
  assert.equal(valueOf((await c.eval(1, "cache.size")).final), "2");
  assert.equal(t.namespace.state.touched, 0);
});

Deno.test("close() ends every session", async () => {
  const t = await startTest();
  const c = await t.session();
  await c.send({ op: "eval", id: 1, code: "await slow(60_000)" });
  await t.server.close();
  while (true) {
    const line = await c.line();
    if (line === null) break;
  }
  c.close();
  assert.equal(t.server.sessions, 0);
});

Deno.test("startConsoleServer() refuses a non-loopback host without an explicit token", async () => {
  await assert.rejects(
    startConsoleServer({}, { host: "0.0.0.0", port: 0 }),
    (error: Error) =>
      error instanceof ConsoleConfigError &&
      /Refusing to listen on "0\.0\.0\.0" without an explicit console token/
        .test(error.message),
  );
  await assert.rejects(
    startConsoleServer({}, { port: 0, token: "short" }),
    /at least 16 characters/,
  );
});

Deno.test("startConsoleServer() writes a generated token to an owner-only file and removes it on close", async () => {
  const home = await Deno.makeTempDir();
  const previous = Deno.env.get("HOME");
  Deno.env.set("HOME", home);
  try {
    const server = await startConsoleServer({ state: { touched: 0 } }, {
      port: 0,
      scope: () => ({}),
      log: () => {},
    });
    const file = server.tokenFile!;
    const port = (server.addr as Deno.NetAddr).port;
    assert.equal(file, `${home}/.leakwatch/console/tcp-${port}.token`);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.equal(
      (await Deno.stat(`${home}/.leakwatch/console`)).mode! & 0o777,
      0o700,
    );
    const token = (await Deno.readTextFile(file)).trim();
    assert.match(token, /^[0-9a-f]{64}$/);
    const c = await TestConnection.open(port);
    assert.equal((await c.hello(token))?.type, "hello");
    c.close();
    await server.close();
    await assert.rejects(Deno.stat(file), Deno.errors.NotFound);
  } finally {
    if (previous === undefined) Deno.env.delete("HOME");
    else Deno.env.set("HOME", previous);
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("startConsoleServer() on a unix socket restricts it to the owner (0600)", async () => {
  const path = testSocketPath();
  const namespace = { state: { touched: 0 } };
  const server = await startConsoleServer(namespace, {
    socket: path,
    token: TOKEN,
    scope: () => ({}),
    log: () => {},
  });
  try {
    assert.equal((await Deno.lstat(path)).mode! & 0o777, 0o600);
    const c = new TestConnection(
      await Deno.connect({ path, transport: "unix" }),
    );
    assert.equal((await c.hello(TOKEN))?.type, "hello");
    assert.equal(valueOf((await c.eval(1, "++state.touched")).final), "1");
    c.close();
  } finally {
    await server.close();
    await Deno.remove(path).catch(() => {});
  }
});

Deno.test("startConsoleServer() replaces a stale socket but never a live one or a file", async () => {
  const path = testSocketPath();
  const options = {
    socket: path,
    token: TOKEN,
    scope: () => ({}),
    log: () => {},
  };
  try {
    const stale = Deno.listen({ path, transport: "unix" });
    stale.close(); // leaves the socket file behind, with nobody listening
    const server = await startConsoleServer({}, options);
    await assert.rejects(
      startConsoleServer({}, options),
      /another process is listening/,
    );
    await server.close();
    await Deno.writeTextFile(path, "precious");
    await assert.rejects(
      startConsoleServer({}, options),
      /exists and is not a socket/,
    );
    assert.equal(await Deno.readTextFile(path), "precious");
  } finally {
    await Deno.remove(path).catch(() => {});
  }
});

Deno.test("tokensEqual() compares whole tokens of any length", () => {
  assert.ok(tokensEqual(TOKEN, TOKEN));
  assert.ok(!tokensEqual(TOKEN, TOKEN + "x"));
  assert.ok(!tokensEqual(TOKEN, ""));
  assert.ok(!tokensEqual("", TOKEN));
});

Deno.test("isLoopback() knows loopback hosts", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "::1", "localhost"]) {
    assert.ok(isLoopback(host), host);
  }
  for (
    const host of ["0.0.0.0", "10.0.0.1", "::", "example.com", "127.0.0.1.evil"]
  ) {
    assert.ok(!isLoopback(host), host);
  }
});

Deno.test("tokenFilePath() names a socket's file by its absolute path", () => {
  assert.equal(
    tokenFilePath({ socket: "x.sock" }),
    tokenFilePath({ socket: `${Deno.cwd()}/x.sock` }),
  );
  assert.equal(
    tokenFilePath({ socket: "/run/a/../b.sock" }),
    tokenFilePath({ socket: "/run/b.sock" }),
  );
  assert.notEqual(
    tokenFilePath({ socket: "/run/b.sock" }),
    tokenFilePath({ socket: "/run/c.sock" }),
  );
  assert.match(tokenFilePath({ port: 44444 }), /\/console\/tcp-44444\.token$/);
});
