/**
 * The WebSocket link against a scripted inspector (a real WebSocket server
 * on port 0) that answers, errs, floods, lies and hangs up.
 */

import assert from "node:assert/strict";
import {
  connectWebSocketLink,
  InspectorCommandError,
  InspectorLinkError,
} from "../../../console/attach/websocket_link.ts";

type Script = (
  socket: WebSocket,
  message: { id: number; method: string; params: unknown },
) => void;

/** A WebSocket server on 127.0.0.1:0 that answers each command with `script`. */
function scriptedInspector(script: Script) {
  const controller = new AbortController();
  const sockets: WebSocket[] = [];
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: controller.signal,
    onListen() {},
  }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    sockets.push(socket);
    socket.onmessage = (event) => script(socket, JSON.parse(event.data));
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}/target`,
    sockets,
    async close() {
      for (const socket of sockets) {
        try {
          socket.close();
        } catch {
          // Closed.
        }
      }
      controller.abort();
      await server.finished;
    },
  };
}

Deno.test("WebSocketLink.post() resolves with the result, rejects with the inspector's error, and routes events to listeners", async () => {
  const inspector = scriptedInspector((socket, { id, method }) => {
    if (method === "Fails") {
      socket.send(
        JSON.stringify({ id, error: { code: -32000, message: "nope" } }),
      );
      return;
    }
    socket.send(JSON.stringify({ method: "Some.event", params: { n: 1 } }));
    socket.send(JSON.stringify({ id, result: { echoed: method } }));
  });
  const link = await connectWebSocketLink(inspector.url);
  try {
    const events: unknown[] = [];
    const stop = link.listen("Some.event", (params) => events.push(params));
    link.listen("Some.event", () => {
      throw new Error("a broken handler does not stop the others");
    });
    assert.deepEqual(await link.post("Echo.this"), { echoed: "Echo.this" });
    await assert.rejects(
      link.post("Fails"),
      (error) =>
        error instanceof InspectorCommandError && error.code === -32000 &&
        error.message === "Inspector Fails failed: nope",
    );
    assert.deepEqual(events, [{ n: 1 }]);
    stop();
    await link.post("Again");
    assert.equal(events.length, 1);
  } finally {
    link.close();
    await inspector.close();
  }
});

Deno.test("WebSocketLink ignores malformed and unknown messages, and a command that is never answered times out with one line", async () => {
  const inspector = scriptedInspector((socket, { id, method }) => {
    socket.send("not json at all");
    socket.send(JSON.stringify([1, 2, 3]));
    socket.send(JSON.stringify({ id: 999_999, result: {} })); // nobody asked
    socket.send(new Uint8Array([1, 2, 3])); // the protocol is text
    if (method !== "Never") {
      socket.send(JSON.stringify({ id, result: { ok: true } }));
    }
  });
  const link = await connectWebSocketLink(inspector.url, { timeoutMs: 300 });
  try {
    assert.deepEqual(await link.post("Fine"), { ok: true });
    await assert.rejects(
      link.post("Never"),
      (error) =>
        error instanceof InspectorLinkError &&
        /did not answer Never within 300 ms$/.test(error.message),
    );
    // The link is still good after a timeout.
    assert.deepEqual(await link.post("Fine"), { ok: true });
    assert.equal(link.closed, false);
  } finally {
    link.close();
    await inspector.close();
  }
});

Deno.test("WebSocketLink ends, failing every pending command, when the inspector sends a message over the limit", async () => {
  const inspector = scriptedInspector((socket, { id, method }) => {
    if (method === "Huge") {
      socket.send(
        JSON.stringify({ id, result: { blob: "x".repeat(200_000) } }),
      );
    }
  });
  const link = await connectWebSocketLink(inspector.url, {
    maxMessageChars: 100_000,
    name: "the test inspector",
  });
  try {
    const waiting = assert.rejects(
      link.post("Silent"),
      /over the 100000-character limit/,
    );
    await assert.rejects(
      link.post("Huge"),
      /the test inspector sent a message of \d+ characters, over the 100000-character limit: disconnected/,
    );
    await waiting;
    assert.equal(link.closed, true);
    await assert.rejects(link.post("After"), /over the 100000-character limit/);
    assert.match(String((await link.finished())?.message), /over the/);
  } finally {
    link.close();
    await inspector.close();
  }
});

Deno.test("WebSocketLink: the inspector hanging up fails the pending command with a clean error; close() is idempotent", async () => {
  const inspector = scriptedInspector((socket) => socket.close());
  const link = await connectWebSocketLink(inspector.url, {
    name: "pid 42's inspector",
  });
  try {
    await assert.rejects(
      link.post("Runtime.evaluate", { expression: "1" }),
      (error) =>
        error instanceof InspectorLinkError &&
        /^pid 42's inspector closed the connection$|^the connection to pid 42's inspector failed/
          .test(error.message),
    );
    assert.equal(link.closed, true);
  } finally {
    link.close();
    link.close();
    await inspector.close();
  }
});

Deno.test("connectWebSocketLink() refuses a port where nothing listens, and a server that never upgrades, within its deadline", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  await assert.rejects(
    connectWebSocketLink(`ws://127.0.0.1:${port}/x`, { name: "nobody" }),
    (error) =>
      error instanceof InspectorLinkError &&
      /^cannot connect to nobody: /.test(error.message),
  );
  // Accepts the TCP connection and says nothing.
  const mute = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of mute) held.push(conn);
  })();
  try {
    const started = performance.now();
    await assert.rejects(
      connectWebSocketLink(
        `ws://127.0.0.1:${(mute.addr as Deno.NetAddr).port}/x`,
        {
          connectTimeoutMs: 300,
          name: "the mute server",
        },
      ),
      /^InspectorLinkError: cannot connect to the mute server: no answer within 300 ms$/,
    );
    assert.ok(performance.now() - started < 5_000);
  } finally {
    mute.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
  }
});
