/**
 * The `compile` task of deno.json, run with its exact flags. `deno compile`
 * downloads its runtime (denort) unless `DENORT_BIN` names one, and this
 * machine has no internet: without `DENORT_BIN` the build may fail, but only
 * at that download, after the module graph and types have checked. With
 * `DENORT_BIN`, the binary is built and run as `serve` and `console`.
 */

import assert from "node:assert/strict";
import { exists } from "./_files.ts";
import { OutputLines } from "./_process.ts";

const ROOT = new URL("../", import.meta.url);
const COMPILE_TIMEOUT_MS = 120_000;
const DENORT_BIN = Deno.env.get("DENORT_BIN");
// The test run's own path (see tests/run.ts), so that the test task can grant
// `--allow-run` for it. Deno then refuses this process writes to it, so a
// `deno` child removes it.
const BINARY_DIR = `${
  Deno.env.get("LEAKWATCH_TEST_DIR") ?? Deno.makeTempDirSync()
}/compile`;
const BINARY = `${BINARY_DIR}/leakwatch`;

// What deno compile prints when the build is broken before, or besides, the
// runtime download.
const BROKEN =
  /Module not found|Cannot find module|\[ERROR\]|Type checking failed|NotCapable|PermissionDenied|Requires \S+ access|Relative import path|not a dependency|unexpected argument|overflowed its stack|panicked/i;

/** The `compile` task's command, `$HOME` expanded. */
interface CompileTask {
  /** The words that run the compile script, after `deno`. */
  script: string[];
  /** The arguments the script hands to `deno compile`, before `main.ts`. */
  flags: string[];
}

/** Reads the `compile` task: `deno run ... .ci/compile.ts FLAGS main.ts`. */
async function compileTask(): Promise<CompileTask> {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  );
  const command: string = config.tasks.compile.command;
  const words = command.replaceAll("$HOME", Deno.env.get("HOME") ?? "")
    .trim().split(/\s+/);
  const script = words.indexOf(".ci/compile.ts");
  assert.deepEqual(words.slice(0, 2), ["deno", "run"], command);
  assert.ok(script > 1, command);
  assert.equal(words.at(-1), "main.ts", command);
  return {
    script: words.slice(1, script + 1),
    flags: words.slice(script + 1, -1),
  };
}

/** The task's flags without its `--output`, and its `--include` paths. */
function splitFlags(flags: string[]): { kept: string[]; includes: string[] } {
  const kept: string[] = [];
  const includes: string[] = [];
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i]!;
    if (flag === "--output" || flag === "-o") {
      i++;
      continue;
    }
    if (flag.startsWith("--output=")) continue;
    kept.push(flag);
    if (flag === "--include") includes.push(flags[i + 1]!);
    if (flag.startsWith("--include=")) includes.push(flag.slice(10));
  }
  return { kept, includes };
}

/**
 * Runs the `compile` task's command with `--output` set to `output`; kills
 * it after {@linkcode COMPILE_TIMEOUT_MS} in case the download hangs.
 */
