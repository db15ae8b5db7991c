/**
 * Helpers for black-box tests: run `main.ts` as a real process with the
 * permissions its `deno task` uses, and read what it prints.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { Readable } from "node:stream";

const ROOT = new URL("../", import.meta.url);

/**
 * The `deno run` flags of a task in deno.json (e.g. `start`), with `$HOME`
 * expanded as `deno task` does, so tests run with the real permission set.
 *
 * @param task The task's name.
 * @param home The `$HOME` to expand; the test's own by default.
 * @param root The checkout whose `deno.json` to read (this one by default).
 * @returns The flags between `deno run` and `main.ts`.
 */
export async function taskFlags(
  task: string,
  home = Deno.env.get("HOME") ?? "",
  root: string | URL = ROOT,
): Promise<string[]> {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", directoryUrl(root))),
  );
  const command: string = config.tasks[task].command;
  const words = command.replaceAll("$HOME", home)
    .split(/\s+/);
  const start = words.indexOf("run") + 1;
  return words.slice(start, words.indexOf("main.ts"));
}

/**
 * The `deno` arguments that run `main.ts` with a task's permissions:
 * `run`, the task's flags, `denoFlags`, `main.ts`, then `args`.
 *
 * @param args The subcommand and its flags.
 * @param options The task (default `start`), the `$HOME` to expand in its
 * flags, extra deno flags such as `--v8-flags=...`, another checkout.
 * @returns The arguments for `deno`.
 */
export async function mainArgs(
  args: string[],
  options: {
    task?: string;
    home?: string;
    denoFlags?: string[];
    root?: string;
  } = {},
): Promise<string[]> {
  const flags = await taskFlags(
    options.task ?? "start",
    options.home,
    options.root,
  );
  return ["run", ...flags, ...options.denoFlags ?? [], "main.ts", ...args];
}

/** A directory as a URL that ends with a slash (for resolving in it). */
function directoryUrl(root: string | URL): URL {
  const url = root instanceof URL
    ? root
    : new URL(`file://${root.replace(/\/?$/, "/")}`);
  return url.href.endsWith("/") ? url : new URL(`${url.href}/`);
}

/**
 * A child process's output read line by line (the console's own
 * `LineReader` reads a connection; this one reads a test's child).
 */
export class OutputLines {
  #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  /** Everything read so far. */
  text = "";

