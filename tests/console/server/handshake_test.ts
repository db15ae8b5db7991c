import assert from "node:assert/strict";
import { connectConsole } from "../../../console/client/connection.ts";
import { answerChallenge } from "../../../console/token.ts";
import { valueOf } from "../_console_client.ts";
import { startTest, TOKEN } from "./_server.ts";

Deno.test("admit() refuses a client without a valid hello and evaluates nothing", async () => {
  await using t = await startTest();
  const lines = [
    '{"op":"eval","id":1,"code":"state.touched++"}',
    '{"op":"hello","token":42}',
    '{"op":"hello","token":"' + TOKEN + '","version":3}',
    '{"op":"hello","version":1}',
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

Deno.test("admit() answers a wrong token with a clear error after a pause, then closes", async () => {
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

Deno.test("admit() closes an HTTP-looking first line without an answer or evaluation", async () => {
  await using t = await startTest();
  const requests = [
    `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n\r\n${TOKEN}\nstate.touched++\n`,
    `GET /?${TOKEN} HTTP/1.0\r\n\r\n`,
    `Host: 127.0.0.1:${t.port}\r\n${TOKEN}\r\nstate.touched++\r\n`,
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    `OPTIONS * HTTP/1.1\r\n\r\n`,
    `M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\r\n`,
    `X1 / HTTP/1.1\r\n\r\n${TOKEN}\r\n`,
  ];
  for (const request of requests) {
    const c = await t.connect();
    await c.write(request);
    assert.equal(await c.line(), null, request);
  }
  assert.equal(t.namespace.state.touched, 0);
  // Refusals past five in ten seconds are counted in a summary line.
  assert.equal(
    t.logs.filter((line) => /refused: HTTP-looking request/.test(line)).length,
    5,
  );
  await t.server.close();
  assert.ok(
    t.logs.some((line) =>
      line.endsWith(`(HTTP-looking request: ${requests.length - 5})`)
    ),
    t.logs.join("\n"),
  );
});

Deno.test("admit() refuses more sessions than the limit with a clear error", async () => {
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

Deno.test("admit() opens a JSON session by challenge–response with a fresh nonce each time", async () => {
  await using t = await startTest();
  const nonces = [];
  for (let i = 0; i < 2; i++) {
    const c = await t.connect();
    await c.send({ op: "hello", version: 2 });
    const challenge = await c.reply();
    assert.ok(challenge?.type === "challenge");
    assert.match(challenge.nonce, /^[0-9a-f]{64}$/);
    nonces.push(challenge.nonce);
    await c.send({
      op: "auth",
      answer: await answerChallenge(TOKEN, challenge.nonce),
    });
    assert.equal((await c.reply())?.type, "hello");
    assert.equal(valueOf((await c.eval(1, "cache.size")).final), "2");
  }
  assert.notEqual(nonces[0], nonces[1]);
});

Deno.test("admit() refuses a wrong, replayed or malformed answer to the challenge", async () => {
  await using t = await startTest();
  const challenged = async () => {
    const c = await t.connect();
    await c.send({ op: "hello", version: 2 });
    const challenge = await c.reply();
    assert.ok(challenge?.type === "challenge");
    return { c, nonce: challenge.nonce };
  };
  const evalLine = '{"op":"eval","id":1,"code":"state.touched++"}\n';
  // Keyed with another token.
  const wrong = await challenged();
  await wrong.c.send({
    op: "auth",
    answer: await answerChallenge("another-token-0123456789", wrong.nonce),
  });
  await wrong.c.write(evalLine);
  const refused = await wrong.c.reply();
  assert.ok(refused?.type === "error");
  assert.equal(refused.error.name, "AuthenticationError");
  assert.equal(await wrong.c.line(), null);
  // A valid answer to another connection's nonce.
  const first = await challenged();
  const second = await challenged();
  await second.c.send({
    op: "auth",
    answer: await answerChallenge(TOKEN, first.nonce),
  });
  const replayed = await second.c.reply();
  assert.ok(replayed?.type === "error");
  assert.equal(replayed.error.name, "AuthenticationError");
  // Not an answer at all.
  for (
    const line of [
      '{"op":"eval","id":1,"code":"state.touched++"}',
      '{"op":"auth","answer":"xyz"}',
      "not json",
    ]
  ) {
    const { c } = await challenged();
    await c.write(line + "\n" + evalLine);
    const reply = await c.reply();
    assert.ok(reply?.type === "error", line);
    assert.equal(reply.error.name, "ProtocolError", line);
    assert.equal(await c.line(), null);
  }
  assert.equal(t.namespace.state.touched, 0);
  assert.ok(
    t.logs.some((line) => /refused: bad answer to the challenge/.test(line)),
  );
});

Deno.test("admit() takes the token itself in a hello, for a script through nc", async () => {
  await using t = await startTest();
  const c = await t.connect();
  assert.equal((await c.helloWithToken(TOKEN))?.type, "hello");
  const wrong = await t.connect();
  const refused = await wrong.helloWithToken("wrong-token-wrong-token");
  assert.ok(refused?.type === "error");
  assert.equal(refused.error.name, "AuthenticationError");
});

/**
 * A process squatting a port: records every byte the client sends and
 * answers its first line with `answer` (raw text).
 */
function squatter(answer: (line: string) => string | undefined) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received: Uint8Array[] = [];
  const served = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(64 * 1024);
    let answered = false;
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        received.push(buffer.slice(0, n));
        const text = new TextDecoder().decode(received[0]);
        if (!answered && text.includes("\n")) {
          answered = true;
          const reply = answer(text.slice(0, text.indexOf("\n")));
          if (reply !== undefined) {
            await conn.write(new TextEncoder().encode(reply));
          }
        }
      }
    } catch {
      // The client hung up.
    }
    conn.close();
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get text() {
      return received.map((chunk) => new TextDecoder().decode(chunk)).join("");
    },
    async close() {
      listener.close();
      await served;
    },
  };
}

Deno.test("connectConsole() sends nothing a process squatting the port could use as the token", async () => {
  const challenge = JSON.stringify({
    type: "challenge",
    nonce: "00".repeat(32),
  });
  const cases: [string, (line: string) => string | undefined, RegExp][] = [
    // Plays the console: asks, gets an HMAC of its own nonce, refuses.
    [
      "challenges",
      () =>
        challenge + "\n" +
        JSON.stringify({
          type: "error",
          id: null,
          error: { name: "AuthenticationError", message: "no" },
        }) + "\n",
      /authentication failed/,
    ],
    // Opens a "session" without asking: the client refuses it.
    [
      "skips the challenge",
      () =>
        JSON.stringify({
          type: "hello",
          version: 2,
          session: 1,
          pid: 1,
          names: [],
          banner: "",
        }) + "\n",
      /without checking the token/,
    ],
    // Says nothing.
    ["stays silent", () => undefined, /no answer/],
  ];
  for (const [name, answer, refusal] of cases) {
    const fake = squatter(answer);
    try {
      await assert.rejects(
        connectConsole({ host: "127.0.0.1", port: fake.port }, {
          credentials: () => Promise.resolve({ token: TOKEN, source: "test" }),
          helloTimeoutMs: 300,
        }),
        refusal,
        name,
      );
    } finally {
      await fake.close();
    }
    assert.ok(fake.text.startsWith('{"op":"hello"'), name);
    assert.ok(!fake.text.includes(TOKEN), `${name}: ${fake.text}`);
    assert.ok(!fake.text.includes("token"), `${name}: ${fake.text}`);
  }
});

Deno.test("admit() logs what a client sent escaped: no forged log lines", async () => {
  await using t = await startTest();
  const c = await t.connect();
  await c.send({
    op: "hello",
    version: "2\nconsole session 99 from 10.0.0.1:1 opened (json)\u001b[2J",
  });
  const reply = await c.reply();
  assert.ok(reply?.type === "error");
  assert.equal(reply.error.name, "ProtocolError");
  assert.equal(await c.line(), null);
  const refusal = t.logs.find((line) => line.includes("refused: bad hello"));
  assert.ok(refusal !== undefined, t.logs.join("\n"));
  assert.ok(refusal.includes("\\nconsole session 99"), refusal);
  assert.ok(refusal.includes("\\u001b[2J"), refusal);
  for (const line of t.logs) {
    // deno-lint-ignore no-control-regex
    assert.ok(!/[\u0000-\u001f\u007f]/.test(line), JSON.stringify(line));
    assert.ok(!line.startsWith("console session 99"));
  }
});
