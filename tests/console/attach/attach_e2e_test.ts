/**
 * `main.ts attach` end to end, with real processes that have no leakwatch
 * code: a `deno run` app and a Node app attached by pid (SIGUSR1), one
 * started with `--inspect`, and the refusals that must leave a target
 * untouched. Every test that opens an inspector takes port 9229 in turn
 * (see `takeInspectorPort`), so the tests of this file run one at a time.
 */

import assert from "node:assert/strict";
import {
  canUseScript,
  holdsInspectorPort,
  INSPECTOR_PORT,
  runAttach,
  startDenoTarget,
  startNodeTarget,
  startTerminalAttach,
  takeInspectorPort,
  type Target,
} from "./_attach.ts";
import { spawnDeno } from "../../_process.ts";
import { readProcess } from "../../../console/attach/process_facts.ts";

/**
 * Runs `fn` with the inspector port taken and `target` started; stops the
 * target after (asserting it was still running: attach never ended it).
 */
async function withTarget(
  t: Deno.TestContext,
  start: () => Promise<Target>,
  fn: (target: Target) => Promise<void>,
): Promise<void> {
  const turn = await takeInspectorPort();
  if (turn.skip) {
    console.warn(`skipped "${t.name}": ${turn.skip}`);
    return;
  }
  try {
    const target = await start();
    try {
      await fn(target);
      assert.ok(await target.running(), "the target still runs after attach");
    } finally {
      const { signal } = await target.stop();
      // Ended by our SIGTERM, not by a SIGUSR1 or a crash.
      assert.equal(signal, "SIGTERM");
    }
  } finally {
    turn.release();
  }
}

/** Waits until the target's HTTP server no longer answers within 500 ms. */
async function waitUntilStalled(target: Target): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const answered = await Promise.race([
      target.get().then(() => true, () => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 500)),
    ]);
    if (!answered) return;
  }
  throw new Error("the target kept answering: the loop never ran");
}

/** The stderr line attach prints on leaving. */
function detachLine(stderr: string): string {
  return stderr.split("\n").find((line) =>
    /detached from pid|could not close/.test(line)
  ) ?? "";
}

Deno.test("attach PID -e evaluates in a plain deno run app, which keeps serving, and closes its inspector again", async (t) => {
  await withTarget(t, () => startDenoTarget(), async (target) => {
    await target.get();
    await target.get();
    const { code, stdout, stderr } = await runAttach([
      String(target.pid),
      "-e",
      "visits.size",
    ]);
    assert.equal(code, 0, stderr);
    assert.equal(stdout, "2\n");
    assert.match(
      stderr,
      new RegExp(
        `warning: while attached, 127\\.0\\.0\\.1:${INSPECTOR_PORT} is open to every local user: anyone on this machine can run code as pid ${target.pid}`,
      ),
    );
    assert.match(
      detachLine(stderr),
      new RegExp(
        `^detached from pid ${target.pid}: its inspector is closed again \\(127\\.0\\.0\\.1:${INSPECTOR_PORT} was open to local users for [\\d.]+ s\\)$`,
      ),
    );
    assert.equal(await holdsInspectorPort(target.pid), false);
    assert.equal(await target.get(), "visits: 3\n");
    // The app's own stderr says its inspector opened once (our signal).
    await target.stderr.waitFor(
      /Debugger listening on ws:\/\/127\.0\.0\.1:9229\//,
    );
  });
});

Deno.test("attach PID with piped input: TypeScript, a variable that survives across evaluations, the target's console output, JSON, errors with <console> frames; the session's variables are released at detach", async (t) => {
  await withTarget(t, () => startDenoTarget(), async (target) => {
    await target.get();
    const { code, stdout, stderr } = await runAttach([String(target.pid)], {
      stdin: [
        "const first: number = visits.size",
        "console.log('from the target:', first, { nested: { deep: [1, 2] } })",
        "let bytes = new Uint8Array(1024 * 1024)",
        "first + 41",
        "function fail(): never {",
        "  throw new RangeError('no ' + first)",
        "}",
        "fail()",
        "_error.message",
        "await new Promise((resolve) => setTimeout(() => resolve('later'), 20))",
        "",
      ].join("\n"),
    });
    assert.equal(code, 1, "a snippet failed, so the transcript exits 1");
    assert.equal(
      stdout,
      'undefined\nfrom the target: 1 { nested: { deep: [ 1, 2 ] } }\nundefined\nundefined\n42\nundefined\n"no 1"\n"later"\n',
    );
    assert.match(
      stderr,
      /Uncaught RangeError: no 1\n {4}at fail \(<console>:2:9\)\n {4}at <console>:1:1/,
    );
    assert.match(
      detachLine(stderr),
      /session variables released: first, bytes, fail$/,
    );
    // Released in the target: the names stay (REPL declarations), the values go.
    const after = await runAttach([
      String(target.pid),
      "-e",
      "[typeof first, typeof bytes, typeof fail, typeof _]",
    ]);
    assert.equal(
      after.stdout,
      '[ "undefined", "undefined", "undefined", "undefined" ]\n',
    );
    assert.equal(after.code, 0, after.stderr);
  });
});

