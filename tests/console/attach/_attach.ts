/**
 * Helpers for attach's end-to-end tests: real target processes with no
 * leakwatch code (Deno and Node), `main.ts attach` run with the attach
 * task's permissions, and the machine-wide inspector port 9229 taken in
 * turn (a bounded wait while anyone else holds it).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  OutputLines,
  spawnDeno,
  spawnMain,
  taskFlags,
} from "../../_process.ts";
import { startTerminal, type Terminal } from "../client/_terminal.ts";

export { canUseScript } from "../client/_terminal.ts";
import { portHolders } from "../../../console/attach/listening_sockets.ts";
import { readProcess } from "../../../console/attach/process_facts.ts";

/** Deno's SIGUSR1 inspector port (hard-coded) and Node's default. */
export const INSPECTOR_PORT = 9229;

const TARGETS = new URL("./_targets/", import.meta.url);
const encoder = new TextEncoder();

/** A target process started by a test. */
export interface Target {
  /** Its pid. */
  pid: number;
  /** Its HTTP port. */
  port: number;
  /** Its stdout, line by line. */
  stdout: OutputLines;
  /** Its stderr, line by line. */
  stderr: OutputLines;
  /** Whether it still runs. */
  running(): Promise<boolean>;
  /** GET `path` (default `/`) on it (15 s at most); the response's text. */
  get(path?: string): Promise<string>;
  /** Stops it (SIGTERM) and gives how it ended and all it printed. */
  stop(): Promise<
    { signal: Deno.Signal | null; code: number; stdout: string; stderr: string }
  >;
}

/**
 * Starts `deno run --allow-net=127.0.0.1 _targets/SCRIPT ...args` and waits
 * for its `listening on PORT` line (and, unless `waitForHandler` is false,
 * for its SIGUSR1 handler).
 *
 * @param script The fixture's file name.
 * @param args Its arguments.
 * @param options Whether to wait for the handler (default true) and the
 * listening line (default true); extra `deno run` flags.
 * @returns The running target.
 */
export async function startDenoTarget(
  script = "deno_app.ts",
  args: string[] = [],
  options: {
    waitForHandler?: boolean;
    waitForListening?: boolean;
    denoFlags?: string[];
  } = {},
): Promise<Target> {
  const process = spawnDeno(
    [
      "run",
      "--allow-net=127.0.0.1",
      ...options.denoFlags ?? [],
      new URL(script, TARGETS).pathname,
      ...args,
    ],
    { deadlineMs: 30_000 },
  );
  return await started(process.child, process.stdout, process.stderr, {
    finish: process.finish,
    ...options,
  });
}

/**
 * Starts `node _targets/node_app.mjs` and waits for it to listen.
 *
 * @returns The running target.
 */
export async function startNodeTarget(): Promise<Target> {
  const child = new Deno.Command("node", {
    args: [new URL("node_app.mjs", TARGETS).pathname],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new OutputLines(child.stdout);
  const stderr = new OutputLines(child.stderr);
  return await started(child, stdout, stderr, {
    async finish() {
      const [status, out, err] = await Promise.all([
        child.status,
        stdout.rest(),
        stderr.rest(),
      ]);
      return { status, stdout: out, stderr: err };
    },
  });
}

async function started(
  child: Deno.ChildProcess,
  stdout: OutputLines,
  stderr: OutputLines,
  options: {
    finish(): Promise<
      { status: Deno.CommandStatus; stdout: string; stderr: string }
    >;
    waitForHandler?: boolean;
    waitForListening?: boolean;
  },
): Promise<Target> {
  let port = 0;
  try {
    if (options.waitForListening !== false) {
      const line = await stdout.waitFor(/^listening on \d+$/, 20_000);
      port = Number(line.split(" ").at(-1));
    }
    if (options.waitForHandler !== false) await waitForHandler(child.pid);
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Gone already.
    }
    await options.finish();
    throw error;
  }
  return {
    pid: child.pid,
    port,
    stdout,
    stderr,
    async running() {
      const facts = await readProcess(child.pid);
      return facts !== undefined && facts.state !== "Z";
    },
    async get(path = "/") {
      // Bounded: a target stuck in a loop must fail the test, not hang it.
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        signal: AbortSignal.timeout(15_000),
      });
      return await response.text();
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Gone already.
      }
      const { status, stdout, stderr } = await options.finish();
      return { signal: status.signal, code: status.code, stdout, stderr };
    },
  };
}

