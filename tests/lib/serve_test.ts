import assert from "node:assert/strict";
import { runMain, spawnTaskGroup, startServe } from "../_process.ts";
import { signalExitCode } from "../../console/exit_signals.ts";
import { StopRequests } from "../../lib/stop_signals.ts";
import { UsageError } from "../../console/flags.ts";
import { EXIT_CODES, reportError } from "../../main.ts";

Deno.test("main.ts serve answers HTTP as a real process and exits 0 on SIGTERM", async () => {
  const service = await startServe(["--no-console"]);
  assert.match(service.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);

  const random = await fetch(`${service.url}users/random`);
  assert.equal(random.status, 200);
  const user = await random.json();
  assert.match(user.user_id, /^[0-9a-f]{64}$/);
  const again = await fetch(`${service.url}users/${user.user_id}`);
  assert.deepEqual(await again.json(), user);

  const head = await fetch(`${service.url}users/${user.user_id}`, {
    method: "HEAD",
  });
  assert.equal(head.status, 200);
  assert.equal(
    head.headers.get("content-length"),
    String(JSON.stringify(user).length),
  );
  assert.equal(await head.text(), "");

  const metrics = await (await fetch(`${service.url}metrics`)).text();
  assert.match(metrics, /^users_cache_entries 1$/m);

  service.child.kill("SIGTERM");
  const { code, stderr } = await service.finish();
  assert.equal(code, 0, stderr);
});

Deno.test("main.ts serve lets an in-flight request finish on SIGTERM, then exits 0", async () => {
  const service = await startServe(["--no-console", "--db-delay", "1500"]);
  const slow = fetch(`${service.url}users/slow-one`);
  // Let the request reach the handler before the signal.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const signalled = performance.now();
  service.child.kill("SIGTERM");
  await service.stderr.waitFor(/received SIGTERM/);

  const response = await slow;
  assert.equal(response.status, 200);
  assert.equal((await response.json()).user_id, "slow-one");

  const { code } = await service.finish();
  assert.equal(code, 0);
  assert.ok(performance.now() - signalled < 5_000);
});

Deno.test("main.ts serve exits at once on a second signal", async () => {
  const service = await startServe(["--no-console", "--db-delay", "20000"]);
  const slow = fetch(`${service.url}users/very-slow`).catch((error) => error);
  await new Promise((resolve) => setTimeout(resolve, 300));
  service.child.kill("SIGTERM");
  await service.stderr.waitFor(/received SIGTERM/);
  service.child.kill("SIGINT");
  const { code, stderr } = await service.finish();
  assert.equal(code, 130);
  assert.match(stderr, /received SIGINT again: exiting now/);
  assert.ok(await slow instanceof Error);
});

Deno.test("StopRequests.receive() takes a copy of the first signal within the window as the same request", () => {
  const requests = new StopRequests();
  assert.equal(requests.stopping, false);
  assert.equal(requests.receive("SIGINT", 10_000), "stop");
  assert.equal(requests.stopping, true);
  assert.equal(requests.receive("SIGINT", 10_002), "repeat");
  assert.equal(requests.receive("SIGINT", 10_100), "repeat");
  // A person's second Ctrl-C, or another signal, is a second request.
  assert.equal(requests.receive("SIGINT", 10_600), "exit");
  const other = new StopRequests();
  other.receive("SIGTERM", 0);
  assert.equal(other.receive("SIGHUP", 5), "exit");
  assert.equal(signalExitCode("SIGHUP"), 129);
  assert.equal(signalExitCode("SIGTERM"), 143);
});

/** Starts `deno task start` in its own process group on a free port. */
async function startTaskGroup(args: string[]) {
  const group = spawnTaskGroup("start", ["--port", "0", ...args]);
  try {
    const line = await group.stdout.waitFor(/listening on http/, 30_000);
    return { group, url: line.match(/(http:\/\/\S+)/)![1]! };
  } catch (error) {
    await group.signalGroup("SIGKILL");
    await group.finish();
    throw error;
  }
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  Deno.test(`deno task start finishes a slow request and exits 0 when its process group gets ${signal}`, async () => {
    const { group, url } = await startTaskGroup([
      "--no-console",
      "--db-delay",
      "1500",
    ]);
    const slow = fetch(`${url}users/slow-one`);
    // Let the request reach the handler before the signal.
    await new Promise((resolve) => setTimeout(resolve, 400));
    await group.signalGroup(signal);
    const response = await slow;
    assert.equal(response.status, 200);
    assert.equal((await response.json()).user_id, "slow-one");
    const { code, stderr } = await group.finish();
    assert.equal(code, 0, stderr);
    assert.equal(stderr.match(/received SIG/g)?.length, 1, stderr);
    assert.match(stderr, new RegExp(`received ${signal}: finishing`));
    assert.match(stderr, /users service stopped/);
  });
}