Deno.test("attach PID -e --json prints the value as the in-process console converts it (Maps, bigints), and an error as JSON", async (t) => {
  await withTarget(t, () => startDenoTarget(), async (target) => {
    const value = await runAttach([
      String(target.pid),
      "--json",
      "-e",
      "new Map([['a', { n: 10n, when: new Date(0) }]])",
    ]);
    assert.equal(value.code, 0, value.stderr);
    assert.equal(
      value.stdout,
      '{"a":{"n":"10","when":"1970-01-01T00:00:00.000Z"}}\n',
    );
    const error = await runAttach([
      String(target.pid),
      "--json",
      "-e",
      "null.x",
    ]);
    assert.equal(error.code, 1);
    const parsed = JSON.parse(error.stdout);
    assert.equal(parsed.error.name, "TypeError");
    assert.match(parsed.error.message, /null/);
  });
});

Deno.test("attach PID: SIGINT during -e 'while (true) {}' stops the loop in the target, detaches and closes the inspector (exit 130); the target keeps serving", async (t) => {
  await withTarget(t, () => startDenoTarget(), async (target) => {
    const { code, stderr } = await runAttach(
      [String(target.pid), "-e", "let spins = 0; while (true) { spins++ }"],
      {
        async during(attach) {
          await attach.stderr.waitFor(/^warning: while attached/);
          // Once the loop runs, the target's HTTP server stops answering.
          await waitUntilStalled(target);
          attach.child.kill("SIGINT");
        },
      },
    );
    assert.equal(code, 130, stderr);
    assert.match(
      stderr,
      new RegExp(`SIGINT: detaching from pid ${target.pid}`),
    );
    assert.match(detachLine(stderr), /its inspector is closed again/);
    assert.equal(await holdsInspectorPort(target.pid), false);
    // Served again: the loop was stopped, not waited out.
    assert.match(await target.get(), /^visits: \d+\n$/);
  });
});

Deno.test("attach PID in a Node app: evaluation, a variable across evaluations, console output, completion of its own globals", async (t) => {
  await withTarget(t, () => startNodeTarget(), async (target) => {
    await target.get();
    const { code, stdout, stderr } = await runAttach([String(target.pid)], {
      stdin: [
        "let sizes: number[] = [visits.size]",
        "sizes.push(visits.size + 1); sizes",
        "console.warn('node says', process.version.startsWith('v'))",
        "visits",
        "",
      ].join("\n"),
    });
    assert.equal(code, 0, stderr);
    assert.match(
      stdout,
      /^undefined\n\[ 1, 2 \]\nundefined\nMap\(1\) \{ 0 => \{ path: '\/', at: \d+ \} \}\n$/,
    );
    assert.match(stderr, /^node says true$/m);
    assert.match(
      detachLine(stderr),
      /its inspector is closed again.*session variables released: sizes$/,
    );
    assert.equal(await holdsInspectorPort(target.pid), false);
    assert.equal(await target.get(), "visits: 2\n");
  });
});

Deno.test("attach PID: SIGINT stops a synchronous loop in a Node target too", async (t) => {
  await withTarget(t, () => startNodeTarget(), async (target) => {
    const { code, stderr } = await runAttach(
      [String(target.pid), "-e", "while (true) {}"],
      {
        async during(attach) {
          await attach.stderr.waitFor(/^warning: while attached/);
          await new Promise((resolve) => setTimeout(resolve, 300));
          attach.child.kill("SIGINT");
        },
      },
    );
    assert.equal(code, 130, stderr);
    assert.equal(await holdsInspectorPort(target.pid), false);
    assert.equal(await target.get(), "visits: 1\n");
  });
});

Deno.test("attach PID: a target that exits while attached ends the session with one line, exit 2, nothing left open", async (t) => {
  const turn = await takeInspectorPort();
  if (turn.skip) return console.warn(`skipped "${t.name}": ${turn.skip}`);
  try {
    const target = await startDenoTarget();
    const { code, stderr } = await runAttach(
      [String(target.pid), "-e", "await new Promise(() => {})"],
      {
        async during(attach) {
          await attach.stderr.waitFor(/^warning: while attached/);
          await target.stop();
        },
      },
    );
    assert.equal(code, 2, stderr);
    assert.match(
      stderr,
      new RegExp(
        `^error: lost the connection to pid ${target.pid}'s inspector \\(.*\\): has the process exited\\?$`,
        "m",
      ),
    );
    assert.match(
      stderr,
      new RegExp(`pid ${target.pid} has exited: nothing left open`),
    );
  } finally {
    turn.release();
  }
});

