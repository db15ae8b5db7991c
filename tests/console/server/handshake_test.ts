import assert from "node:assert/strict";
import { relative } from "node:path";
import {
  connectConsole,
  SessionRefusedError,
} from "../../../console/client/connection.ts";
import {
  type ConsoleAddress,
  describeAddress,
} from "../../../console/client/flags.ts";
import { startConsoleServer } from "../../../console/server/listener.ts";
import {
  answerChallenge,
  createNonce,
  verifyConsoleProof,
} from "../../../console/token.ts";
import { type TestConnection, valueOf } from "../_console_client.ts";
import { startRelay } from "../_relay.ts";
import { startTest, testNamespace, testSocketPath, TOKEN } from "./_server.ts";

/**
 * Says a version 3 hello on `c` and reads the challenge.
 *
 * @returns Both nonces and the endpoint `c` dialled.
 */
async function challenged(c: TestConnection) {
  const clientNonce = createNonce();
  await c.send({ op: "hello", version: 3, nonce: clientNonce });
  const challenge = await c.reply();
  assert.ok(challenge?.type === "challenge", JSON.stringify(challenge));
  assert.match(challenge.nonce, /^[0-9a-f]{64}$/);
  return {
    serverNonce: challenge.nonce,
    clientNonce,
    endpoint: await c.endpoint(),
  };
}

