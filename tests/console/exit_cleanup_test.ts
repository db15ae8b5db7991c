import assert from "node:assert/strict";
import { CLEANUP_SIGNALS } from "../../console/exit_cleanup.ts";
import { signalExitCode } from "../../console/exit_signals.ts";
import { exists } from "../_files.ts";
import { spawnDeno } from "../_process.ts";

const CHILD = new URL("./_exit_child.ts", import.meta.url).pathname;

/** Starts the child in `mode` with a fresh marker file, once it is ready. */
async function startChild(mode: string) {
  const dir = await Deno.makeTempDir({ prefix: "exit-cleanup-" });
  const marker = `${dir}/marker`;
  await Deno.writeTextFile(marker, "");
  const process = spawnDeno([
    "run",
    `--allow-read=${dir}`,
    `--allow-write=${dir}`,
    CHILD,
    mode,
    marker,
  ]);
  await process.stdout.waitFor(/^ready$/, 30_000);
  return {
    child: process.child,
    async finish() {
      // A child that ignores the signal is killed at the deadline: the
      // test fails instead of hanging.
      const result = await process.finish();
      const markerLeft = await exists(marker);
      await Deno.remove(dir, { recursive: true });
      return { ...result, markerLeft };
    },
  };
}

/** Deno 2.9.6 cannot re-raise these to their default action (see exit_cleanup.ts). */
const NOT_REPLAYABLE = ["SIGIO", "SIGPWR", "SIGSTKFLT"];

for (const signal of CLEANUP_SIGNALS) {
  const replayable = !NOT_REPLAYABLE.includes(signal);
  Deno.test(
    `onExit() cleans up on ${signal}, then the process ${
      replayable
        ? `dies of ${signal} as it would without a listener`
        : `exits ${signalExitCode(signal)}, as a shell reports ${signal}`
    }`,
    async () => {
      const child = await startChild("signals");
      child.child.kill(signal);
      const { status, markerLeft, stderr } = await child.finish();
      if (replayable) assert.equal(status.signal, signal, stderr);
      else assert.equal(status.code, signalExitCode(signal), stderr);
      assert.doesNotMatch(stderr, /panicked/);
      assert.equal(markerLeft, false);
    },
  );
}

Deno.test("onExit() leaves a host's own SIGTERM listener in charge: it runs, the process ends its way", async () => {
  const child = await startChild("host-listener");
  child.child.kill("SIGTERM");
  const { status, stdout, markerLeft } = await child.finish();
  assert.equal(status.code, 0);
  assert.equal(status.signal, null);
  assert.match(stdout, /^host got SIGTERM \(1\)$/m);
  assert.equal(markerLeft, false);
});

Deno.test("onExit() cleans up on a normal end and on Deno.exit(), keeping the exit code", async () => {
  const normal = await startChild("exit-normally");
  const ended = await normal.finish();
  assert.equal(ended.status.code, 0, ended.stderr);
  assert.equal(ended.markerLeft, false);
  const exited = await startChild("exit-3");
  const result = await exited.finish();
  assert.equal(result.status.code, 3, result.stderr);
  assert.equal(result.markerLeft, false);
});

Deno.test("onExit() with signals: false does not listen: SIGTERM keeps its default action, and the files stay", async () => {
  const child = await startChild("no-signals");
  child.child.kill("SIGTERM");
  const { status, markerLeft } = await child.finish();
  assert.equal(status.signal, "SIGTERM");
  assert.equal(markerLeft, true);
});

Deno.test("onExit()'s unregister stops both the cleanup and the signal listeners", async () => {
  const child = await startChild("unregistered");
  child.child.kill("SIGTERM");
  const { status, markerLeft } = await child.finish();
  assert.equal(status.signal, "SIGTERM");
  assert.equal(markerLeft, true);
});

Deno.test("onExit() survives a burst of stop signals: one cleanup, dead of the first", async () => {
  const child = await startChild("signals");
  for (const signal of ["SIGTERM", "SIGINT", "SIGTERM", "SIGHUP"] as const) {
    try {
      child.child.kill(signal);
    } catch {
      break; // already gone
    }
  }
  const { status, markerLeft, stderr } = await child.finish();
  assert.ok(
    status.signal !== null && CLEANUP_SIGNALS.includes(status.signal),
    `exit ${status.code}, signal ${status.signal}: ${stderr}`,
  );
  assert.doesNotMatch(stderr, /error/i);
  assert.equal(markerLeft, false);
});
