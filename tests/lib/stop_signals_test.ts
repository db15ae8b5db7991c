import assert from "node:assert/strict";
import { EXIT_SIGNALS, signalExitCode } from "../../console/exit_signals.ts";
import { spawnMain, spawnTaskGroup, startServe } from "../_process.ts";
import { exists } from "../_files.ts";

const HOME = Deno.env.get("HOME")!;
const SOCKET = `${HOME}/.leakwatch/console.sock`;

/** Waits until a user load has reached the database (its miss is counted). */
async function untilLoading(url: string): Promise<void> {
  while (true) {
    const metrics = await (await fetch(`${url}metrics`)).text();
    if (/^users_cache_misses_total [1-9]/m.test(metrics)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Starts `main.ts serve` with its console on the state directory's unix
 * socket and a token file, and returns it with the token file's path.
 */
async function startWithConsole(args: string[] = []) {
  const service = await startServe(["--console-socket", SOCKET, ...args]);
  const line = await service.stdout.waitFor(/^console token in /);
  const tokenFile = line.slice("console token in ".length);
  assert.ok(await exists(tokenFile), tokenFile);
  assert.ok(await exists(SOCKET), SOCKET);
  return { ...service, tokenFile };
}

// SIGINT, SIGTERM and SIGHUP have tests of their own in serve_test.ts.
const OTHERS = EXIT_SIGNALS.filter((signal) =>
  !["SIGINT", "SIGTERM", "SIGHUP"].includes(signal)
);

Deno.test("EXIT_SIGNALS holds the terminating signals beyond SIGINT, SIGTERM and SIGHUP", () => {
  for (const signal of ["SIGQUIT", "SIGUSR2", "SIGALRM", "SIGXCPU"]) {
    assert.ok(OTHERS.includes(signal as Deno.Signal), signal);
  }
});

for (const signal of OTHERS) {
  Deno.test(`main.ts serve stops gracefully on ${signal}, removing its token file and socket`, async () => {
    const service = await startWithConsole(["--db-delay", "1500"]);
    const slow = fetch(`${service.url}users/slow-one`);
    await untilLoading(service.url);
    service.child.kill(signal);
    const response = await slow;
    assert.equal(response.status, 200);
    assert.equal((await response.json()).user_id, "slow-one");
    const { code, signal: killedBy, stderr } = await service.finish();
    assert.equal(killedBy, null, `ended by ${killedBy}:\n${stderr}`);
    assert.equal(code, 0, stderr);
    assert.match(stderr, new RegExp(`received ${signal}: finishing`));
    assert.match(stderr, /users service stopped/);
    assert.equal(await exists(service.tokenFile), false, "token file left");
    assert.equal(await exists(SOCKET), false, "socket left");
  });
}

Deno.test("main.ts serve takes a burst of one signal as one stop request and a different signal as a second", async () => {
  const burst = await startWithConsole();
  for (let i = 0; i < 5; i++) burst.child.kill("SIGUSR2");
  const first = await burst.finish();
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stderr.match(/received SIGUSR2/g)?.length, 1);
  assert.equal(await exists(burst.tokenFile), false);

  const twice = await startWithConsole(["--db-delay", "20000"]);
  const slow = fetch(`${twice.url}users/very-slow`).catch((error) => error);
  await untilLoading(twice.url);
  twice.child.kill("SIGALRM");
  await twice.stderr.waitFor(/received SIGALRM: finishing/);
  twice.child.kill("SIGQUIT");
  const second = await twice.finish();
  assert.equal(second.code, signalExitCode("SIGQUIT"), second.stderr);
  assert.match(second.stderr, /received SIGQUIT again: exiting now/);
  assert.ok(await slow instanceof Error);
  // An immediate exit leaves the token file: only the graceful path cleans.
  await Deno.remove(twice.tokenFile).catch(() => {});
  await Deno.remove(SOCKET).catch(() => {});
});

for (const signal of ["SIGQUIT", "SIGUSR2"] as const) {
  Deno.test(`deno task start stops once, with exit 0, when its process group gets ${signal} (the task forwards a copy)`, async () => {
    const group = spawnTaskGroup("start", [
      "--port",
      "0",
      "--console-socket",
      SOCKET,
    ]);
    try {
      await group.stdout.waitFor(/^console token in /, 30_000);
    } catch (error) {
      await group.signalGroup("SIGKILL");
      await group.finish();
      throw error;
    }
    await group.signalGroup(signal);
    const { code, stderr } = await group.finish();
    assert.equal(code, 0, stderr);
    assert.equal(stderr.match(/received SIG/g)?.length, 1, stderr);
    assert.equal(await exists(SOCKET), false, "socket left");
  });
}

Deno.test("main.ts serve under `deno run --cpu-prof` keeps serving: the profiler's SIGPROF is no stop request", async () => {
  const profiles = await Deno.makeTempDir({ prefix: "cpu-prof-" });
  const service = await spawnMain(["serve", "--port", "0", "--no-console"], {
    denoFlags: ["--cpu-prof", `--cpu-prof-dir=${profiles}`],
  });
  try {
    const line = await service.stdout.waitFor(/listening on http/);
    const url = line.match(/(http:\/\/\S+)/)![1]!;
    // Enough work for the profiler to sample many times.
    for (let i = 0; i < 300; i++) {
      assert.equal((await fetch(`${url}users/random`)).status, 200);
    }
    assert.doesNotMatch(service.stderr.text, /received SIG/);
    service.child.kill("SIGTERM");
    const { code, stderr } = await service.finish();
    assert.equal(code, 0, stderr);
    assert.equal(stderr.match(/received SIG/g)?.length, 1, stderr);
    const written = [...Deno.readDirSync(profiles)].map((entry) => entry.name);
    assert.ok(
      written.some((name) => name.endsWith(".cpuprofile")),
      `${written}`,
    );
  } finally {
    await Deno.remove(profiles, { recursive: true });
  }
});
