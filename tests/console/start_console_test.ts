import assert from "node:assert/strict";
import { findConsole } from "../../console/discovery.ts";
import { ConsoleConfigError, startConsole } from "../../console/mod.ts";
import { readTokenFile } from "../../console/token.ts";
import { exists, listDir } from "../_files.ts";
import { spawnDeno } from "../_process.ts";
import { TestConnection, valueOf } from "./_console_client.ts";

const HOST = new URL("./_host_child.ts", import.meta.url).pathname;
const HOME = Deno.env.get("HOME")!;

Deno.test("`startConsole()` listens on a free loopback port, lists itself, names the program, and cleans up on close()", async () => {
  const seen: string[] = ["a", "b"];
  const lines: string[] = [];
  const live = await startConsole({ seen }, {
    program: "orders-api",
    log: (line) => lines.push(line),
  });
  let closed = false;
  try {
    assert.ok("port" in live.endpoint && live.endpoint.port > 0);
    assert.equal(live.endpoint.host, "127.0.0.1");
    assert.equal(live.program, "orders-api");
    assert.match(
      lines[0]!,
      new RegExp(
        `^orders-api console listening on 127\\.0\\.0\\.1:${live.endpoint.port}, pid ${Deno.pid}, token in ${HOME}/\\.leakwatch/console/tcp-${live.endpoint.port}\\.token$`,
      ),
    );
    const entry = await findConsole(Deno.pid);
    assert.equal(entry?.state, "alive");
    assert.deepEqual(entry?.entry?.endpoint, live.endpoint);
    assert.equal(entry?.entry?.program, "orders-api");
    assert.equal(entry?.entry?.tokenFile, live.tokenFile);
    assert.equal(live.entryFile, entry?.path);

    const session = await TestConnection.open(live.endpoint.port);
    try {
      const hello = await session.hello(
        (await readTokenFile(live.tokenFile!))!,
      );
      assert.equal(hello?.type, "hello");
      if (hello?.type !== "hello") return;
      assert.match(
        hello.banner,
        new RegExp(
          `^orders-api console \\(protocol \\d+\\), pid ${Deno.pid}\\n`,
        ),
      );
      assert.deepEqual(hello.names.slice(0, 2), ["main", "seen"]);
      const { final } = await session.eval(1, "seen.length + main.seen.length");
      assert.equal(valueOf(final), "4");
      const toolkit = await session.eval(2, "typeof heap.leaks");
      assert.equal(valueOf(toolkit.final), '"function"');
    } finally {
      session.close();
    }
    await live.close();
    closed = true;
    await live.close(); // twice is harmless
    assert.equal(await exists(live.tokenFile!), false);
    assert.equal(await exists(live.entryFile!), false);
    await assert.rejects(TestConnection.open(live.endpoint.port));
  } finally {
    if (!closed) await live.close();
  }
});

Deno.test("`startConsole()` allows one console per process at a time", async () => {
  const first = await startConsole({}, { announce: false, log: () => {} });
  try {
    await assert.rejects(
      startConsole({}, { announce: false }),
      (error: Error) =>
        error instanceof ConsoleConfigError &&
        /^A console already runs in this process \(127\.0\.0\.1:\d+\): close it first$/
          .test(error.message),
    );
  } finally {
    await first.close();
  }
  const second = await startConsole({}, { announce: false, log: () => {} });
  await second.close();
});

Deno.test("`startConsole()` refuses bad options with one clear error and leaves nothing behind", async () => {
  const before = await listDir(`${HOME}/.leakwatch/console`);
  const cases: [Parameters<typeof startConsole>[1], RegExp][] = [
    [
      { program: "" },
      /^The program name must be 1 to 100 printable characters: received ""$/,
    ],
    [
      { program: "app\u001b[2J.ts" },
      /program name must be .* received "app\\u001b\[2J\.ts"$/,
    ],
    [{ program: "x".repeat(101) }, /program name must be 1 to 100/],
    [
      // A JavaScript caller can pass anything.
      JSON.parse('{"signals": "sometimes"}'),
      /^The signals option must be "default" or "host": received "sometimes"$/,
    ],
    [
      { token: "short" },
      /^The console token must be at least 16 characters long$/,
    ],
    [
      { host: "0.0.0.0" },
      /^Refusing to listen on "0\.0\.0\.0" without an explicit console token/,
    ],
    [
      JSON.parse('{"port": "8080"}'),
      /^The port must be an integer from 0 to 65535: received "8080"$/,
    ],
    [
      { port: 70000 },
      /^The port must be an integer from 0 to 65535: received 70000$/,
    ],
    [
      { port: -1 },
      /^The port must be an integer from 0 to 65535: received -1$/,
    ],
    [
      { maxSessions: 0 },
      /^maxSessions must be an integer from 1 to 1024: received 0$/,
    ],
    [
      JSON.parse('{"log": "stderr"}'),
      /^The log option must be a function: received "stderr"$/,
    ],
    [
      JSON.parse('{"token": 12345678901234567}'),
      /^The token option must be a string/,
    ],
    // The test task grants --allow-net=127.0.0.1 and two socket paths only.
    [
      { host: "127.0.0.2" },
      /^Cannot listen on 127\.0\.0\.2:0: not permitted \(grant --allow-net=127\.0\.0\.2\)$/,
    ],
    [
      { socket: `${Deno.makeTempDirSync()}/c.sock` },
      /^Cannot listen on \/\S+\/c\.sock: not permitted \(grant --allow-net=unix:\/\S+\/c\.sock and read and write on it\)$/,
    ],
    [
      { socket: "/nonexistent-dir/c.sock" },
      /the directory \/nonexistent-dir does not exist/,
    ],
  ];
  for (const [options, message] of cases) {
    await assert.rejects(
      startConsole({}, { announce: false, log: () => {}, ...options }),
      (error: Error) => {
        assert.ok(error instanceof ConsoleConfigError, String(error));
        assert.match(error.message, message);
        return true;
      },
    );
  }
  assert.equal(await findConsole(Deno.pid), undefined);
  assert.deepEqual(await listDir(`${HOME}/.leakwatch/console`), before);
  // And the next good start works: no half-started console is held.
  const live = await startConsole({}, { announce: false, log: () => {} });
  await live.close();
});

