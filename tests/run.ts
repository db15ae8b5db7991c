/**
 * The test task's runner: gives each run a directory of its own, so tests
 * never write into the real `$HOME` and two runs on one machine cannot
 * collide. It sets `HOME` and `TMPDIR` to that directory (keeping Deno's own
 * cache where it is), runs `deno test` on the tests and on the doc examples
 * of `lib/`, `console/` and `bench/`, removes the directory and exits with
 * the test run's code.
 *
 * ```sh
 * deno task test                      # everything
 * deno task test tests/lib/           # some files (extra arguments go to deno test)
 * ```
 *
 * @module
 */

/** What the test processes may do: loopback, the run's console socket, and the tools the tests start. */
export function testPermissions(runDir: string): string[] {
  return [
    `--allow-net=127.0.0.1,unix:${runDir}/console.sock,unix:${runDir}/home/.leakwatch/console.sock`,
    "--allow-env",
    "--allow-read",
    "--allow-write",
    `--allow-run=deno,dot,script,promtool,prometheus,node,chromium,sleep,ps,ss,readlink,kill,${runDir}/compile/leakwatch`,
    "--allow-sys",
  ];
}

async function denoDir(): Promise<string> {
  const fromEnv = Deno.env.get("DENO_DIR");
  if (fromEnv) return fromEnv;
  const { stdout } = await new Deno.Command("deno", {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return JSON.parse(new TextDecoder().decode(stdout)).denoDir;
}

async function main(): Promise<number> {
  const runDir = await Deno.makeTempDir({ prefix: "leakwatch-test-" });
  const home = `${runDir}/home`;
  await Deno.mkdir(home);
  const targets = Deno.args.length > 0 ? Deno.args : ["tests/"];
  const docs = Deno.args.length > 0
    ? []
    : ["--doc", "lib/", "console/", "bench/"];
  try {
    const { code } = await new Deno.Command("deno", {
      args: ["test", ...testPermissions(runDir), ...docs, ...targets],
      env: {
        DENO_DIR: await denoDir(),
        HOME: home,
        TMPDIR: runDir,
        LEAKWATCH_TEST_DIR: runDir,
      },
    }).spawn().status;
    return code;
  } finally {
    await Deno.remove(runDir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
