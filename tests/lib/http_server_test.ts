import assert from "node:assert/strict";
import {
  type GuardedServeOptions,
  serveGuarded,
} from "../../lib/http_server.ts";
import { runMain, spawnWithFileLimit, type TaskGroup } from "../_process.ts";
import { TestConnection, valueOf } from "../console/_console_client.ts";
import { pipelinedGets, readResponses } from "./_http.ts";

/** Resolves `true` once the server closes `conn` (EOF or reset), `false` after `ms`. */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<boolean> {
  const buffer = new Uint8Array(4096);
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = await Promise.race([
      conn.read(buffer).catch(() => null),
      new Promise<"wait">((resolve) => {
        timer = setTimeout(() => resolve("wait"), deadline - Date.now());
      }),
    ]);
    clearTimeout(timer);
    if (read === null) return true;
    if (read === "wait") return false;
  }
  return false;
}

/** `serveGuarded()` on a free loopback port, logging nowhere unless told. */
function serveLocally(
  options: Partial<GuardedServeOptions>,
  handler: (request: Request) => Response | Promise<Response>,
) {
  return serveGuarded(
    { hostname: "127.0.0.1", port: 0, log: () => {}, ...options },
    handler,
  );
}

/** Reads the start of a response from `conn`: a 200. */
async function assertOk(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(4096);
  const n = await conn.read(buffer);
  assert.match(
    new TextDecoder().decode(buffer.subarray(0, n ?? 0)),
    /^HTTP\/1\.1 200/,
  );
}

const encoder = new TextEncoder();
const request = (path: string) =>
  encoder.encode(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);

Deno.test("serveGuarded() closes a connection that sends no request within the headers timeout", async () => {
  const server = serveLocally(
    { headersTimeoutMs: 300 },
    () => new Response("ok"),
  );
  const silent = await Deno.connect({ port: server.addr.port });
  const partial = await Deno.connect({ port: server.addr.port });
  await partial.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n"));
  try {
    assert.equal(await closedWithin(silent, 3_000), true);
    assert.equal(await closedWithin(partial, 3_000), true);
    assert.equal(server.connections, 0);
  } finally {
    silent.close();
    partial.close();
    await server.shutdown();
  }
});

Deno.test("serveGuarded() closes an idle kept-alive connection but not one waiting for its response", async () => {
  const server = serveLocally({ idleTimeoutMs: 300 }, async (req) => {
    if (new URL(req.url).pathname === "/slow") {
      await new Promise((resolve) => setTimeout(resolve, 1_200));
    }
    return new Response("ok");
  });
  const idle = await Deno.connect({ port: server.addr.port });
  const busy = await Deno.connect({ port: server.addr.port });
  try {
    await idle.write(request("/"));
    await busy.write(request("/slow"));
    assert.equal(await closedWithin(idle, 3_000), true);
    // The slow response arrives, then the connection idles out too.
    await assertOk(busy);
    assert.equal(await closedWithin(busy, 3_000), true);
  } finally {
    idle.close();
    busy.close();
    await server.shutdown();
  }
});

Deno.test("serveGuarded() at its cap cuts off the longest-quiet connection for a new one", async () => {
  const lines: string[] = [];
  const server = serveLocally(
    { maxConnections: 2, log: (line) => lines.push(line) },
    () => new Response("ok"),
  );
  const first = await Deno.connect({ port: server.addr.port });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const second = await Deno.connect({ port: server.addr.port });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const third = await Deno.connect({ port: server.addr.port });
  try {
    assert.equal(await closedWithin(first, 3_000), true);
    assert.equal(await closedWithin(second, 300), false);
    await third.write(request("/"));
    await assertOk(third);
    assert.equal(server.connections, 2);
  } finally {
    for (const conn of [first, second, third]) conn.close();
    await server.shutdown();
  }
});

Deno.test("serveGuarded() shutdown lets an in-flight request finish", async () => {
  const server = serveLocally({}, async () => {
    await new Promise((resolve) => setTimeout(resolve, 500));
    return new Response("done");
  });
  const response = fetch(`http://127.0.0.1:${server.addr.port}/`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const stopped = server.shutdown();
  assert.equal(await (await response).text(), "done");
  await stopped;
  await server.finished;
  await assert.rejects(() => fetch(`http://127.0.0.1:${server.addr.port}/`));
});

/** An endless response body, made as it is read: a download nobody reads. */
function endlessBody(): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(64 * 1024);
  return new ReadableStream({
    pull(controller) {
      controller.enqueue(chunk);
    },
  });
}

/** One request on a fresh connection: its status, or the error. */
async function newcomer(port: number): Promise<number | string> {
  let conn: Deno.Conn | undefined;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(request("/"));
    const [response] = await readResponses(conn, 1);
    return response!.status;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    conn?.close();
  }
}