async function compileTo(
  output: string,
  env: Record<string, string> = {},
): Promise<{ code: number; log: string; timedOut: boolean }> {
  const task = await compileTask();
  const { kept } = splitFlags(task.flags);
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, COMPILE_TIMEOUT_MS);
  try {
    // By name, not Deno.execPath(): the test task grants --allow-run=deno.
    const result = await new Deno.Command("deno", {
      args: [...task.script, "--output", output, ...kept, "main.ts"],
      cwd: ROOT,
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).output();
    const decoder = new TextDecoder();
    // deno compile reports on stderr; stdout is kept in case that changes.
    const log = decoder.decode(result.stdout) + decoder.decode(result.stderr);
    return { code: result.code, log, timedOut };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("deno task compile checks the module graph; only the denort download may fail", async () => {
  // deno compile reads the --include files only once it has the runtime.
  for (const include of splitFlags((await compileTask()).flags).includes) {
    assert.ok(
      await exists(new URL(include, ROOT).pathname),
      `--include ${include} does not exist`,
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "leakwatch-compile-" });
  try {
    const output = `${dir}/leakwatch`;
    const { code, log, timedOut } = await compileTo(output);
    assert.ok(!timedOut, `deno compile hung for ${COMPILE_TIMEOUT_MS} ms`);
    assert.doesNotMatch(log, BROKEN);
    if (code === 0) {
      assert.ok((await Deno.stat(output)).size > 0, log);
      return;
    }
    const lines = log.split("\n");
    const error = lines.findIndex((line) => line.startsWith("error: "));
    assert.ok(error > 0, `exit ${code} without an error line:\n${log}`);
    // Only progress lines come before the error, the download of denort last.
    for (const line of lines.slice(0, error)) {
      assert.match(line, /^(Check|Compile|Download) /, log);
    }
    assert.match(lines[error - 1]!, /^Download https:\/\/\S+\/denort-/, log);
    assert.match(log, /^ {4}0: Setting up base binary\.$/m);
    assert.match(log, /^ {4}1: error sending request for url \(\S+\/denort-/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task compile embeds the npm packages and the --include worker (deno standing in for denort)", async () => {
  // Embedding comes after the download. Any binary gets compile there: the
  // result of this one runs as plain deno, so it is built but not run.
  const dir = await Deno.makeTempDir({ prefix: "leakwatch-compile-" });
  try {
    const output = `${dir}/leakwatch`;
    const { code, log, timedOut } = await compileTo(output, {
      DENORT_BIN: Deno.execPath(),
    });
    assert.ok(!timedOut, `deno compile hung for ${COMPILE_TIMEOUT_MS} ms`);
    assert.equal(code, 0, `deno compile failed:\n${log}`);
    assert.doesNotMatch(log, BROKEN);
    assert.match(log, /^Embedded Files$/m);
    assert.match(log, /\bprom-client\/15\.1\.3\b/);
    assert.match(log, /\banalysis_worker\.ts\b/);
    const base = (await Deno.stat(Deno.execPath())).size;
    assert.ok((await Deno.stat(output)).size > base);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs a command to completion; returns its exit code and output. */
async function run(
  command: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const result = await new Deno.Command(command, {
    args,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    stdout: decoder.decode(result.stdout),
    stderr: decoder.decode(result.stderr),
  };
}

/** Removes {@linkcode BINARY_DIR} with a `deno` child (see there why). */
async function removeBinaryDir(): Promise<void> {
  const { code, stderr } = await run("deno", [
    "eval",
    `await Deno.remove(${JSON.stringify(BINARY_DIR)}, { recursive: true })` +
    ".catch((e) => { if (!(e instanceof Deno.errors.NotFound)) throw e; });",
  ]);
  assert.equal(code, 0, stderr);
}

/** Runs `serve` from the binary, asks its `console`, then stops it. */
async function checkBinary(binary: string): Promise<void> {
  const token = "compile-" + crypto.randomUUID();
  const server = new Deno.Command(binary, {
    args: ["serve", "--port", "0", "--console-port", "0"]
      .concat(["--console-token", token]),
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new OutputLines(server.stdout);
  const stderr = new OutputLines(server.stderr);
  const finish = () =>
    Promise.all([server.status, stdout.rest(), stderr.rest()]);
  try {
    const http = await stdout.waitFor(/^users service listening on http/);
    const url = http.match(/(http:\/\/\S+)/)![1]!;
    const consoleLine = await stdout.waitFor(/^console listening on /);
    const port = consoleLine.match(/:(\d+)$/)![1]!;

    const response = await fetch(`${url}users/abc`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.equal((await response.json()).user_id, "abc");

    const client = ["console", "--port", port, "--token", token, "-e"];
    const size = await run(binary, [...client, "cache.size"]);
    assert.equal(size.code, 0, size.stderr);
    assert.equal(size.stdout, "1\n");
    // heap.top() analyses a snapshot in the Worker the binary embeds.
    const top = await run(binary, [...client, "heap.top(3)"]);
    assert.equal(top.code, 0, top.stderr);
    assert.notEqual(top.stdout.trim(), "");
  } catch (error) {
    try {
      server.kill("SIGKILL");
    } catch {
      // It has exited already.
    }
    await finish();
    throw error;
  }
  server.kill("SIGTERM");
  const [status, , errors] = await finish();
  assert.equal(status.code, 0, errors);
}

Deno.test({
  name:
    "deno task compile builds a binary that serves, answers its console and exits 0 on SIGTERM (needs DENORT_BIN)",
  ignore: DENORT_BIN === undefined,
  async fn() {
    const permission = await Deno.permissions.query({
      name: "run",
      command: BINARY,
    });
    assert.equal(
      permission.state,
      "granted",
      `the test task needs --allow-run=deno,dot,script,${BINARY}`,
    );
    await removeBinaryDir();
    try {
      const { code, log, timedOut } = await compileTo(BINARY);
      assert.ok(!timedOut, `deno compile hung for ${COMPILE_TIMEOUT_MS} ms`);
      assert.equal(code, 0, log);
      await checkBinary(BINARY);
    } finally {
      await removeBinaryDir();
    }
  },
});
