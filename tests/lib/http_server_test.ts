import assert from "node:assert/strict";
import { serveGuarded } from "../../lib/http_server.ts";
import { runMain, spawnWithFileLimit } from "../_process.ts";
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

const encoder = new TextEncoder();
const request = (path: string) =>
  encoder.encode(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);

Deno.test("serveGuarded() closes a connection that sends no request within the headers timeout", async () => {
  const server = serveGuarded({
    hostname: "127.0.0.1",
    port: 0,
    headersTimeoutMs: 300,
    log: () => {},
  }, () => new Response("ok"));
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
  const server = serveGuarded({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeoutMs: 300,
    log: () => {},
  }, async (req) => {
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
    const buffer = new Uint8Array(4096);
    const n = await busy.read(buffer);
    assert.match(
      new TextDecoder().decode(buffer.subarray(0, n ?? 0)),
      /^HTTP\/1\.1 200/,
    );
    assert.equal(await closedWithin(busy, 3_000), true);
  } finally {
    idle.close();
    busy.close();
    await server.shutdown();
  }
});

Deno.test("serveGuarded() at its cap closes the longest-idle connection for a new one", async () => {
  const lines: string[] = [];
  const server = serveGuarded({
    hostname: "127.0.0.1",
    port: 0,
    maxConnections: 2,
    log: (line) => lines.push(line),
  }, () => new Response("ok"));
  const first = await Deno.connect({ port: server.addr.port });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const second = await Deno.connect({ port: server.addr.port });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const third = await Deno.connect({ port: server.addr.port });
  try {
    assert.equal(await closedWithin(first, 3_000), true);
    assert.equal(await closedWithin(second, 300), false);
    await third.write(request("/"));
    const buffer = new Uint8Array(4096);
    const n = await third.read(buffer);
    assert.match(
      new TextDecoder().decode(buffer.subarray(0, n ?? 0)),
      /^HTTP\/1\.1 200/,
    );
    assert.equal(server.connections, 2);
  } finally {
    for (const conn of [first, second, third]) conn.close();
    await server.shutdown();
  }
});

Deno.test("serveGuarded() shutdown lets an in-flight request finish", async () => {
  const server = serveGuarded(
    { hostname: "127.0.0.1", port: 0, log: () => {} },
    async () => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      return new Response("done");
    },
  );
  const response = fetch(`http://127.0.0.1:${server.addr.port}/`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const stopped = server.shutdown();
  assert.equal(await (await response).text(), "done");
  await stopped;
  await server.finished;
  await assert.rejects(() => fetch(`http://127.0.0.1:${server.addr.port}/`));
});

Deno.test("main.ts serve survives running out of file descriptors and recovers once connections close", async () => {
  const service = await spawnWithFileLimit(256, [
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
    const consolePort = (await service.stdout.waitFor(/^console listening/))
      .match(/:(\d+)$/)![1]!;
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
    const client = await runMain(
      ["console", "--port", consolePort, "-e", "cache.size + 1"],
      { task: "console" },
    );
    assert.equal(client.code, 0, client.stderr);
    assert.equal(client.stdout.trim(), "1");
    await service.signalGroup("SIGTERM");
    const { code, stderr } = await service.finish();
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /Uncaught|panicked/);
  } finally {
    for (const conn of conns) conn.close();
    await service.signalGroup("SIGKILL").catch(() => {});
    await service.finish().catch(() => {});
  }
});

Deno.test("main.ts serve's console backs off when accept runs out of file descriptors: a line, not a flood", async () => {
  const service = await spawnWithFileLimit(128, [
    "serve",
    "--port",
    "0",
    "--console-port",
    "0",
  ]);
  const conns: Deno.Conn[] = [];
  try {
    await service.stdout.waitFor(/listening on http/, 30_000);
    const consolePort = Number(
      (await service.stdout.waitFor(/^console listening/)).match(/:(\d+)$/)![1],
    );
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
    const client = await runMain(
      ["console", "--port", String(consolePort), "-e", "cache.size + 1"],
      { task: "console" },
    );
    assert.equal(client.code, 0, client.stderr);
  } finally {
    for (const conn of conns) conn.close();
    await service.signalGroup("SIGKILL").catch(() => {});
    await service.finish().catch(() => {});
  }
});