Deno.test("serveGuarded() keeps letting newcomers in while connections pipeline requests and never read the responses", async () => {
  let downloads = 0;
  let allStuck = () => {};
  const stuck = new Promise<void>((resolve) => allStuck = resolve);
  const server = serveLocally(
    { maxConnections: 8, idleTimeoutMs: 300, headersTimeoutMs: 300 },
    (req) => {
      if (new URL(req.url).pathname !== "/download") return new Response("ok");
      if (++downloads === 8) allStuck();
      return new Response(endlessBody());
    },
  );
  // As many as the cap: each pipelines requests and never reads, so its
  // first response's write blocks and the next request is never read.
  const readers: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 8; i++) {
      const conn = await Deno.connect({ port: server.addr.port });
      readers.push(conn);
      await conn.write(pipelinedGets("/download", 100));
    }
    await stuck;
    // For five idle timeouts (the non-readers' writes never finish), one
    // newcomer after another must get in: at once, or after a retry while
    // the non-readers still count as busy.
    let served = 0;
    const since = Date.now();
    while (Date.now() - since < 1_500 || served < 30) {
      // Once the previous newcomer is gone: no other idle connection may
      // make room for this one.
      while (server.connections > readers.length) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const deadline = Date.now() + 10_000;
      let status: number | string = "not tried";
      while (status !== 200 && Date.now() < deadline) {
        status = await newcomer(server.addr.port);
        if (status !== 200) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      assert.equal(status, 200, `newcomer ${served + 1} kept out for 10 s`);
      served++;
    }
    // And the non-readers themselves are closed, not kept forever.
    for (const conn of readers) {
      assert.equal(await closedWithin(conn, 20_000), true);
    }
  } finally {
    for (const conn of readers) conn.close();
    await server.shutdown();
  }
});

Deno.test("serveGuarded() at its cap with every connection busy cuts off the one that made the most requests for a newcomer", async () => {
  const lines: string[] = [];
  const server = serveLocally(
    { maxConnections: 4, log: (line) => lines.push(line) },
    async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return new Response("ok");
    },
  );
  const busy: Deno.Conn[] = [];
  try {
    // Each pipelines requests for far longer than the test: never quiet.
    for (let i = 0; i < 4; i++) {
      const conn = await Deno.connect({ port: server.addr.port });
      busy.push(conn);
      conn.write(pipelinedGets("/", 10_000)).catch(() => {});
      await readResponses(conn, 2);
    }
    const deadline = Date.now() + 10_000;
    let status: number | string = "not tried";
    while (status !== 200 && Date.now() < deadline) {
      status = await newcomer(server.addr.port);
    }
    assert.equal(status, 200);
    assert.ok(
      lines.some((line) =>
        /^http connection cut off to make room: \d+ open \(the cap is 4\), none quiet; it had made \d+ requests$/
          .test(line)
      ),
      lines.join("\n"),
    );
  } finally {
    for (const conn of busy) conn.close();
    await server.shutdown();
  }
});

Deno.test("serveGuarded() shutdown finishes in-flight requests, answers later ones 503 and cuts off a peer that never reads", async () => {
  let slowStarted = () => {};
  const slow = new Promise<void>((resolve) => slowStarted = resolve);
  let downloading = () => {};
  const download = new Promise<void>((resolve) => downloading = resolve);
  const server = serveLocally({}, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/download") {
      downloading();
      return new Response(endlessBody());
    }
    if (path === "/slow") {
      slowStarted();
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return new Response("ok");
  });
  const keptAlive = await Deno.connect({ port: server.addr.port });
  const nonReader = await Deno.connect({ port: server.addr.port });
  try {
    // The second request is read only once the slow one is answered.
    await keptAlive.write(
      encoder.encode(
        "GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /late HTTP/1.1\r\nHost: x\r\n\r\n",
      ),
    );
    await nonReader.write(pipelinedGets("/download", 10));
    await Promise.all([slow, download]);
    const stopped = server.shutdown();
    const [first, second] = await readResponses(keptAlive, 2);
    assert.deepEqual([first!.status, first!.body], [200, "ok"]);
    assert.equal(second!.status, 503);
    assert.deepEqual(JSON.parse(second!.body), {
      error: "Service shutting down",
    });
    assert.equal(await closedWithin(keptAlive, 10_000), true);
    assert.equal(await closedWithin(nonReader, 10_000), true);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      stopped.then(() => "stopped"),
      new Promise((resolve) => timer = setTimeout(resolve, 20_000, "hung")),
    ]);
    clearTimeout(timer);
    assert.equal(outcome, "stopped");
  } finally {
    keptAlive.close();
    nonReader.close();
  }
});

/** A service under a low open-files limit, as {@linkcode serveUnderFileLimit} hands it to a test. */
interface LimitedServe {
  service: TaskGroup;
  /** The service's base URL. */
  url: string;
  consolePort: number;
  /** Connections the test opens; closed at the end, before the kill. */
  conns: Deno.Conn[];
}

/**
 * Runs `main.ts serve` (service and console on free ports) under `ulimit -n
 * limit` and hands it to `test` once both listen; whatever happens, its
 * connections are closed and the group killed after.
 */
