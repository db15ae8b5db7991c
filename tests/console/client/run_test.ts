/**
 * Black-box tests of `main.ts console`: a real service, the client run with
 * the `console` task's permissions, checked by stdout, stderr and exit code.
 */

import assert from "node:assert/strict";
import { spawnMain, startServe } from "../../_process.ts";
import { listenDeaf } from "./_fixture.ts";
import { canUseScript, startTerminal } from "./_terminal.ts";

const encoder = new TextEncoder();

/** Starts `main.ts serve` with its console on a free port (or `args`). */
async function startService(args: string[] = ["--console-port", "0"]) {
  const service = await startServe(args);
  const line = await service.stdout.waitFor(/^console listening on /);
  const where = line.replace(/^console listening on /, "");
  return {
    where,
    port: Number(where.match(/:(\d+)$/)?.[1]),
    async stop() {
      service.child.kill("SIGTERM");
      const { code, stderr } = await service.finish();
      assert.equal(code, 0, `the service exited ${code}:\n${stderr}`);
    },
  };
}

type Service = Awaited<ReturnType<typeof startService>>;

/** Runs `main.ts console ...args` with the console task's permissions. */
async function runClient(
  args: string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
) {
  const client = await spawnMain(["console", ...args], {
    task: "console",
    stdin: options.stdin !== undefined,
    env: options.env,
  });
  if (options.stdin !== undefined) {
    const writer = client.child.stdin.getWriter();
    await writer.write(encoder.encode(options.stdin));
    await writer.close();
  }
  // The exit code and output: a client ends by its code, never a signal.
  const { code, stdout, stderr } = await client.finish();
  return { code, stdout, stderr };
}

/**
 * Runs `main.ts console ...flags -e code`: one snippet, then exit; with
 * `json`, `--json` goes before the `-e`.
 */
function runSnippet(
  flags: string[],
  code: string,
  options: { env?: Record<string, string>; json?: boolean } = {},
) {
  const mode = options.json ? ["--json"] : [];
  return runClient([...flags, ...mode, "-e", code], { env: options.env });
}

/**
 * Starts a service (see {@linkcode startService}), runs `run` against it with
 * the client's flags that reach it (`--port N`), and stops it.
 */
async function withService(
  run: (service: Service, port: string[]) => Promise<void>,
): Promise<void> {
  const service = await startService();
  try {
    await run(service, ["--port", String(service.port)]);
  } finally {
    await service.stop();
  }
}

/** The flags that name each of `targets` (`--target T` each). */
function targetFlags(...targets: string[]): string[] {
  return targets.flatMap((target) => ["--target", target]);
}

