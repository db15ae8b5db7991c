import assert from "node:assert/strict";
import { startTest, TOKEN } from "./_server.ts";

Deno.test("admit() refuses a client without a valid hello and evaluates nothing", async () => {
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
