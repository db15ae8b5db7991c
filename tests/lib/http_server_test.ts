import assert from "node:assert/strict";
import {
  type GuardedServeOptions,
  serveGuarded,
} from "../../lib/http_server.ts";
import { runMain, spawnWithFileLimit, type TaskGroup } from "../_process.ts";
import { TestConnection, valueOf } from "../console/_console_client.ts";

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

Deno.test("serveGuarded() at its cap closes the longest-idle connection for a new one", async () => {
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
  await serveUnderFileLimit(128, async ({ service, consolePort, conns }) => {
    const tokenFile = (await service.stdout.waitFor(/^console token in /))
      .slice("console token in ".length);
    const token = (await Deno.readTextFile(tokenFile)).trim();
    const session = await TestConnection.open(consolePort);
    conns.push(session.conn);
    assert.equal((await session.hello(token))?.type, "hello");
    // A snippet takes every descriptor left, so the next accept fails.
    const taken = await session.eval(
      1,
      `globalThis.held = []; try { for (;;) held.push(Deno.openSync(${
        JSON.stringify(tokenFile)
      })) } catch { held.length }`,
    );
    assert.ok(Number(valueOf(taken.final)) > 0, JSON.stringify(taken.final));
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
    await session.eval(2, "for (const f of held) f.close(); held.length");
    for (const conn of conns.splice(1)) conn.close();
    await askConsole(consolePort);
  });
});