Deno.test("attach refuses a host that closes SIGUSR1's inspector itself, in one line and without hanging; the host survives", async (t) => {
  const start = () =>
    // node:inspector needs --allow-sys, as a guarding host has.
    startDenoTarget("guarded_app.ts", [], { denoFlags: ["--allow-sys"] });
  await withTarget(t, start, async (target) => {
    const started = performance.now();
    const { code, stdout, stderr } = await runAttach([
      String(target.pid),
      "-e",
      "1",
    ]);
    assert.equal(code, 2, stderr);
    assert.equal(stdout, "");
    assert.match(
      stderr,
      new RegExp(
        `^error: pid ${target.pid} did not keep an inspector open on 127\\.0\\.0\\.1:9229 within 5 s of SIGUSR1; it is still running\\. It may close it itself|^error: pid ${target.pid} closed`,
        "m",
      ),
    );
    assert.ok(performance.now() - started < 20_000, "no hang");
    // The guard's one line for the signal, and nothing left listening.
    await target.stderr.waitFor(/^SIGUSR1( \(×\d+\))?: refused/, 30_000);
    assert.equal(await holdsInspectorPort(target.pid), false);
    assert.equal(await target.get(), "ok\n");
  });
});

Deno.test("attach refuses a Deno process still in its top-level code (no SIGUSR1 handler yet: the signal would kill it), which survives", async () => {
  // No inspector is opened: no need for the port.
  const target = await startDenoTarget("slow_start.ts", ["4000"], {
    waitForHandler: false,
    waitForListening: false,
  });
  try {
    await target.stdout.waitFor(/^starting$/);
    const { code, stderr } = await runAttach([String(target.pid), "-e", "1"]);
    assert.equal(code, 2);
    assert.match(
      stderr,
      new RegExp(
        `^error: pid ${target.pid} \\(Deno, started \\d+ s ago\\) has not installed its SIGUSR1 handler .*: a signal now would kill it`,
      ),
    );
    // Not signalled: it finishes starting and serves.
    const line = await target.stdout.waitFor(/^listening on \d+$/);
    const port = Number(line.split(" ").at(-1));
    assert.equal(
      await (await fetch(`http://127.0.0.1:${port}/`)).text(),
      "ok\n",
    );
  } finally {
    const { signal, stderr } = await target.stop();
    assert.equal(signal, "SIGTERM");
    assert.doesNotMatch(stderr, /Debugger listening/);
  }
});

Deno.test("attach refuses a process that is neither Deno nor Node (sleep), which survives, and a pid that does not exist", async () => {
  const sleep = new Deno.Command("sleep", { args: ["60"] }).spawn();
  try {
    const { code, stderr } = await runAttach([String(sleep.pid)]);
    assert.equal(code, 2);
    assert.match(
      stderr,
      new RegExp(
        `^error: pid ${sleep.pid} runs \\S*sleep, which is neither Deno nor Node: SIGUSR1 would open no inspector there and might end it`,
      ),
    );
    assert.equal(
      (await readProcess(sleep.pid))?.state,
      "S",
      "sleep still sleeps",
    );
  } finally {
    sleep.kill("SIGTERM");
    assert.equal((await sleep.status).signal, "SIGTERM");
  }
  const gone = await runAttach(["4194303", "-e", "1"]);
  assert.equal(gone.code, 2);
  assert.equal(
    gone.stderr.trim().split("\n").at(-1),
    "error: no process with pid 4194303",
  );
});

Deno.test("attach refuses when another process holds port 9229 (the target would fail to open its inspector), without signalling the target", async (t) => {
  await withTarget(t, () => startDenoTarget(), async (target) => {
    const squatter = Deno.listen({
      hostname: "127.0.0.1",
      port: INSPECTOR_PORT,
    });
    try {
      const { code, stderr } = await runAttach([String(target.pid), "-e", "1"]);
      assert.equal(code, 2);
      assert.match(
        stderr,
        new RegExp(
          `^error: port 9229, where pid ${target.pid} would open its inspector, is taken by pid ${Deno.pid} \\(\\S*deno test`,
          "m",
        ),
      );
    } finally {
      squatter.close();
    }
    const { code, stdout } = await runAttach([
      String(target.pid),
      "-e",
      "1 + 1",
    ]);
    assert.equal(code, 0);
    assert.equal(stdout, "2\n");
  });
});

