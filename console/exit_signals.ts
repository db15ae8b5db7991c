/**
 * The signals that would end the process and that it can catch, so a
 * service that hosts the console stops gracefully on each of them (its
 * token file and socket removed) instead of dying by the default action.
 *
 * The list is this platform's. Left out on purpose:
 *
 * - `SIGUSR1`: Deno opens its V8 inspector on it; see `inspector_guard.ts`.
 * - `SIGPROF`: the V8 CPU profiler's sampling signal. A profile started
 *   before the listener (`deno run --cpu-prof`, an inspector's
 *   `Profiler.start`) delivers it hundreds of times a second, and each one
 *   would read as a stop request.
 * - `SIGPIPE`: Deno ignores it (a write to a closed pipe fails with EPIPE);
 *   listening would turn every such write into a stop request.
 * - `SIGABRT`, `SIGBUS`, `SIGTRAP`, `SIGSYS`: crashes and traps. Their
 *   default action stays, so a crash still ends the process with its core.
 * - `SIGKILL`, `SIGSTOP`, `SIGILL`, `SIGFPE`, `SIGSEGV`: Deno refuses them.
 * - The real-time signals (`SIGRTMIN`…`SIGRTMAX`): Deno has no names for
 *   them, so they still end the process at once.
 *
 * @module
 */

import { constants } from "node:os";

/**
 * Caught everywhere signals exist: the POSIX terminating signals. These are
 * also the ones Deno delivers to their default action when a process
 * re-raises them after removing its listener (measured on Deno 2.9.6; the
 * platform extras, e.g. SIGIO, cannot be re-raised).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { POSIX_EXIT_SIGNALS } from "./exit_signals.ts";
 * assert.ok(POSIX_EXIT_SIGNALS.includes("SIGTERM"));
 * ```
 */
export const POSIX_EXIT_SIGNALS: readonly Deno.Signal[] = [
  "SIGHUP",
  "SIGINT",
  "SIGTERM",
  "SIGQUIT",
  "SIGUSR2",
  "SIGALRM",
  "SIGVTALRM",
  "SIGXCPU",
  "SIGXFSZ",
];

/**
 * The catchable signals whose default action ends a process on `os`, as
 * Deno names them (see the module's notes for the ones left out).
 *
 * @param os A `Deno.build.os` value.
 * @returns The signals, the usual stop requests first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exitSignalsFor } from "./exit_signals.ts";
 * assert.ok(exitSignalsFor("linux").includes("SIGQUIT"));
 * assert.ok(!exitSignalsFor("linux").includes("SIGUSR1"));
 * assert.deepEqual(exitSignalsFor("windows"), ["SIGINT", "SIGBREAK", "SIGHUP", "SIGTERM"]);
 * ```
 */
export function exitSignalsFor(
  os: typeof Deno.build.os,
): readonly Deno.Signal[] {
  switch (os) {
    case "windows":
      // Ctrl-C, Ctrl-Break, the console window closed, a shutdown.
      return ["SIGINT", "SIGBREAK", "SIGHUP", "SIGTERM"];
    case "linux":
    case "android":
      return [...POSIX_EXIT_SIGNALS, "SIGIO", "SIGPWR", "SIGSTKFLT"];
    case "darwin":
      // SIGIO is ignored by default there; SIGEMT ends the process.
      return [...POSIX_EXIT_SIGNALS, "SIGEMT"];
    default:
      return POSIX_EXIT_SIGNALS;
  }
}

/**
 * This platform's catchable terminating signals: listen for each of these
 * to stop gracefully however the process is asked to end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_SIGNALS } from "./exit_signals.ts";
 * assert.ok(EXIT_SIGNALS.includes("SIGINT"));
 * ```
 */
export const EXIT_SIGNALS: readonly Deno.Signal[] = exitSignalsFor(
  Deno.build.os,
);

/**
 * The conventional exit code of a process ended by `signal`: 128 plus its
 * number on this platform.
 *
 * @param signal A signal name.
 * @returns The exit code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signalExitCode } from "./exit_signals.ts";
 * assert.equal(signalExitCode("SIGINT"), 130);
 * assert.equal(signalExitCode("SIGTERM"), 143);
 * ```
 */
export function signalExitCode(signal: Deno.Signal): number {
  const numbers = constants.signals as Partial<Record<string, number>>;
  return 128 + (numbers[signal] ?? 0);
}