Deno.test("`main.ts console` evaluates -e snippets and piped transcripts against a running service", (t) =>
  withService(async (service, port) => {
    await t.step(
      "-e prints the value and exits 0, finding the token file by itself",
      async () => {
        const result = await runSnippet(port, "cache.size + 40");
        assert.deepEqual(result, { code: 0, stdout: "40\n", stderr: "" });
      },
    );

    await t.step(
      "-e prints the snippet's console output to the stream it names",
      async () => {
        const result = await runSnippet(
          port,
          "console.log('to stdout'); console.error('to stderr'); ({ ok: true })",
        );
        assert.deepEqual(result, {
          code: 0,
          stdout: "to stdout\n{ ok: true }\n",
          stderr: "to stderr\n",
        });
        const quiet = await runSnippet(port, "console.log('only')");
        assert.deepEqual(quiet, { code: 0, stdout: "only\n", stderr: "" });
      },
    );

    await t.step(
      "-e exits 1 with the error on stderr, an incomplete snippet too",
      async () => {
        const thrown = await runSnippet(port, "throw new Error('boom')");
        assert.equal(thrown.code, 1);
        assert.equal(thrown.stdout, "");
        assert.match(thrown.stderr, /^Uncaught Error: boom\n/);
        const incomplete = await runSnippet(port, "[1, 2");
        assert.equal(incomplete.code, 1);
        assert.match(incomplete.stderr, /^error: incomplete input/);
      },
    );

    await t.step(
      "piped input is a transcript: snippets across lines, every result, exit 1 after a failure",
      async () => {
        const result = await runClient(port, {
          stdin: [
            "const list = [",
            "  1,",
            "  2,",
            "];",
            "",
            "list.length",
            "missing()",
            "console.log('after the failure'); list.map((n) => n * 2)",
          ].join("\n") + "\n",
        });
        assert.equal(result.code, 1);
        assert.equal(
          result.stdout,
          "undefined\n2\nafter the failure\n[ 2, 4 ]\n",
        );
        assert.match(
          result.stderr,
          /^Uncaught ReferenceError: missing is not defined\n/,
        );
      },
    );

    await t.step(
      "piped input that all succeeds exits 0; .exit stops reading",
      async () => {
        const result = await runClient(port, {
          stdin: "let n = 1\nn + 1\n.exit\nthrow new Error('never run')\n",
        });
        assert.deepEqual(result, {
          code: 0,
          stdout: "undefined\n2\n",
          stderr: "",
        });
      },
    );

    await t.step("piped input that ends inside a snippet exits 1", async () => {
      const result = await runClient(port, {
        stdin: "1\nfunction f() {\n",
      });
      assert.equal(result.code, 1);
      assert.equal(result.stdout, "1\n");
      assert.equal(
        result.stderr,
        "error: the input ended inside an incomplete snippet (from line 2)\n",
      );
    });

    await t.step(
      "a wrong --token or CONSOLE_TOKEN exits 2 with one clear line",
      async () => {
        const flag = await runSnippet(
          [...port, "--token", "not-the-token"],
          "1",
        );
        assert.deepEqual(flag, {
          code: 2,
          stdout: "",
          stderr:
            `error: authentication failed at 127.0.0.1:${service.port}: invalid console token (from --token)\n`,
        });
        const env = await runSnippet(port, "1", {
          env: { CONSOLE_TOKEN: "not-the-token" },
        });
        assert.equal(env.code, 2);
        assert.match(
          env.stderr,
          /invalid console token \(from CONSOLE_TOKEN\)\n$/,
        );
      },
    );
  }));

Deno.test("`main.ts console` says it cannot connect in exactly one line and exits 2", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const result = await runSnippet(["--port", String(port)], "1");
  assert.deepEqual(result, {
    code: 2,
    stdout: "",
    stderr:
      `error: cannot connect to 127.0.0.1:${port}: connection refused (is the service running?)\n`,
  });
  const piped = await runClient(["--port", String(port)], { stdin: "1\n" });
  assert.equal(piped.code, 2);
  assert.equal(piped.stderr.split("\n").length, 2);
});

Deno.test("`main.ts console` names the missing token file and suggests --token", async () => {
  const token = "explicit-console-token-0123456789";
  const service = await startService([
    "--console-port",
    "0",
    "--console-token",
    token,
  ]);
  try {
    const home = Deno.env.get("HOME");
    const path = `${home}/.leakwatch/console/tcp-${service.port}.token`;
    const result = await runSnippet(["--port", String(service.port)], "1");
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      `error: no console token file "${path}" (if the service was started with --console-token, pass --token TOKEN or set CONSOLE_TOKEN)\n`,
    );
    const given = await runSnippet(
      ["--port", String(service.port), "--token", token],
      "'in'",
    );
    assert.deepEqual(given, { code: 0, stdout: '"in"\n', stderr: "" });
  } finally {
    await service.stop();
  }
});