Deno.test("admit() refuses a client without a valid hello and evaluates nothing", async () => {
  await using t = await startTest();
  const lines = [
    '{"op":"eval","id":1,"code":"state.touched++"}',
    '{"op":"hello","token":42}',
    '{"op":"hello","token":"' + TOKEN + '","version":4}',
    '{"op":"hello","version":1}',
    '{"op":"hello","version":2}',
    '{"op":"hello","version":3}',
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

Deno.test("admit() opens a JSON session by challenge–response with a fresh nonce each time, and proves it knows the token", async () => {
  await using t = await startTest();
  const nonces = [];
  for (let i = 0; i < 2; i++) {
    const c = await t.connect();
    const binding = await challenged(c);
    assert.equal(binding.endpoint, `tcp:127.0.0.1:${t.port}`);
    nonces.push(binding.serverNonce);
    await c.send({
      op: "auth",
      endpoint: binding.endpoint,
      answer: await answerChallenge(TOKEN, binding),
    });
    const hello = await c.reply();
    assert.ok(hello?.type === "hello");
    assert.equal(hello.version, 3);
    assert.ok(await verifyConsoleProof(TOKEN, binding, hello.proof!));
    assert.ok(
      !await verifyConsoleProof(
        "another-token-0123456789",
        binding,
        hello.proof!,
      ),
    );
    assert.equal(valueOf((await c.eval(1, "cache.size")).final), "2");
  }
  assert.notEqual(nonces[0], nonces[1]);
});

Deno.test("admit() refuses a wrong, replayed, rebound or malformed answer to the challenge", async () => {
  await using t = await startTest();
  const evalLine = '{"op":"eval","id":1,"code":"state.touched++"}\n';
  const refusedWith = async (c: TestConnection, name: string) => {
    const reply = await c.reply();
    assert.ok(reply?.type === "error", JSON.stringify(reply));
    assert.equal(reply.error.name, name, reply.error.message);
    assert.equal(await c.line(), null);
    return reply.error.message;
  };
  // Keyed with another token.
  const wrong = await t.connect();
  const wrongBinding = await challenged(wrong);
  await wrong.send({
    op: "auth",
    endpoint: wrongBinding.endpoint,
    answer: await answerChallenge("another-token-0123456789", wrongBinding),
  });
  await wrong.write(evalLine);
  assert.equal(
    await refusedWith(wrong, "AuthenticationError"),
    "Authentication failed: invalid console token",
  );
  // A valid answer to another connection's nonces.
  const first = await t.connect();
  const firstBinding = await challenged(first);
  const second = await t.connect();
  const secondBinding = await challenged(second);
  await second.send({
    op: "auth",
    endpoint: secondBinding.endpoint,
    answer: await answerChallenge(TOKEN, firstBinding),
  });
  await refusedWith(second, "AuthenticationError");
  // The right answer for the endpoint it names, with the endpoint field
  // rewritten (as a relay would, to pass it on): the answer no longer fits.
  const rebound = await t.connect();
  const reboundBinding = await challenged(rebound);
  await rebound.send({
    op: "auth",
    endpoint: reboundBinding.endpoint,
    answer: await answerChallenge(TOKEN, {
      ...reboundBinding,
      endpoint: "tcp:127.0.0.1:1",
    }),
  });
  assert.equal(
    await refusedWith(rebound, "AuthenticationError"),
    "Authentication failed: invalid console token",
  );
  // The right answer for another endpoint, said openly: refused, naming both.
  const elsewhere = await t.connect();
  const elsewhereBinding = {
    ...await challenged(elsewhere),
    endpoint: "tcp:127.0.0.1:1",
  };
  await elsewhere.send({
    op: "auth",
    endpoint: elsewhereBinding.endpoint,
    answer: await answerChallenge(TOKEN, elsewhereBinding),
  });
  assert.equal(
    await refusedWith(elsewhere, "AuthenticationError"),
    `Authentication failed: the client dialled 127.0.0.1:1, but this console is 127.0.0.1:${t.port}: something in between passed the connection on`,
  );
  // Not an answer at all.
  for (
    const line of [
      '{"op":"eval","id":1,"code":"state.touched++"}',
      '{"op":"auth","answer":"xyz"}',
      `{"op":"auth","answer":"${"0".repeat(64)}"}`,
      "not json",
    ]
  ) {
    const c = await t.connect();
    await challenged(c);
    await c.write(line + "\n" + evalLine);
    await refusedWith(c, "ProtocolError");
  }
  assert.equal(t.namespace.state.touched, 0);
  assert.ok(
    t.logs.some((line) => /refused: bad answer to the challenge/.test(line)),
  );
  assert.ok(
    t.logs.some((line) =>
      line.endsWith(
        `refused: answer for another address (dialled 127.0.0.1:1, this console is 127.0.0.1:${t.port}: a relay in between)`,
      )
    ),
    t.logs.join("\n"),
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
  // A session as a console opens it, but by a process that cannot prove it
  // knows the token.
  const fakeHello = {
    type: "hello",
    version: 3,
    session: 1,
    pid: 1,
    names: [],
    banner: "",
  };
  const unprovenHello = JSON.stringify({
    ...fakeHello,
    proof: "00".repeat(32),
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
      () => JSON.stringify(fakeHello) + "\n",
      /without checking the token/,
    ],
    // Plays the console through the challenge, then opens a "session" it
    // cannot prove: the client refuses it before sending anything more.
    [
      "cannot prove it knows the token",
      () => challenge + "\n" + unprovenHello + "\n",
      /did not prove it knows the token/,
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

Deno.test("a relay on another address gets no session: TCP to TCP, TCP to a unix socket, unix socket to unix socket", async () => {
  const namespace = testNamespace();
  const logs: string[] = [];
  const options = { token: TOKEN, log: (line: string) => logs.push(line) };
  const tcp = await startConsoleServer(namespace, { port: 0, ...options });
  const socket = testSocketPath();
  const unix = await startConsoleServer(namespace, { socket, ...options });
  const tcpPort = String((tcp.addr as Deno.NetAddr).port);
  // Where the operator would dial: a path the tests may connect to.
  const operatorSocket = `${Deno.env.get("HOME")}/.leakwatch/console.sock`;
  await Deno.mkdir(`${Deno.env.get("HOME")}/.leakwatch`, { recursive: true });
  const connect = (address: ConsoleAddress) =>
    connectConsole(address, {
      credentials: () => Promise.resolve({ token: TOKEN, source: "test" }),
    });
  try {
    const cases: [string, string, string, ConsoleAddress | undefined][] = [
      ["TCP to TCP", "0", tcpPort, undefined],
      ["TCP to a unix socket", "0", socket, undefined],
      ["unix socket to unix socket", operatorSocket, socket, {
        socket: operatorSocket,
      }],
    ];
    for (const [name, listen, to, dialled] of cases) {
      await using relay = await startRelay(listen, to);
      const address = dialled ??
        { host: "127.0.0.1", port: Number(relay.listening) };
      const here = /^\d+$/.test(to) ? `127.0.0.1:${to}` : socket;
      await assert.rejects(
        connect(address),
        (error: Error) =>
          error instanceof SessionRefusedError &&
          error.error.name === "AuthenticationError" &&
          error.message ===
            `authentication failed at ${
              describeAddress(address)
            }: the client dialled ${
              describeAddress(address)
            }, but this console is ${here}: something in between passed the connection on`,
        name,
      );
      await relay.output.waitFor(/^relayed 1$/);
      await Deno.remove(operatorSocket).catch(() => {});
    }
    assert.equal(namespace.state.touched, 0);
    assert.equal(
      logs.filter((line) => /refused: answer for another address/.test(line))
        .length,
      3,
      logs.join("\n"),
    );
    // The same consoles, dialled directly, or through a symbolic link or a
    // relative path to the socket: no relay, so a session.
    await Deno.symlink(socket, operatorSocket);
    const relativePath = relative(Deno.cwd(), socket);
    assert.ok(!relativePath.startsWith("/"), relativePath);
    for (
      const address of [
        { host: "127.0.0.1", port: Number(tcpPort) },
        { socket },
        { socket: operatorSocket },
        { socket: relativePath },
      ]
    ) {
      const connection = await connect(address);
      const outcome = await connection.evaluate("++state.touched");
      assert.equal(outcome.kind, "value", describeAddress(address));
      await connection.close();
    }
  } finally {
    await Deno.remove(operatorSocket).catch(() => {});
    await tcp.close();
    await unix.close();
  }
});

Deno.test("admit() throttles wrong tokens across connections: past the budget, attempts are refused unchecked", async () => {
  await using t = await startTest({
    authFailureDelayMs: 300,
    // 4 failures, then one per 100 s: nothing refills within the test.
    authThrottle: { burst: 4, perSecond: 0.01 },
  });
  // Eight connections at a time, each guessing in one of the three ways a
  // token is presented, none waiting for the verdict of the others.
  const guess = async (i: number) => {
    const c = await t.connect();
    try {
      const wrong = `wrong-token-${i}-${crypto.randomUUID()}`;
      if (i % 3 === 0) {
        await c.write(wrong + "\n");
        const line = await c.line();
        return line?.startsWith("error: Too many failed")
          ? "AuthenticationThrottledError"
          : line?.startsWith("error: Authentication failed")
          ? "AuthenticationError"
          : line;
      }
      const reply = i % 3 === 1
        ? await c.helloWithToken(wrong)
        : await c.hello(wrong);
      return reply?.type === "error" ? reply.error.name : reply?.type;
    } finally {
      c.close();
    }
  };
  const verdicts: (string | null | undefined)[] = [];
  for (let round = 0; round < 5; round++) {
    verdicts.push(
      ...await Promise.all(
        Array.from({ length: 8 }, (_, j) => guess(round * 8 + j)),
      ),
    );
  }
  assert.equal(
    verdicts.filter((v) => v === "AuthenticationError").length,
    4,
    verdicts.join(" "),
  );
  assert.equal(
    verdicts.filter((v) => v === "AuthenticationThrottledError").length,
    36,
  );
  // Past the budget, even the right token is not checked: on loopback
  // every local user is one peer (docs/security.md).
  const operator = await t.connect();
  const refused = await operator.hello(TOKEN);
  assert.ok(refused?.type === "error");
  assert.deepEqual(refused.error, {
    name: "AuthenticationThrottledError",
    message:
      "Too many failed authentications from this machine: try again in 100 s",
  });
  assert.equal(t.namespace.state.touched, 0);
  // Logged as what they are, apart from other refusals, without a flood:
  // five lines, then counts.
  await t.server.close();
  const lines = (ending: string) =>
    t.logs.filter((line) => line.endsWith(ending)).length;
  const counted = (reason: string) =>
    t.logs.map((line) =>
      Number(line.match(new RegExp(`${reason}: (\\d+)`))?.[1] ?? 0)
    ).reduce((a, b) => a + b, 0);
  assert.equal(
    lines("refused: invalid token") + counted("invalid token"),
    4,
    t.logs.join("\n"),
  );
  assert.equal(
    lines(
      "refused: authentication throttled (too many failures from loopback)",
    ) + counted("authentication throttled"),
    37,
    t.logs.join("\n"),
  );
  assert.equal(t.logs.length, 6, t.logs.join("\n"));
  assert.ok(!t.logs.some((line) => /too many unauthenticated/.test(line)));
});

Deno.test("admit() spends the failure budget on wrong tokens only: right ones give theirs back", async () => {
  await using t = await startTest({
    authThrottle: { burst: 2, perSecond: 0.01 },
  });
  const outcome = async (token: string) => {
    const c = await t.connect();
    const reply = await c.hello(token);
    c.close();
    return reply?.type === "error" ? reply.error.name : reply?.type;
  };
  const wrong = "wrong-token-wrong-token";
  assert.deepEqual(
    [
      await outcome(wrong),
      await outcome(TOKEN),
      await outcome(TOKEN),
      await outcome(wrong),
      await outcome(TOKEN),
    ],
    [
      "AuthenticationError",
      "hello",
      "hello",
      "AuthenticationError",
      "AuthenticationThrottledError",
    ],
  );
});