Deno.test("deno task start exits at once when its process group gets a second Ctrl-C later", async () => {
  const { group, url } = await startTaskGroup([
    "--no-console",
    "--db-delay",
    "20000",
  ]);
  const slow = fetch(`${url}users/very-slow`).catch((error) => error);
  await new Promise((resolve) => setTimeout(resolve, 400));
  await group.signalGroup("SIGINT");
  await group.stderr.waitFor(/received SIGINT: finishing/);
  await new Promise((resolve) => setTimeout(resolve, 600));
  await group.signalGroup("SIGINT");
  const pressed = performance.now();
  const { code, stderr } = await group.finish();
  assert.equal(code, 130, stderr);
  assert.match(stderr, /received SIGINT again: exiting now/);
  assert.ok(performance.now() - pressed < 3_000);
  assert.ok(await slow instanceof Error);
});

Deno.test("main.ts serve removes its token file on SIGHUP", async () => {
  const service = await startServe(["--console-port", "0"]);
  const line = await service.stdout.waitFor(/console token in /);
  const tokenFile = line.slice(line.indexOf(" in ") + 4);
  await Deno.stat(tokenFile);
  service.child.kill("SIGHUP");
  const { code, stderr } = await service.finish();
  assert.equal(code, 0, stderr);
  await assert.rejects(() => Deno.stat(tokenFile), Deno.errors.NotFound);
});

Deno.test("main.ts serve rejects bad flags with one error line and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /^error: Unknown option '--bogus'$/],
    [
      ["--port", "abc"],
      /^error: --port must be an integer from 0 to 65535: received "abc"$/,
    ],
    [["--port", "70000"], /^error: --port must be an integer from 0 to 65535/],
    [["--port"], /^error: Option '--port <value>' argument missing$/],
    [
      ["--cache-limit", "-1"],
      /^error: --cache-limit needs a value; for one starting with "-" write --cache-limit=VALUE$/,
    ],
    [["--cache-limit=-1"], /^error: --cache-limit must be an integer from 0/],
    [["--cache-limit", "1.5"], /^error: --cache-limit must be an integer/],
    [
      ["--cache-limit", "99999999999999999999"],
      /^error: --cache-limit must be an integer/,
    ],
    [["--db-delay", "1e3"], /^error: --db-delay must be an integer/],
    [["--host", ""], /^error: --host must not be empty$/],
    [["extra"], /^error: Unexpected argument 'extra'$/],
    [["--help=yes"], /^error: Option '-h, --help' does not take an argument$/],
  ];
  for (const [args, expected] of cases) {
    const { code, stdout, stderr } = await runMain(["serve", ...args]);
    assert.equal(code, 2, `${args}: ${stderr}`);
    assert.equal(stdout, "");
    const lines = stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0]!, expected);
  }
});

Deno.test("main.ts serve reads conventional environment variables, flags win", async () => {
  const bad = await runMain(["serve"], { env: { PORT: "nope" } });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: PORT must be an integer/);

  const limited = await startServe(["--no-console"], {
    env: { CACHE_LIMIT: "2", PORT: "1" },
  });
  for (let i = 0; i < 5; i++) {
    await (await fetch(`${limited.url}users/random`)).body?.cancel();
  }
  const metrics = await (await fetch(`${limited.url}metrics`)).text();
  assert.match(metrics, /^users_cache_entries 2$/m);
  limited.child.kill("SIGTERM");
  assert.equal((await limited.finish()).code, 0);
});

Deno.test("main.ts serve --help prints the flags and exits 0", async () => {
  const { code, stdout } = await runMain(["serve", "--help"]);
  assert.equal(code, 0);
  for (const flag of ["--host", "--port", "--cache-limit", "--no-console"]) {
    assert.ok(stdout.includes(flag), flag);
  }
});

Deno.test("main.ts rejects an unknown command with exit 2", async () => {
  const { code, stderr } = await runMain(["frobnicate"]);
  assert.equal(code, 2);
  assert.equal(
    stderr,
    'error: unknown command "frobnicate" (expected serve, console, analyze, attach or help)\n',
  );
});