Deno.test("`main.ts console --socket` connects to a console on a unix socket", async () => {
  // The one socket path the start and console tasks permit.
  const socket = `${Deno.env.get("HOME")}/.leakwatch/console.sock`;
  const service = await startService(["--console-socket", socket]);
  try {
    assert.equal(service.where, socket);
    const result = await runSnippet(["--socket", socket], "'over unix'");
    assert.deepEqual(result, { code: 0, stdout: '"over unix"\n', stderr: "" });
    const env = await runClient([], {
      stdin: "1 + 1\n",
      env: { CONSOLE_SOCKET: socket },
    });
    assert.deepEqual(env, { code: 0, stdout: "2\n", stderr: "" });
  } finally {
    await service.stop();
  }
  const gone = await runSnippet(["--socket", socket], "1");
  assert.deepEqual(gone, {
    code: 2,
    stdout: "",
    stderr:
      `error: cannot connect to ${socket}: no such socket (is the service running?)\n`,
  });
});

Deno.test("`main.ts console` rejects bad flags in one line with exit 2, and prints --help", async () => {
  const bad = await runClient(["--bogus"]);
  assert.deepEqual(bad, {
    code: 2,
    stdout: "",
    stderr: "error: Unknown option '--bogus'\n",
  });
  const port = await runSnippet(["--port", "99999"], "1");
  assert.equal(port.code, 2);
  assert.equal(
    port.stderr,
    'error: --port must be an integer from 1 to 65535: received "99999"\n',
  );
  const help = await runClient(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: main\.ts console \[flags\]/);
  assert.match(help.stdout, /Exit codes:/);
});

/**
 * Runs `main.ts console --port PORT` under a real pseudo-terminal
 * (`script`), with the console task's permissions, in a fresh HOME.
 */
async function startTerminalClient(port: number, home: string) {
  const realHome = Deno.env.get("HOME")!;
  const token = (await Deno.readTextFile(
    `${realHome}/.leakwatch/console/tcp-${port}.token`,
  )).trim();
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../../../deno.json", import.meta.url)),
  );
  const command = (config.tasks.console.command as string)
    .replaceAll("$HOME", home)
    .replace(/ main\.ts console$/, "") +
    ` main.ts console --port ${port}`;
  return startTerminal(command, { HOME: home, CONSOLE_TOKEN: token });
}