  /** @param stream A process's stdout or stderr. */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }

  /**
   * Reads up to the next line that matches, within `timeoutMs`.
   *
   * @param pattern What the line must match.
   * @param timeoutMs How long to wait.
   * @returns The matching line.
   */
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const newline = this.#buffer.indexOf("\n");
      if (newline !== -1) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        if (pattern.test(line)) return line;
        continue;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(`No line matching ${pattern} in:\n${this.text}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const result = await Promise.race([
        this.#reader.read(),
        new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), remaining);
        }),
      ]);
      clearTimeout(timer);
      if (result === "timeout") continue;
      if (result.done) {
        throw new Error(`Stream ended before ${pattern}:\n${this.text}`);
      }
      this.#buffer += result.value;
      this.text += result.value;
    }
  }

  /**
   * Reads the rest of the stream.
   *
   * @returns Everything the stream printed, from the start.
   */
  async rest(): Promise<string> {
    while (true) {
      const { done, value } = await this.#reader.read();
      if (done) return this.text;
      this.text += value;
    }
  }
}

/** A `main.ts` process started by {@linkcode spawnMain}. */
export interface MainProcess {
  /** The child process. */
  child: Deno.ChildProcess;
  /** Its stdout, line by line. */
  stdout: OutputLines;
  /** Its stderr, line by line. */
  stderr: OutputLines;
  /** Waits for the exit (the code, or the signal that ended it) and the rest of the output. */
  finish(): Promise<{
    code: number;
    signal: Deno.Signal | null;
    stdout: string;
    stderr: string;
  }>;
}

/**
 * Starts `main.ts` with a task's permissions.
 *
 * @param args The subcommand and its flags.
 * @param options The task whose permissions to use, extra environment,
 * extra deno flags; `allowAll` runs with `--allow-all` instead of the
 * task's flags (Deno refuses it beside scoped ones); `root` runs another
 * checkout's `main.ts` (with its own task flags; a bench compares with the
 * `main` branch so).
 * @returns The running process.
 */
export async function spawnMain(
  args: string[],
  options: {
    task?: string;
    env?: Record<string, string>;
    stdin?: boolean;
    home?: string;
    denoFlags?: string[];
    allowAll?: boolean;
    root?: string | URL;
  } = {},
): Promise<MainProcess> {
  const root = options.root instanceof URL
    ? options.root.pathname
    : options.root;
  const process = spawnDeno(
    options.allowAll
      ? ["run", "--allow-all", "main.ts", ...args]
      : await mainArgs(args, { ...options, root }),
    {
      cwd: root === undefined ? ROOT : directoryUrl(root),
      env: {
        ...options.home === undefined ? {} : { HOME: options.home },
        ...options.env,
      },
      stdin: options.stdin,
      deadlineMs: null,
    },
  );
  return {
    ...process,
    async finish() {
      const { status, stdout, stderr } = await process.finish();
      return { code: status.code, signal: status.signal, stdout, stderr };
    },
  };
}

/**
 * Runs `main.ts` to completion.
 *
 * @param args The subcommand and its flags.
 * @param options The task whose permissions to use, extra environment, a
 * `HOME` of its own.
 * @returns The exit code and output.
 */
export async function runMain(
  args: string[],
  options: { task?: string; env?: Record<string, string>; home?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const process = await spawnMain(args, options);
  const { code, stdout, stderr } = await process.finish();
  return { code, stdout, stderr };
}

/**
 * Starts `main.ts serve` on a free port and waits for its listening line.
 *
 * @param args Extra `serve` flags.
 * @param options Extra environment.
 * @returns The process and the service's base URL.
 */
export async function startServe(
  args: string[] = [],
  options: { env?: Record<string, string>; home?: string } = {},
): Promise<MainProcess & { url: string }> {
  const process = await spawnMain(["serve", "--port", "0", ...args], options);
  const line = await process.stdout.waitFor(/listening on http/);
  const url = line.match(/(http:\/\/\S+)/)![1]!;
  return { ...process, url };
}

/** A `deno task` started by {@linkcode spawnTaskGroup}, leading its own process group. */
export interface TaskGroup {
  /** The task's pid, which is also the group's id. */
  pgid: number;
  /** Its stdout, line by line. */
  stdout: OutputLines;
  /** Its stderr, line by line. */
  stderr: OutputLines;
  /** Sends `signal` to the whole group, as a terminal's Ctrl-C or systemd's stop does. */
  signalGroup(signal: Deno.Signal): Promise<void>;
  /** Waits for the exit and the rest of the output. */
  finish(): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/**
 * Runs `deno task NAME ...args` in a new session and process group
 * (`setsid`, through `node:child_process`'s `detached`), so a test can
 * signal the group the way a terminal or a service manager does.
 *
 * @param task The task's name, e.g. `start`.
 * @param args The flags the task passes on.
 * @returns The running group.
 */
export function spawnTaskGroup(task: string, args: string[]): TaskGroup {
  return spawnGroup(["task", task, ...args]);
}

/**
 * Runs `main.ts` with a task's permissions under a lower open-files limit
 * (`ulimit -n`), in a process group of its own. The test task may run only
 * `deno`, so a short-lived deno with `--allow-run` starts the shell that
 * sets the limit and then becomes the service.
 *
 * @param limit The soft limit on open file descriptors.
 * @param args The subcommand and its flags.
 * @param task The task whose permissions to use.
 * @returns The running group.
 */
export async function spawnWithFileLimit(
  limit: number,
  args: string[],
  task = "start",
): Promise<TaskGroup> {
  const command = ["deno", ...await mainArgs(args, { task })];
  // The launcher outlives a group signal (the service gets it too) and
  // exits with the service's code.
  const launcher = `
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
      Deno.addSignalListener(signal, () => {});
    }
    const child = new Deno.Command("bash", {
      args: ["-c", 'ulimit -n ${limit} && exec "$@"', "bash", ...${
    JSON.stringify(command)
  }],
    }).spawn();
    Deno.exit((await child.status).code);
  `;
  return spawnGroup(["eval", "--allow-run", launcher]);
}

function spawnGroup(args: string[]): TaskGroup {
  const child = spawn("deno", args, {
    cwd: ROOT,
    detached: true,
    env: { ...Deno.env.toObject(), NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on("exit", (code) => resolve(code));
  });
  const toWeb = (stream: Readable | null) =>
    Readable.toWeb(stream!) as unknown as ReadableStream<Uint8Array>;
  const stdout = new OutputLines(toWeb(child.stdout));
  const stderr = new OutputLines(toWeb(child.stderr));
  const pgid = child.pid!;
  return {
    pgid,
    stdout,
    stderr,
    async signalGroup(signal) {
      // Deno.kill of a pid it did not spawn needs --allow-run for every
      // program; the test task grants only `deno`, so a short-lived deno
      // with that one right sends it.
      const { success, stderr } = await new Deno.Command("deno", {
        args: [
          "eval",
          "--allow-run",
          `Deno.kill(-${pgid}, ${JSON.stringify(signal)})`,
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!success) {
        throw new Error(
          `Cannot send ${signal} to group ${pgid}: ${
            new TextDecoder().decode(stderr)
          }`,
        );
      }
    },
    async finish() {
      const [code, out, err] = await Promise.all([
        exited,
        stdout.rest(),
        stderr.rest(),
      ]);
      return { code, stdout: out, stderr: err };
    },
  };
}

/** A `deno` child started by {@linkcode spawnDeno}. */
export interface DenoProcess {
  /** The child process. */
  child: Deno.ChildProcess;
  /** Its stdout, line by line. */
  stdout: OutputLines;
  /** Its stderr, line by line. */
  stderr: OutputLines;
  /**
   * Waits for the exit and the rest of the output. A child still running
   * at the deadline is killed (SIGKILL), so a hang fails the test instead
   * of stalling it.
   */
  finish(): Promise<{
    status: Deno.CommandStatus;
    stdout: string;
    stderr: string;
  }>;
}

/**
 * Runs `deno ...args` (a test's helper script, an example's task) with its
 * output piped and read line by line.
 *
 * @param args The arguments after `deno`.
 * @param options The working directory, extra environment, a piped stdin,
 * and how long `finish()` waits before it kills (default 30 s; `null`:
 * as long as it takes).
 * @returns The running process.
 */
export function spawnDeno(
  args: string[],
  options: {
    cwd?: string | URL;
    env?: Record<string, string>;
    stdin?: boolean;
    deadlineMs?: number | null;
  } = {},
): DenoProcess {
  // By name, not Deno.execPath(): the test task grants --allow-run=deno.
  const child = new Deno.Command("deno", {
    args,
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new OutputLines(child.stdout);
  const stderr = new OutputLines(child.stderr);
  return {
    child,
    stdout,
    stderr,
    async finish() {
      const deadlineMs = options.deadlineMs === undefined
        ? 30_000
        : options.deadlineMs;
      const timer = deadlineMs === null ? undefined : setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }, deadlineMs);
      try {
        const [status, out, err] = await Promise.all([
          child.status,
          stdout.rest(),
          stderr.rest(),
        ]);
        return { status, stdout: out, stderr: err };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