Deno.test("`startConsole()` on a unix socket in the state directory: directory 0700, socket 0600, all removed on close()", async () => {
  const socket = `${HOME}/.leakwatch/console.sock`;
  await Deno.remove(`${HOME}/.leakwatch`, { recursive: true }).catch(() => {});
  const live = await startConsole({ n: 1 }, {
    socket,
    announce: false,
    log: () => {},
  });
  try {
    assert.deepEqual(live.endpoint, { socket });
    assert.equal((await Deno.stat(`${HOME}/.leakwatch`)).mode! & 0o777, 0o700);
    assert.equal((await Deno.lstat(socket)).mode! & 0o777, 0o600);
    assert.deepEqual((await findConsole(Deno.pid))?.entry?.endpoint, {
      socket,
    });
  } finally {
    await live.close();
  }
  assert.equal(await exists(socket), false);
  assert.equal(await exists(live.tokenFile!), false);
  assert.equal(await findConsole(Deno.pid), undefined);
});

/** Runs _host_child.ts in `mode` with the permissions a host needs. */
async function startHost(mode: string) {
  const process = spawnDeno([
    "run",
    "--allow-net=127.0.0.1",
    "--allow-env=HOME",
    "--allow-sys=uid",
    `--allow-read=${HOME}/.leakwatch`,
    `--allow-write=${HOME}/.leakwatch`,
    HOST,
    mode,
  ]);
  await process.stdout.waitFor(/^ready /, 30_000);
  const announced = await process.stderr.waitFor(
    /console listening on/,
    30_000,
  );
  const tokenFile = announced.match(/token in (\S+)$/)![1]!;
  return { ...process, tokenFile };
}

Deno.test("a host whose work is done exits by itself: the console keeps nothing alive, and unload removes its files", async () => {
  const host = await startHost("finish");
  const { status, stderr } = await host.finish();
  assert.equal(status.code, 0, stderr);
  assert.equal(await exists(host.tokenFile), false);
  assert.equal(await findConsole(host.child.pid), undefined);
});

Deno.test("a host without signal listeners dies of SIGTERM as before, its files removed", async () => {
  const host = await startHost("default");
  assert.equal((await findConsole(host.child.pid))?.state, "alive");
  host.child.kill("SIGTERM");
  const { status, stderr } = await host.finish();
  assert.equal(status.signal, "SIGTERM", stderr);
  assert.equal(await exists(host.tokenFile), false);
  assert.equal(await findConsole(host.child.pid), undefined);
});

Deno.test("a host's console refuses the inspector SIGUSR1 opens by default, and the host lives on", async () => {
  const host = await startHost("default");
  host.child.kill("SIGUSR1");
  // One line whatever became of port 9229 (another process may hold it).
  await host.stderr.waitFor(/SIGUSR1: refused the V8 inspector/, 30_000);
  assert.equal((await findConsole(host.child.pid))?.state, "alive");
  host.child.kill("SIGTERM");
  const { status, stderr } = await host.finish();
  assert.equal(status.signal, "SIGTERM", stderr);
});

Deno.test('a host with signals: "host" handles SIGTERM itself and closes the console', async () => {
  const host = await startHost("own-signals");
  host.child.kill("SIGTERM");
  const { status, stdout, stderr } = await host.finish();
  assert.equal(status.code, 0, stderr);
  assert.match(stdout, /^closed by the host$/m);
  assert.equal(await exists(host.tokenFile), false);
  assert.equal(await findConsole(host.child.pid), undefined);
});

Deno.test("`startConsole()` refuses a namespace or options that are not objects", async () => {
  for (
    const [namespace, options, message] of [
      [
        null,
        {},
        /^The namespace must be an object of what sessions can reach: received null$/,
      ],
      ["cache", {}, /^The namespace must be an object .* received "cache"$/],
      [
        {},
        JSON.parse("null"),
        /^The options must be an object: received null$/,
      ],
    ] as const
  ) {
    await assert.rejects(
      startConsole(JSON.parse(JSON.stringify(namespace)), options),
      (error: Error) =>
        error instanceof ConsoleConfigError && message.test(error.message),
    );
  }
});
