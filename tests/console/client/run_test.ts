/**
 * Black-box tests of `main.ts console`: a real service, the client run with
 * the `console` task's permissions, checked by stdout, stderr and exit code.
 */

import assert from "node:assert/strict";
import { spawnMain, startServe } from "../../_process.ts";
import { screenOf } from "./_terminal.ts";

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
      const { code } = await service.finish();
      assert.equal(code, 0);
    },
  };
}

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
  return await client.finish();
}

Deno.test("`main.ts console` evaluates -e snippets and piped transcripts against a running service", async (t) => {
  const service = await startService();
  const port = ["--port", String(service.port)];
  try {
    await t.step(
      "-e prints the value and exits 0, finding the token file by itself",
      async () => {
        const result = await runClient([...port, "-e", "cache.size + 40"]);
        assert.deepEqual(result, { code: 0, stdout: "40\n", stderr: "" });
      },
    );

    await t.step(
      "-e prints the snippet's console output to the stream it names",
      async () => {
        const result = await runClient([
          ...port,
          "-e",
          "console.log('to stdout'); console.error('to stderr'); ({ ok: true })",
        ]);
        assert.deepEqual(result, {
          code: 0,
          stdout: "to stdout\n{ ok: true }\n",
          stderr: "to stderr\n",
        });
        const quiet = await runClient([...port, "-e", "console.log('only')"]);
        assert.deepEqual(quiet, { code: 0, stdout: "only\n", stderr: "" });
      },
    );

    await t.step(
      "-e exits 1 with the error on stderr, an incomplete snippet too",
      async () => {
        const thrown = await runClient([
          ...port,
          "-e",
          "throw new Error('boom')",
        ]);
        assert.equal(thrown.code, 1);
        assert.equal(thrown.stdout, "");
        assert.match(thrown.stderr, /^Uncaught Error: boom\n/);
        const incomplete = await runClient([...port, "-e", "[1, 2"]);
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
      const result = await runClient(port, { stdin: "1\nfunction f() {\n" });
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
        const flag = await runClient([
          ...port,
          "--token",
          "not-the-token",
          "-e",
          "1",
        ]);
        assert.deepEqual(flag, {
          code: 2,
          stdout: "",
          stderr:
            `error: authentication failed at 127.0.0.1:${service.port}: invalid console token (from --token)\n`,
        });
        const env = await runClient([...port, "-e", "1"], {
          env: { CONSOLE_TOKEN: "not-the-token" },
        });
        assert.equal(env.code, 2);
        assert.match(
          env.stderr,
          /invalid console token \(from CONSOLE_TOKEN\)\n$/,
        );
      },
    );
  } finally {
    await service.stop();
  }
});

Deno.test("`main.ts console` says it cannot connect in exactly one line and exits 2", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const result = await runClient(["--port", String(port), "-e", "1"]);
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
    const result = await runClient(["--port", String(service.port), "-e", "1"]);
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      `error: no console token file "${path}" (if the service was started with --console-token, pass --token TOKEN or set CONSOLE_TOKEN)\n`,
    );
    const given = await runClient([
      "--port",
      String(service.port),
      "--token",
      token,
      "-e",
      "'in'",
    ]);
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
    const result = await runClient(["--socket", socket, "-e", "'over unix'"]);
    assert.deepEqual(result, { code: 0, stdout: '"over unix"\n', stderr: "" });
    const env = await runClient([], {
      stdin: "1 + 1\n",
      env: { CONSOLE_SOCKET: socket },
    });
    assert.deepEqual(env, { code: 0, stdout: "2\n", stderr: "" });
  } finally {
    await service.stop();
  }
  const gone = await runClient(["--socket", socket, "-e", "1"]);
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
  const port = await runClient(["--port", "99999", "-e", "1"]);
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

/** Whether `script` (util-linux) may run here, for a real pseudo-terminal. */
function canUseScript(): boolean {
  const { state } = Deno.permissions.querySync({
    name: "run",
    command: "script",
  });
  if (state !== "granted") return false;
  return (Deno.env.get("PATH") ?? "").split(":").some((dir) => {
    try {
      return Deno.statSync(`${dir}/script`).isFile;
    } catch {
      return false;
    }
  });
}

Deno.test({
  name:
    "`main.ts console` under a pseudo-terminal: prompts, colours, Tab completion, continuation, Ctrl-C, history, Ctrl-D",
  ignore: !canUseScript(),
  async fn() {
    const service = await startService();
    const realHome = Deno.env.get("HOME")!;
    const home = await Deno.makeTempDir(); // keeps the user's history clean
    try {
      const token = (await Deno.readTextFile(
        `${realHome}/.leakwatch/console/tcp-${service.port}.token`,
      )).trim();
      const config = JSON.parse(
        await Deno.readTextFile(new URL("../../../deno.json", import.meta.url)),
      );
      const command = (config.tasks.console.command as string)
        .replaceAll("$HOME", home)
        .replace(/ main\.ts console$/, "") +
        ` main.ts console --port ${service.port}`;
      const denoDir = Deno.env.get("DENO_DIR") ??
        `${Deno.env.get("XDG_CACHE_HOME") ?? `${realHome}/.cache`}/deno`;
      const child = new Deno.Command("script", {
        args: ["-qfec", command, "/dev/null"],
        cwd: new URL("../../../", import.meta.url),
        env: {
          HOME: home,
          DENO_DIR: denoDir,
          CONSOLE_TOKEN: token,
          TERM: "xterm-256color",
        },
        clearEnv: false,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      let screen = "";
      const reading = (async () => {
        for await (
          const chunk of child.stdout.pipeThrough(new TextDecoderStream())
        ) screen += chunk;
      })();
      const stderr = new Response(child.stderr).text();
      const keys = child.stdin.getWriter();
      const visible = () => screenOf(screen);
      const waitFor = async (pattern: RegExp) => {
        const deadline = Date.now() + 10_000;
        while (!pattern.test(visible())) {
          if (Date.now() > deadline) {
            throw new Error(`No ${pattern} on screen:\n${visible()}`);
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      const type = async (text: string) => {
        await keys.write(encoder.encode(text));
        await new Promise((resolve) => setTimeout(resolve, 50));
      };

      await waitFor(/leakwatch console \(protocol 2\)[\s\S]*>>> $/);
      await type("cache.si");
      await type("\t");
      await waitFor(/cache\.size$/);
      await type("\r");
      await waitFor(/cache\.size\n0\n>>> $/);
      assert.ok(screen.includes("\x1b[33m0\x1b[39m"), "values in colour");
      await type("[1,\r");
      await waitFor(/\.\.\. $/);
      await type("2]\r");
      await waitFor(/2\]\n\[ 1, 2 \]\n>>> $/);
      await type("typo(");
      await type("\x03");
      await waitFor(/typo\(\^C\n>>> $/);
      await type("\x04");
      await keys.close();
      const status = await child.status;
      await reading;
      assert.equal(status.code, 0, `${visible()}\n${await stderr}`);
      const history = await Deno.readTextFile(
        `${home}/.leakwatch/console_history`,
      );
      assert.equal(
        history,
        "cache.size\n[1,\n2]\ntypo(\n".replace("typo(\n", ""),
      );
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