async function serveUnderFileLimit(
  limit: number,
  test: (serve: LimitedServe) => Promise<void>,
): Promise<void> {
  const service = await spawnWithFileLimit(limit, [
    "serve",
    "--port",
    "0",
    "--console-port",
    "0",
  ]);
  const conns: Deno.Conn[] = [];
  try {
    const url = (await service.stdout.waitFor(/listening on http/, 30_000))
      .match(/(http:\/\/\S+)/)![1]!;
    const consolePort = Number(
      (await service.stdout.waitFor(/^console listening/)).match(/:(\d+)$/)![1],
    );
    await test({ service, url, consolePort, conns });
  } finally {
    for (const conn of conns) conn.close();
    await service.signalGroup("SIGKILL").catch(() => {});
    await service.finish().catch(() => {});
  }
}

/**
 * Opens a console session whose snippet takes every descriptor left (the
 * process's next accept fails with EMFILE); `release()` closes them again.
 */
async function holdEveryDescriptor(
  { service, consolePort, conns }: LimitedServe,
): Promise<{ release(): Promise<void> }> {
  const tokenFile = (await service.stdout.waitFor(/^console token in /))
    .slice("console token in ".length);
  const token = (await Deno.readTextFile(tokenFile)).trim();
  const session = await TestConnection.open(consolePort);
  conns.push(session.conn);
  assert.equal((await session.hello(token))?.type, "hello");
  const taken = await session.eval(
    1,
    `globalThis.held = []; try { for (;;) held.push(Deno.openSync(${
      JSON.stringify(tokenFile)
    })) } catch { held.length }`,
  );
  assert.ok(Number(valueOf(taken.final)) > 0, JSON.stringify(taken.final));
  return {
    async release() {
      await session.eval(2, "for (const f of held) f.close(); held.length");
    },
  };
}

/** `console -e "cache.size + 1"` on the port: it connects, authenticates and evaluates. */
async function askConsole(consolePort: number) {
  const client = await runMain(
    ["console", "--port", String(consolePort), "-e", "cache.size + 1"],
    { task: "console" },
  );
  assert.equal(client.code, 0, client.stderr);
  return client;
}

Deno.test("main.ts serve survives running out of file descriptors and recovers once connections close", async () => {
  await serveUnderFileLimit(
    256,
    async ({ service, url, consolePort, conns }) => {
      const port = Number(new URL(url).port);
      // More idle connections than the process has descriptors.
      for (let i = 0; i < 400; i++) {
        conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      }
      await service.stderr.waitFor(/http accept failed: Too many open files/);
      // Idle connections were closed to make room: it answers even now.
      assert.equal((await fetch(`${url}healthz`)).status, 200);
      for (const conn of conns.splice(0)) conn.close();
      await new Promise((resolve) => setTimeout(resolve, 500));
      const health = await fetch(`${url}healthz`);
      assert.deepEqual(await health.json(), { status: "ok" });
      const client = await askConsole(consolePort);
      assert.equal(client.stdout.trim(), "1");
      await service.signalGroup("SIGTERM");
      const { code, stderr } = await service.finish();
      assert.equal(code, 0, stderr);
      assert.doesNotMatch(stderr, /Uncaught|panicked/);
    },
  );
});

Deno.test("main.ts serve's console backs off when accept runs out of file descriptors: a line, not a flood", async () => {
  await serveUnderFileLimit(128, async (serve) => {
    const { service, consolePort, conns } = serve;
    // A snippet takes every descriptor left, so the next accept fails.
    const held = await holdEveryDescriptor(serve);
    for (let i = 0; i < 3; i++) {
      conns.push(
        await Deno.connect({ hostname: "127.0.0.1", port: consolePort }),
      );
    }
    await service.stderr.waitFor(/console accept failed/, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const lines = service.stderr.text.split("\n")
      .filter((line) => line.includes("console accept failed"));
    assert.ok(lines.length <= 2, `${lines.length} lines:\n${lines[0]}`);
    // Once descriptors are free again the console accepts as before.
    await held.release();
    for (const conn of conns.splice(1)) conn.close();
    await askConsole(consolePort);
  });
});

Deno.test("main.ts serve's HTTP connection cap, lowered by EMFILE, rises back once descriptors are free", async () => {
  await serveUnderFileLimit(
    128,
    async (serve) => {
      const { service, url, conns } = serve;
      const port = Number(new URL(url).port);
      // A snippet takes every descriptor left: HTTP's next accept fails and
      // the cap drops to what was open then, less the reserve (here: 1).
      const held = await holdEveryDescriptor(serve);
      const early = [];
      for (let i = 0; i < 3; i++) {
        early.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      }
      await service.stderr.waitFor(
        /http accept failed: Too many open files.*cap now 1,/,
      );
      // Descriptors come back.
      await held.release();
      for (const conn of early) conn.close();
      await service.stderr.waitFor(/http connection cap back to 900/, 30_000);
      // Twenty clients keep their connections between two requests each:
      // none is cut off to make room under a cap of 1.
      const clients = [];
      for (let i = 0; i < 20; i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conns.push(conn);
        clients.push(conn);
      }
      for (const round of [1, 2]) {
        for (const conn of clients) await conn.write(request("/healthz"));
        for (const conn of clients) {
          const [response] = await readResponses(conn, 1);
          assert.equal(response!.status, 200, `round ${round}`);
        }
      }
    },
  );
});
