import assert from "node:assert/strict";
import {
  connectConsole,
  type ConnectOptions,
  ConsoleClientError,
  SessionRefusedError,
} from "../../../console/client/connection.ts";
import { LineReader } from "../../../console/line_reader.ts";
import { MAX_LINE_BYTES } from "../../../console/protocol.ts";
import { proveConsole } from "../../../console/token.ts";
import { startTestConsole, TOKEN } from "./_fixture.ts";

const credentials = (token = TOKEN) => () =>
  Promise.resolve({ token, source: "--token" });

/**
 * A fake console: answers the first line with `reply` (raw text), then
 * waits for the client to leave. Disposing it closes it.
 */
function fakeConsole(
  reply: (hello: string, port: number) => string | Promise<string>,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const hellos: string[] = [];
  const served = (async () => {
    const conn = await listener.accept();
    const reader = new LineReader(conn, 1 << 20);
    const first = await reader.next();
    if (first.kind === "line") hellos.push(first.line);
    await conn.write(
      new TextEncoder().encode(await reply(hellos[0] ?? "", port)),
    );
    while ((await reader.next().catch(() => ({ kind: "eof" }))).kind !== "eof");
    conn.close();
  })();
  return {
    port,
    hellos,
    /** Connects to it with the test token and `options`. */
    connect(options: Partial<ConnectOptions> = {}) {
      return connectConsole({ host: "127.0.0.1", port }, {
        credentials: credentials(),
        ...options,
      });
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await served;
    },
  };
}

/** What a console sends before its hello: a challenge (answered unchecked by a fake). */
const CHALLENGE = JSON.stringify({ type: "challenge", nonce: "ab".repeat(32) });

/**
 * A fake's hello after its challenge, with the proof a console that knows
 * the token makes (over the client's nonce in `hello`, and the port).
 */
async function provenHello(
  hello: string,
  port: number,
  version = 3,
): Promise<string> {
  const binding = {
    serverNonce: "ab".repeat(32),
    clientNonce: JSON.parse(hello).nonce,
    endpoint: `tcp:127.0.0.1:${port}`,
  };
  return JSON.stringify({
    type: "hello",
    version,
    session: 1,
    pid: 1,
    names: ["main"],
    banner: "hi",
    proof: await proveConsole(TOKEN, binding),
  });
}

Deno.test("connectConsole() opens a session and evaluate() returns values, errors and incomplete", async () => {
  await using t = await startTestConsole();
  const connection = await t.connect();
  assert.match(connection.info.banner, /leakwatch console/);
  assert.ok(connection.info.names.includes("cache"));
  const value = await connection.evaluate("cache.size");
  assert.equal(value.kind === "value" && value.value, "2");
  const error = await connection.evaluate("throw new TypeError('boom')");
  assert.equal(error.kind, "error");
  assert.equal(error.kind === "error" && error.name, "TypeError");
  assert.match(
    error.kind === "error" ? error.text : "",
    /Uncaught TypeError: boom/,
  );
  assert.deepEqual(await connection.evaluate("[1,"), { kind: "incomplete" });
  // The session goes on after each.
  const after = await connection.evaluate("let x = 2; x * 21");
  assert.equal(after.kind === "value" && after.value, "42");
});

Deno.test("evaluate() streams the snippet's output and progress to its handlers", async () => {
  await using t = await startTestConsole();
  const connection = await t.connect();
  const seen: string[] = [];
  const outcome = await connection.evaluate(
    "console.log('out'); console.error('err'); await work(2)",
    {
      output: (stream, text) => seen.push(`${stream}:${text}`),
      progress: (label, done, total) => seen.push(`${label} ${done}/${total}`),
    },
  );
  assert.equal(outcome.kind === "value" && outcome.value, "2");
  assert.deepEqual(seen, [
    "stdout:out\n",
    "stderr:err\n",
    "work 0/2",
    "work 1/2",
    "work 2/2",
  ]);
});

Deno.test("output of work a snippet left running goes to the background handlers", async () => {
  await using t = await startTestConsole();
  const connection = await t.connect();
  const { promise, resolve } = Promise.withResolvers<string>();
  connection.background = { output: (_stream, text) => resolve(text) };
  const outcome = await connection.evaluate(
    "setTimeout(() => console.log('later'), 20); 1",
  );
  assert.equal(outcome.kind === "value" && outcome.value, "1");
  assert.equal(await promise, "later\n");
});

Deno.test("complete() returns the console's candidates and where they start", async () => {
  await using t = await startTestConsole();
  const connection = await t.connect();
  assert.deepEqual(await connection.complete("cache.si"), {
    candidates: ["size"],
    start: 6,
  });
  const bare = await connection.complete("x = ca");
  assert.equal(bare.start, 4);
  assert.ok(bare.candidates.includes("cache"));
});

Deno.test("interrupt() stops a pending evaluation, which ends as Interrupted", async () => {
  await using t = await startTestConsole();
  const connection = await t.connect();
  assert.equal(await connection.interrupt(), false); // nothing pending
  const pending = connection.evaluate("await slow(10_000)");
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(await connection.interrupt(), true);
  const outcome = await pending;
  assert.equal(outcome.kind === "error" && outcome.name, "Interrupted");
  assert.equal(outcome.kind === "error" && outcome.text, "Interrupted");
});

