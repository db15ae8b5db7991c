import assert from "node:assert/strict";
import {
  EXIT_SIGNALS,
  exitSignalsFor,
  signalExitCode,
} from "../../console/exit_signals.ts";

Deno.test("EXIT_SIGNALS: Deno lets a process listen for every one of them", () => {
  assert.ok(EXIT_SIGNALS.length > 0);
  assert.equal(new Set(EXIT_SIGNALS).size, EXIT_SIGNALS.length);
  for (const signal of EXIT_SIGNALS) {
    const listener = () => {};
    Deno.addSignalListener(signal, listener);
    Deno.removeSignalListener(signal, listener);
  }
});

Deno.test("exitSignalsFor() leaves out the inspector's, the profiler's, SIGPIPE and the crash signals on every platform", () => {
  const kept = [
    "SIGUSR1",
    "SIGPROF",
    "SIGPIPE",
    "SIGABRT",
    "SIGBUS",
    "SIGTRAP",
    "SIGSYS",
    "SIGSEGV",
    "SIGKILL",
  ];
  for (const os of ["linux", "darwin", "freebsd", "windows"] as const) {
    const signals = exitSignalsFor(os);
    assert.ok(signals.includes("SIGINT") && signals.includes("SIGTERM"), os);
    for (const signal of kept) {
      assert.ok(!signals.includes(signal as Deno.Signal), `${os}: ${signal}`);
    }
  }
  assert.ok(exitSignalsFor("linux").includes("SIGPWR"));
  assert.ok(!exitSignalsFor("darwin").includes("SIGPWR"));
});

Deno.test("signalExitCode() is 128 plus the platform's signal number", () => {
  if (Deno.build.os !== "linux") return;
  assert.equal(signalExitCode("SIGHUP"), 129);
  assert.equal(signalExitCode("SIGQUIT"), 131);
  assert.equal(signalExitCode("SIGUSR2"), 140);
  assert.equal(signalExitCode("SIGPWR"), 158);
});