/**
 * Waits until a process has its SIGUSR1 handler (Deno installs it once the
 * main module has run).
 *
 * @param pid The process.
 * @param timeoutMs The bound.
 */
export async function waitForHandler(pid: number, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await readProcess(pid))?.catchesSigusr1) {
    if (Date.now() > deadline) {
      throw new Error(
        `pid ${pid} has no SIGUSR1 handler after ${timeoutMs} ms`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Runs `main.ts attach ...args` with the attach task's permissions.
 *
 * @param args The arguments after `attach`.
 * @param options Text for its stdin (closed after), a function run while it
 * runs (given the process), extra environment.
 * @returns Its exit code and output.
 */
export async function runAttach(
  args: string[],
  options: {
    stdin?: string;
    during?: (process: Awaited<ReturnType<typeof spawnMain>>) => Promise<void>;
    env?: Record<string, string>;
  } = {},
): Promise<
  { code: number; signal: Deno.Signal | null; stdout: string; stderr: string }
> {
  const process = await spawnMain(["attach", ...args], {
    task: "attach",
    stdin: options.stdin !== undefined,
    env: options.env,
  });
  if (options.stdin !== undefined) {
    const writer = process.child.stdin.getWriter();
    await writer.write(encoder.encode(options.stdin));
    await writer.close();
  }
  await options.during?.(process);
  return await process.finish();
}

/** The inspector port, held for one test. */
export interface PortTurn {
  /** Why the test cannot run now, when it cannot. */
  skip?: string;
  /** Gives the port back. */
  release(): void;
}

/**
 * Takes the inspector port for one test: a bounded wait lets whoever holds
 * 9229 finish (tests of one run are serial, so another holder is another
 * run's or another program's). When it stays taken, the test is skipped with
 * the holder named: never signal or stop a process the test did not start.
 *
 * @param waitMs How long to wait for the port.
 * @returns The turn; call `release()` after the test.
 */
export async function takeInspectorPort(waitMs = 120_000): Promise<PortTurn> {
  const deadline = Date.now() + waitMs;
  while (true) {
    const holders = await portHolders(INSPECTOR_PORT);
    if (holders.sockets.length === 0) return { release() {} };
    if (Date.now() > deadline) {
      return {
        skip: `port ${INSPECTOR_PORT} stayed taken by ${
          holders.pids.length > 0
            ? `pid ${holders.pids.join(", ")}`
            : "another user's process"
        } for ${waitMs / 1000} s`,
        release() {},
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Whether `pid` listens on the inspector port now.
 *
 * @param pid The process.
 * @returns `true` when it does.
 */
export async function holdsInspectorPort(pid: number): Promise<boolean> {
  return (await portHolders(INSPECTOR_PORT)).pids.includes(pid);
}

/**
 * Runs `main.ts attach PID` under a real pseudo-terminal (`script`), with
 * the attach task's permissions, in `home`.
 *
 * @param pid The target.
 * @param home The HOME (history goes there).
 * @returns Keys in, the screen out.
 */
export async function startTerminalAttach(
  pid: number,
  home: string,
): Promise<Terminal> {
  const flags = await taskFlags("attach", home);
  const command = ["deno", "run", ...flags, "main.ts", "attach", String(pid)]
    .map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(" ");
  return startTerminal(command, { HOME: home });
}

/**
 * Runs `fn` with the inspector port taken and `target` started; stops the
 * target after (asserting it was still running: attach never ended it).
 */
export async function withTarget(
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