/** A port nothing listens on now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  return listener.addr.port;
}

Deno.test("main.ts serve checks the console configuration before anything listens", async () => {
  const home = Deno.env.get("HOME")!;
  await Deno.mkdir(`${home}/.leakwatch`, { recursive: true });
  const notASocket = `${home}/.leakwatch/console.sock`;
  // In the run's own HOME, outside what the start task may listen on.
  const elsewhere = `${home}/elsewhere`;
  await Deno.writeTextFile(notASocket, "a file\n");
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const cases: [string[], RegExp][] = [
    [
      ["--console-host", "0.0.0.0"],
      /^error: Refusing to listen on "0\.0\.0\.0" without an explicit console token/,
    ],
    [
      ["--console-token", "short"],
      /^error: The console token must be at least 16 characters long$/,
    ],
    [
      ["--console-port", String(taken.addr.port)],
      /^error: Cannot listen on console 127\.0\.0\.1:\d+: address in use$/,
    ],
    [
      ["--console-socket", `${elsewhere}/console.sock`],
      /^error: Cannot listen on \S+\/elsewhere\/console\.sock: not permitted; deno task start allows only/,
    ],
    [
      ["--console-socket", `/${"s".repeat(124)}.sock`],
      /^error: Cannot listen on \/s+\.sock: a unix socket path may be at most 107 bytes long, this one is 130$/,
    ],
    [
      ["--console-socket", notASocket],
      /^error: Cannot listen on .*console\.sock: it exists and is not a socket$/,
    ],
  ];
  try {
    for (const [args, expected] of cases) {
      const port = freePort();
      const { code, stdout, stderr } = await runMain([
        "serve",
        "--port",
        String(port),
        ...args,
      ]);
      assert.equal(code, 2, `${args}: ${stderr}`);
      assert.equal(stdout, "", `${args}: nothing may be announced`);
      const lines = stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0]!, expected);
      // HTTP was never left bound.
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    }
  } finally {
    taken.close();
    await Deno.remove(notASocket);
  }
});

Deno.test("main.ts serve creates a missing state directory for its socket, mode 0700", async () => {
  const home = await Deno.makeTempDir({ prefix: "fresh-home-" });
  const socket = `${home}/.leakwatch/console.sock`;
  try {
    const service = await startServe(["--console-socket", socket], { home });
    await service.stdout.waitFor(/^console listening on /);
    const info = await Deno.stat(`${home}/.leakwatch`);
    assert.equal(info.mode! & 0o777, 0o700);
    assert.ok((await Deno.lstat(socket)).isSocket);
    service.child.kill("SIGTERM");
    assert.equal((await service.finish()).code, 0);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("main.ts serve reports a port in use clearly", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const { code, stderr } = await runMain([
      "serve",
      "--no-console",
      "--port",
      String(listener.addr.port),
    ]);
    assert.equal(code, 2);
    assert.match(
      stderr,
      /^error: cannot listen on 127\.0\.0\.1:\d+: address in use\n$/,
    );
  } finally {
    listener.close();
  }
});

Deno.test("main.ts serve survives hostile HTTP input", async () => {
  const service = await startServe(["--no-console"]);
  const { hostname, port } = new URL(service.url);
  // Sends raw bytes, half-closes, and reads the answer until the server
  // closes (or 5 s pass): a truncated request must not hang anyone.
  const raw = async (request: string) => {
    const conn = await Deno.connect({ hostname, port: Number(port) });
    const timer = setTimeout(() => conn.close(), 5_000);
    let answer = "";
    try {
      await conn.write(new TextEncoder().encode(request));
      await conn.closeWrite();
      const decoder = new TextDecoder();
      const buffer = new Uint8Array(65536);
      while (true) {
        const n = await conn.read(buffer).catch(() => null);
        if (n === null) break;
        answer += decoder.decode(buffer.subarray(0, n), { stream: true });
      }
    } finally {
      clearTimeout(timer);
      try {
        conn.close();
      } catch {
        // Already closed by the timer.
      }
    }
    return answer;
  };
  // Garbage, a truncated request, a huge URL, a body on GET: the service
  // answers or drops the connection, and keeps serving.
  await raw("\x00\x01\x02 garbage\r\n\r\n");
  await raw("GET /users/abc HTTP/1.1\r\nHost: x\r\n"); // truncated
  const huge = await raw(
    `GET /users/${
      "a".repeat(200_000)
    } HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  );
  assert.match(huge, /^HTTP\/1\.1 (400|414|431)/);
  const withBody = await raw(
    "GET /users/abc HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
  );
  assert.match(withBody, /^HTTP\/1\.1 200/);
  const health = await fetch(`${service.url}healthz`);
  assert.deepEqual(await health.json(), { status: "ok" });
  service.child.kill("SIGTERM");
  assert.equal((await service.finish()).code, 0);
});

Deno.test("reportError() maps a usage error to 2 and anything else to 1", () => {
  const printed: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => printed.push(args);
  try {
    assert.equal(reportError(new UsageError("bad flag")), EXIT_CODES.usage);
    assert.equal(reportError(new Error("boom")), EXIT_CODES.failure);
  } finally {
    console.error = original;
  }
  assert.deepEqual(printed[0], ["error: bad flag"]);
  assert.equal(printed[1]![0], "error:");
  assert.deepEqual(EXIT_CODES, { ok: 0, failure: 1, usage: 2 });
});