Deno.test({
  name:
    "`main.ts console` under a pseudo-terminal: prompts, colours, Tab completion, continuation, Ctrl-C, history, Ctrl-D",
  ignore: !canUseScript(),
  async fn() {
    const service = await startService();
    const home = await Deno.makeTempDir(); // keeps the user's history clean
    try {
      const terminal = await startTerminalClient(service.port, home);
      const { type, waitFor } = terminal;
      await waitFor(/leakwatch console \(protocol 3\)[\s\S]*>>> $/);
      await type("cache.si");
      await type("\t");
      await waitFor(/cache\.size$/);
      await type("\r");
      await waitFor(/cache\.size\n0\n>>> $/);
      assert.ok(terminal.raw.includes("\x1b[33m0\x1b[39m"), "values in colour");
      await type("[1,\r");
      await waitFor(/\.\.\. $/);
      await type("2]\r");
      await waitFor(/2\]\n\[ 1, 2 \]\n>>> $/);
      await type("typo(");
      await type("\x03");
      await waitFor(/typo\(\^C\n>>> $/);
      await type("\x04");
      const { code, stderr } = await terminal.finish();
      assert.equal(code, 0, `${terminal.visible()}\n${stderr}`);
      const history = await Deno.readTextFile(
        `${home}/.leakwatch/console_history`,
      );
      assert.equal(history, "cache.size\n[1,\n2]\n");
      assert.equal(
        (await Deno.stat(`${home}/.leakwatch/console_history`)).mode! & 0o777,
        0o600,
      );
    } finally {
      await service.stop();
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "`main.ts console` under a pseudo-terminal: the first Ctrl-C during a synchronous loop says at once it cannot stop it, the second leaves with 130",
  ignore: !canUseScript(),
  async fn() {
    const service = await startService();
    const home = await Deno.makeTempDir();
    try {
      const terminal = await startTerminalClient(service.port, home);
      await terminal.waitFor(/>>> $/);
      // Stalls the whole service (HTTP included) for 5 s: nothing answers
      // the interrupt, so only the client can say anything. (`end >` and
      // not `< end`: a `<` is read in the parse worker, which a busy
      // machine may start slowly, and an interrupt then stops the reading.)
      await terminal.type(
        "const end = Date.now() + 5000; while (end > Date.now()) {}\r",
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      const pressed = performance.now();
      await terminal.type("\x03");
      await terminal.waitFor(
        /\^C interrupt sent: .*synchronous work \(a loop\) cannot be stopped.*\nPress Ctrl-C again to leave the console; the work keeps running in the service\.\n$/,
      );
      // Before the loop ends: the notice comes from the client alone.
      assert.ok(performance.now() - pressed < 4_000, "shown during the loop");
      await terminal.type("\x03");
      const { code } = await terminal.finish();
      assert.equal(code, 130, terminal.visible());
      assert.match(terminal.visible(), /does not answer the interrupt/);
    } finally {
      await service.stop(); // after the loop, a graceful stop (exit 0)
      await Deno.remove(home, { recursive: true });
    }
  },
});

/** A token file as the service writes it, for a port (the test's HOME). */
async function writeStaleTokenFile(port: number, token: string) {
  const directory = `${Deno.env.get("HOME")}/.leakwatch/console`;
  await Deno.mkdir(directory, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(`${directory}/tcp-${port}.token`, token + "\n", {
    mode: 0o600,
  });
}

Deno.test("`main.ts console --target … -e` runs on every instance in parallel; a stopped one and a wrong token do not hide the others", async (t) => {
  const token = "explicit-console-token-for-c-0123456789";
  const [a, b, c] = await Promise.all([
    startService(),
    startService(),
    startService(["--console-port", "0", "--console-token", token]),
  ]);
  try {
    await b.stop(); // its port now refuses
    // C was started with --console-token: a token file left over from an
    // earlier run holds another token.
    await writeStaleTokenFile(c.port, "a-stale-token-from-an-earlier-run-000");
    const targets = targetFlags(
      String(a.port),
      `127.0.0.1:${b.port}`,
      `127.0.0.1:${c.port}`,
    );

    await t.step("one table, in the order given; exit 1", async () => {
      const result = await runSnippet(
        targets,
        "console.log('from ' + cache.size); cache.size + 1",
      );
      assert.equal(result.code, 1, result.stderr);
      const lines = result.stdout.split("\n");
      assert.match(lines[0]!, /^instance\s+duration\s+value or error$/);
      assert.match(
        lines[1]!,
        new RegExp(`^127\\.0\\.0\\.1:${a.port}\\s+[\\d.]+ m?s  1$`),
      );
      assert.match(
        lines[2]!,
        new RegExp(
          `^127\\.0\\.0\\.1:${b.port}\\s+[\\d.]+ m?s  error: cannot connect to 127\\.0\\.0\\.1:${b.port}: connection refused`,
        ),
      );
      assert.match(
        lines[3]!,
        new RegExp(
          `^127\\.0\\.0\\.1:${c.port}\\s+[\\d.]+ m?s  error: authentication failed at 127\\.0\\.0\\.1:${c.port}: invalid console token \\(from ".*tcp-${c.port}\\.token"\\)$`,
        ),
      );
      assert.equal(lines.length, 5);
      assert.equal(result.stderr, `[127.0.0.1:${a.port}] from 0\n`);
    });

    await t.step(
      "a unix socket target beside a TCP one, each with its own token file",
      async () => {
        // The one socket path the start and console tasks permit.
        const socket = `${Deno.env.get("HOME")}/.leakwatch/console.sock`;
        const d = await startService(["--console-socket", socket]);
        try {
          const result = await runSnippet(
            targetFlags(socket, String(a.port)),
            "typeof cache",
          );
          assert.equal(result.code, 0, result.stdout + result.stderr);
          const [header, first, second] = result.stdout.split("\n");
          assert.match(header!, /^instance {2,}/);
          assert.ok(first!.startsWith(socket + " "), first);
          assert.match(first!, / {2}"object"$/);
          assert.match(second!, / {2}"object"$/);
        } finally {
          await d.stop();
        }
      },
    );

    await t.step("--token gives one token to every target", async () => {
      const result = await runSnippet([
        ...targetFlags(String(a.port), String(c.port)),
        "--token",
        token,
      ], "'up'");
      assert.equal(result.code, 1);
      const [, first, second] = result.stdout.split("\n");
      assert.match(first!, /error: authentication failed .*\(from --token\)$/);
      assert.match(second!, / {2}"up"$/);
    });

    await t.step("every target answering exits 0", async () => {
      const result = await runSnippet(
        targetFlags(String(c.port), String(a.port)),
        "typeof cache",
        { env: { CONSOLE_TOKEN: token } },
      );
      // CONSOLE_TOKEN is for every target: A's own token differs.
      assert.equal(result.code, 1);
      const only = await runSnippet(
        targetFlags(String(c.port)),
        "typeof cache",
        { env: { CONSOLE_TOKEN: token } },
      );
      assert.equal(only.code, 0, only.stdout + only.stderr);
      assert.match(only.stdout.split("\n")[1]!, / {2}"object"$/);
    });

    await t.step(
      "--json: one JSON object per line per instance, failures named",
      async () => {
        const result = await runSnippet(targets, "[...cache.keys()].length", {
          json: true,
        });
        assert.equal(result.code, 1);
        const lines = result.stdout.trimEnd().split("\n").map((line) =>
          JSON.parse(line)
        );
        assert.deepEqual(lines.map((line) => line.target), [
          `127.0.0.1:${a.port}`,
          `127.0.0.1:${b.port}`,
          `127.0.0.1:${c.port}`,
        ]);
        assert.deepEqual(
          lines.slice(1).map((line) => [line.ok, line.error.name]),
          [
            [false, "ConnectionError"],
            [false, "AuthenticationError"],
          ],
        );
        assert.equal(typeof lines[0].pid, "number");
        // NEEDS THE SERVER'S "format": "json" (branches `server` and `eval`):
        // against a console without it the first line is a ProtocolError.
        assert.deepEqual(
          [lines[0].ok, lines[0].value],
          [true, 0],
          JSON.stringify(lines[0]),
        );
        for (const line of lines) {
          assert.equal(typeof line.durationMs, "number");
        }
      },
    );

    await t.step(
      "a target that never answers is given up after --timeout",
      async () => {
        // Accepts and never says a word: a hung process, or not a console.
        await using deaf = listenDeaf();
        const started = performance.now();
        const result = await runSnippet([
          ...targetFlags(String(deaf.port), String(c.port)),
          "--token",
          token,
          "--timeout",
          "0.5",
        ], "2 * 21");
        const elapsed = performance.now() - started;
        assert.equal(result.code, 1);
        const [, first, second] = result.stdout.split("\n");
        assert.match(first!, / {2}error: no answer within 500\.0 ms/);
        assert.match(second!, / {2}42$/);
        // The client's own start-up is most of this on a loaded machine.
        assert.ok(elapsed < 15_000, `took ${elapsed} ms`);
      },
    );
  } finally {
    await Promise.all([a.stop(), c.stop()]);
  }
});

Deno.test("`main.ts console -e` prints a returned promise's awaited value, a toolkit table too", () =>
  withService(async (_service, port) => {
    const awaited = await runSnippet(
      port,
      "Promise.resolve(41).then((n) => n + 1)",
    );
    assert.deepEqual(awaited, { code: 0, stdout: "42\n", stderr: "" });
    const table = await runSnippet(port, "heap.top(3)");
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^type\s+count\s+shallow\s+retained\n/);
    // Header, rule, three rows, and the console's own objects left out.
    const lines = table.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 6, table.stdout);
    assert.match(lines[5]!, /^left out: the console's own /);
  }));

Deno.test("`main.ts console --json -e` prints the value as JSON, and an error as a JSON object with exit 1", (t) =>
  withService(async (_service, port) => {
    await t.step(
      "an error: {error: {name, message, stack}}, exit 1",
      async () => {
        const thrown = await runSnippet(
          port,
          "console.log('noise'); throw new TypeError('bad input')",
          { json: true },
        );
        assert.equal(thrown.code, 1);
        // Console output goes to stderr: stdout stays one JSON value.
        assert.equal(thrown.stderr, "noise\n");
        const { error } = JSON.parse(thrown.stdout);
        assert.equal(error.name, "TypeError");
        assert.equal(error.message, "bad input");
        assert.match(error.stack, /^TypeError: bad input\n/);
        const incomplete = await runSnippet(port, "[1,", {
          json: true,
        });
        assert.equal(incomplete.code, 1);
        assert.equal(
          JSON.parse(incomplete.stdout).error.name,
          "IncompleteInputError",
        );
      },
    );

    await t.step(
      "no console: {error: {name: ConnectionError}}, exit 2",
      async () => {
        const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const closed = (listener.addr as Deno.NetAddr).port;
        listener.close();
        const result = await runSnippet(["--port", String(closed)], "1", {
          json: true,
        });
        assert.equal(result.code, 2);
        assert.equal(result.stderr, "");
        assert.equal(JSON.parse(result.stdout).error.name, "ConnectionError");
      },
    );

    // NEEDS THE SERVER'S "format": "json" (branches `server` and `eval`):
    // against a console without it this step gets a ProtocolError object.
    await t.step(
      "a value: its JSON text, read by a JSON parser (jq)",
      async () => {
        const map = await runSnippet(
          port,
          "console.log('noise'); new Map([['a', { n: 1n, at: new Date(0) }]])",
          { json: true },
        );
        assert.equal(map.code, 0, map.stdout + map.stderr);
        assert.equal(map.stderr, "noise\n");
        assert.deepEqual(JSON.parse(map.stdout), {
          a: { n: "1", at: "1970-01-01T00:00:00.000Z" },
        });
        const top = await runSnippet(port, "heap.top(3)", {
          json: true,
        });
        assert.equal(top.code, 0, top.stdout + top.stderr);
        const rows = JSON.parse(top.stdout);
        assert.equal(rows.length, 3, top.stdout);
        assert.equal(typeof rows[0].count, "number");
      },
    );
  }));

Deno.test("`main.ts console -e --timeout` bounds one instance: a never-settling evaluation and a deaf listener exit 1", async () => {
  const service = await startService();
  await using deaf = listenDeaf();
  try {
    const pending = await runSnippet(
      ["--port", String(service.port), "--timeout", "0.5"],
      "console.log('started'); new Promise(() => {})",
    );
    assert.deepEqual(pending, {
      code: 1,
      stdout: "started\n",
      stderr:
        `error: no answer from 127.0.0.1:${service.port} within 500.0 ms (--timeout)\n`,
    });
    const deafPort = deaf.port;
    const json = await runSnippet(
      [
        "--port",
        String(deafPort),
        "--token",
        "any-token-will-do-0123456789",
        "--timeout",
        "0.5",
      ],
      "1",
      { json: true },
    );
    assert.equal(json.code, 1);
    assert.deepEqual(JSON.parse(json.stdout), {
      error: {
        name: "TimeoutError",
        message:
          `no answer from 127.0.0.1:${deafPort} within 500.0 ms (--timeout)`,
      },
    });
    // The service is unharmed and answers the next client at once.
    const after = await runSnippet(
      ["--port", String(service.port), "--timeout", "10"],
      "'fine'",
    );
    assert.deepEqual(after, { code: 0, stdout: '"fine"\n', stderr: "" });
  } finally {
    await service.stop();
  }
});