Deno.test("attach refuses a deno task runner and names the program it runs", async () => {
  const dir = await Deno.makeTempDir();
  const app = new URL("./_targets/deno_app.ts", import.meta.url).pathname;
  try {
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({
        tasks: { app: `deno run --allow-net=127.0.0.1 ${app}` },
      }),
    );
    const task = spawnDeno(["task", "app"], { cwd: dir });
    try {
      await task.stdout.waitFor(/^listening on \d+$/);
      const program = await childOf(task.child.pid);
      const { code, stderr } = await runAttach([String(task.child.pid)]);
      assert.equal(code, 2);
      assert.equal(
        stderr.trim().split("\n").at(-1),
        `error: pid ${task.child.pid} is "deno task", which runs no program of yours: the task's program is pid ${program}`,
      );
    } finally {
      task.child.kill("SIGTERM");
      await task.finish();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The one child of `pid`, by ps. */
async function childOf(pid: number): Promise<number> {
  const ps = await new Deno.Command("ps", {
    args: ["-o", "pid=", "--ppid", String(pid)],
  }).output();
  const pids = new TextDecoder().decode(ps.stdout).trim().split(/\s+/);
  assert.equal(pids.length, 1, `children of ${pid}: ${pids}`);
  return Number(pids[0]);
}

Deno.test("attach --inspect ws://… reaches a process started with --inspect on its own port, and leaves that inspector open as found", async () => {
  const process = spawnDeno([
    "run",
    "--inspect=127.0.0.1:0",
    "--allow-net=127.0.0.1",
    new URL("./_targets/deno_app.ts", import.meta.url).pathname,
  ]);
  try {
    const line = await process.stderr.waitFor(/^Debugger listening on ws:\/\//);
    const url = line.replace(/^Debugger listening on /, "");
    await process.stdout.waitFor(/^listening on \d+$/);
    const { code, stdout, stderr } = await runAttach([
      "--inspect",
      url,
      "-e",
      "visits.size + 5",
    ]);
    assert.equal(code, 0, stderr);
    assert.equal(stdout, "5\n");
    assert.match(stderr, /was open before attach and stays open/);
    assert.match(
      stderr,
      new RegExp(
        `detached from pid ${process.child.pid}; its inspector on 127\\.0\\.0\\.1:\\d+ stays open, as it was before attach`,
      ),
    );
    // Still open: a second attach by HOST:PORT finds it.
    const port = new URL(url).port;
    const again = await runAttach([
      "--inspect",
      `127.0.0.1:${port}`,
      "-e",
      "typeof inspect",
    ]);
    assert.equal(again.stdout, '"function"\n');
  } finally {
    process.child.kill("SIGTERM");
    await process.finish();
  }
});

Deno.test({
  name:
    "attach PID under a pseudo-terminal: the banner warns of the open port, Tab completes the target's names, Ctrl-C stops a synchronous loop, Ctrl-D detaches and closes the inspector",
  ignore: !canUseScript(),
  async fn(t) {
    await withTarget(t, () => startDenoTarget(), async (target) => {
      const home = await Deno.makeTempDir();
      try {
        const terminal = await startTerminalAttach(target.pid, home);
        await terminal.waitFor(
          new RegExp(
            `attached to pid ${target.pid} \\(deno [\\d.]+: file://\\S+deno_app\\.ts\\)[\\s\\S]*warning: while attached, 127\\.0\\.0\\.1:9229 is open to every local user[\\s\\S]*>>> $`,
          ),
        );
        await terminal.type("visits.si");
        await terminal.type("\t");
        await terminal.waitFor(/>>> visits\.size$/);
        await terminal.type("\r");
        await terminal.waitFor(/visits\.size\n0\n>>> $/);
        assert.ok(
          terminal.raw.includes("\x1b[33m0\x1b[39m"),
          "values in colour",
        );
        await terminal.type("while (true) {}\r");
        await waitUntilStalled(target);
        await terminal.type("\x03");
        await terminal.waitFor(
          /\^C interrupt sent: [^\n]*a synchronous loop of the snippet is stopped in the target\.\nPress Ctrl-C again to detach\.\nInterrupted \(the loop was stopped in the target\)\n(?:visit \d+\n)*>>> $/,
        );
        // (The requests that waited for the loop may log their visits before
        // the prompt comes back.)
        // Served again (the requests that waited for the loop count too).
        assert.match(await target.get(), /^visits: \d+\n$/);
        await terminal.type("\x04");
        const { code, stderr } = await terminal.finish();
        assert.equal(code, 0, `${terminal.visible()}\n${stderr}`);
        assert.match(
          terminal.visible(),
          /detached from pid \d+: its inspector is closed again/,
        );
        assert.equal(await holdsInspectorPort(target.pid), false);
        const history = await Deno.readTextFile(
          `${home}/.leakwatch/console_history`,
        );
        assert.equal(history, "visits.size\nwhile (true) {}\n");
      } finally {
        await Deno.remove(home, { recursive: true });
      }
    });
  },
});