Deno.test("evaluate() refuses code over the line limit without sending it", async () => {
  await using t = await startTestConsole();
  const connection = await t.connect();
  await assert.rejects(
    connection.evaluate(`"${"x".repeat(MAX_LINE_BYTES)}"`),
    (error: Error) =>
      error instanceof RangeError &&
      /over the console's 1048576-byte line limit: not sent/.test(
        error.message,
      ),
  );
  // Escapes count: a quote is two bytes on the wire.
  await assert.rejects(
    connection.evaluate('"'.repeat(MAX_LINE_BYTES / 2 + 1)),
    RangeError,
  );
  const after = await connection.evaluate("1");
  assert.equal(after.kind === "value" && after.value, "1");
});

Deno.test("connectConsole() reports a wrong token and a full console as refusals", async () => {
  await using t = await startTestConsole({ maxSessions: 1 });
  await assert.rejects(
    connectConsole({ host: "127.0.0.1", port: t.port }, {
      credentials: credentials("wrong-token-0123456789"),
    }),
    (error: Error) =>
      error instanceof SessionRefusedError &&
      error.error.name === "AuthenticationError" &&
      error.message ===
        `authentication failed at 127.0.0.1:${t.port}: invalid console token (from --token)`,
  );
  await t.connect();
  await assert.rejects(
    connectConsole({ host: "127.0.0.1", port: t.port }, {
      credentials: credentials(),
    }),
    (error: Error) =>
      error instanceof SessionRefusedError &&
      /^the console at 127\.0\.0\.1:\d+ is full: Too many console sessions/
        .test(error.message),
  );
});

Deno.test("connectConsole() says it cannot connect, naming the address", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close(); // nobody listens there now
  let asked = false;
  await assert.rejects(
    connectConsole({ host: "127.0.0.1", port }, {
      credentials: () => {
        asked = true;
        return credentials()();
      },
    }),
    (error: Error) =>
      error instanceof ConsoleClientError &&
      error.message ===
        `cannot connect to 127.0.0.1:${port}: connection refused (is the service running?)`,
  );
  assert.equal(asked, false, "the token is looked for only once connected");
});

Deno.test("connectConsole() skips a token prompt before the hello and sends colors when asked", async () => {
  await using fake = fakeConsole(async (hello, port) =>
    `token: ${CHALLENGE}\n${await provenHello(hello, port)}\n`
  );
  const connection = await fake.connect({ colors: true });
  assert.equal(connection.info.banner, "hi");
  const hello = JSON.parse(fake.hellos[0]!);
  assert.match(hello.nonce, /^[0-9a-f]{64}$/);
  assert.deepEqual(hello, {
    op: "hello",
    version: 3,
    nonce: hello.nonce,
    colors: true,
  });
  await connection.close();
});

Deno.test("connectConsole() refuses a console of another protocol version", async () => {
  await using fake = fakeConsole(async (hello, port) =>
    CHALLENGE + "\n" + await provenHello(hello, port, 4) + "\n"
  );
  await assert.rejects(
    fake.connect(),
    (error: Error) =>
      error instanceof ConsoleClientError &&
      error.message ===
        `protocol version mismatch: the console at 127.0.0.1:${fake.port} speaks version 4, this client speaks 3 (this client is older than the service: update it)`,
  );
  // A version 2 console refuses the hello, naming the version it speaks.
  await using older = fakeConsole(() =>
    JSON.stringify({
      type: "error",
      id: null,
      error: {
        name: "ProtocolError",
        message: "Unsupported protocol version 3: this server speaks 2",
      },
    }) + "\n"
  );
  await assert.rejects(
    older.connect(),
    (error: Error) =>
      error instanceof ConsoleClientError &&
      error.message ===
        `protocol version mismatch: the console at 127.0.0.1:${older.port} speaks version 2, this client speaks 3 (the service is older than this client: update it, or use its own client)`,
  );
});

Deno.test("connectConsole() reports a server that is not a console", async () => {
  await using fake = fakeConsole(() => "HTTP/1.1 400 Bad Request\r\n\r\n");
  await assert.rejects(
    fake.connect(),
    /unexpected answer from 127\.0\.0\.1:\d+: "HTTP\/1\.1 400 Bad Request" \(is it a leakwatch console\?\)/,
  );
});

Deno.test("connectConsole() gives up on a server that never answers", async () => {
  await using fake = fakeConsole(() => "");
  await assert.rejects(
    fake.connect({ helloTimeoutMs: 50 }),
    /no answer from 127\.0\.0\.1:\d+ within 50 ms/,
  );
});

Deno.test("a connection lost mid-evaluation fails the evaluation with a clear error", async () => {
  await using t = await startTestConsole();
  const connection = await t.connect();
  const pending = connection.evaluate("await slow(10_000)");
  await new Promise((resolve) => setTimeout(resolve, 50));
  await t.stopServer();
  await assert.rejects(
    pending,
    (error: Error) =>
      error instanceof ConsoleClientError &&
      error.message ===
        `the console at 127.0.0.1:${t.port} closed the connection`,
  );
  const reason = await connection.finished();
  assert.match(reason?.message ?? "", /closed the connection/);
  await assert.rejects(connection.evaluate("1"), /closed the connection/);
});
