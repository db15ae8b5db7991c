/**
 * `--inspect` parsing and `/json/list` reading against hostile input: too
 * long, malformed, wrong types, an answer that is too big, too slow, or
 * points elsewhere.
 */

import assert from "node:assert/strict";
import {
  findInspectorTarget,
  parseInspectArgument,
  pickTarget,
} from "../../../console/attach/inspector_endpoint.ts";
import { InspectorLinkError } from "../../../console/attach/websocket_link.ts";
import { UsageError } from "../../../console/flags.ts";

Deno.test("parseInspectArgument() takes HOST:PORT, [IPV6]:PORT, PORT and ws:// URLs, and refuses the rest with a usage error", () => {
  assert.deepEqual(parseInspectArgument("127.0.0.1:9230"), {
    host: "127.0.0.1",
    port: 9230,
  });
  assert.deepEqual(parseInspectArgument("localhost:9230"), {
    host: "localhost",
    port: 9230,
  });
  for (
    const bad of [
      "",
      ":",
      "host:",
      "host:0",
      "host:65536",
      "host:-1",
      "a b:1",
      "[::1:9229",
      "wss://127.0.0.1:9229/x",
      "http://127.0.0.1:9229/",
      "ws://[zz]/",
      "9".repeat(3000),
      "1.2.3.4:9229\n",
    ]
  ) {
    assert.throws(
      () => parseInspectArgument(bad),
      UsageError,
      JSON.stringify(bad),
    );
  }
});

Deno.test("pickTarget() picks Deno's main worker, rebuilds the URL on the address asked, and refuses answers that are not a target list", () => {
  const address = { host: "127.0.0.1", port: 9229 };
  const list = JSON.stringify([
    {
      id: "worker-1",
      title: "deno - worker [pid: 7]",
      webSocketDebuggerUrl: "ws://x/worker-1",
    },
    {
      id: "main-1",
      title: "deno - main [pid: 7]",
      url: "file:///app.ts",
      webSocketDebuggerUrl: "ws://x/main-1",
    },
  ]);
  const target = pickTarget(list, address, "it");
  assert.equal(target.url, "ws://127.0.0.1:9229/main-1");
  assert.equal(target.scriptUrl, "file:///app.ts");
  for (
    const hostile of [
      "",
      "{}",
      "null",
      "[1,2]",
      JSON.stringify([{ id: "../../etc", webSocketDebuggerUrl: "ws://x" }]),
      JSON.stringify([{ id: 5, webSocketDebuggerUrl: "ws://x" }]),
      JSON.stringify([{ id: "a".repeat(500), webSocketDebuggerUrl: "ws://x" }]),
      JSON.stringify([{ id: "ok" }]),
    ]
  ) {
    assert.throws(
      () => pickTarget(hostile, address, "it"),
      InspectorLinkError,
      hostile,
    );
  }
});

/** An HTTP server on port 0 answering /json/list with `handler`. */
function server(handler: (request: Request) => Response | Promise<Response>) {
  const controller = new AbortController();
  const http = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: controller.signal,
    onListen() {},
  }, handler);
  return {
    address: { host: "127.0.0.1", port: http.addr.port },
    async close() {
      controller.abort();
      await http.finished;
    },
  };
}

Deno.test("findInspectorTarget() refuses an answer over 256 KiB, an HTTP error, a redirect and a server too slow, each in one line", async () => {
  const huge = server(() => new Response("[" + " ".repeat(300 * 1024) + "]"));
  try {
    await assert.rejects(
      findInspectorTarget(huge.address),
      /an answer over 262144 bytes/,
    );
  } finally {
    await huge.close();
  }
  const missing = server(() => new Response("no", { status: 404 }));
  try {
    await assert.rejects(findInspectorTarget(missing.address), /HTTP 404/);
  } finally {
    await missing.close();
  }
  const redirect = server(() =>
    Response.redirect("http://127.0.0.1:1/json/list", 302)
  );
  try {
    await assert.rejects(
      findInspectorTarget(redirect.address),
      InspectorLinkError,
    );
  } finally {
    await redirect.close();
  }
  const pending: Array<() => void> = [];
  const slow = server(() =>
    new Promise<Response>((resolve) =>
      pending.push(() => resolve(new Response("[]")))
    )
  );
  try {
    await assert.rejects(
      findInspectorTarget(slow.address, {
        timeoutMs: 200,
        name: "the slow one",
      }),
      /^InspectorLinkError: cannot list the targets of the slow one: no answer within 200 ms$/,
    );
  } finally {
    for (const answer of pending) answer();
    await slow.close();
  }
});
