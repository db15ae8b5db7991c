/**
 * Cleanup that must run however the process ends: on a normal exit
 * (`unload`, which `Deno.exit()` also fires) and on the stop signals.
 *
 * Listening for a signal in Deno replaces its default action: a process
 * with a SIGTERM listener no longer dies of SIGTERM. So on a stop signal
 * the cleanups run, this module removes its own listeners and sends the
 * same signal to the process again: a host without a listener of its own
 * then dies of it exactly as it would have without the console (killed by
 * the signal, as its supervisor expects), and a host with one gets it as
 * usual (a second time: its first copy came with ours). A host that handles
 * stop signals itself registers with `signals: false` and runs the cleanup
 * from its own shutdown (`close()`).
 *
 * @module
 */

import {
  EXIT_SIGNALS,
  POSIX_EXIT_SIGNALS,
  signalExitCode,
} from "./exit_signals.ts";

/**
 * The stop signals whose default action ends the process and that a
 * process can catch: this platform's {@linkcode EXIT_SIGNALS}.
 */
export const CLEANUP_SIGNALS: readonly Deno.Signal[] = EXIT_SIGNALS;

/** One registered cleanup. */
interface Registration {
  run: () => void;
  signals: boolean;
}

const registrations = new Set<Registration>();
let unloadListening = false;
const signalListeners = new Map<Deno.Signal, () => void>();

/**
 * Runs `cleanup` once when the process exits normally or, with
 * `signals: true`, on a stop signal ({@linkcode CLEANUP_SIGNALS}), which is
 * then passed on to its default action. `cleanup` must be synchronous: the
 * process ends right after.
 *
 * @param cleanup Synchronous work (removing files).
 * @param options `signals`: also run on stop signals, then re-raise them.
 * @returns Unregisters `cleanup` (call it once it has run another way).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { onExit } from "./exit_cleanup.ts";
 * let ran = false;
 * const unregister = onExit(() => { ran = true; }, { signals: false });
 * unregister();
 * assert.equal(ran, false);
 * ```
 */
export function onExit(
  cleanup: () => void,
  options: { signals: boolean },
): () => void {
  const registration: Registration = {
    run: once(cleanup),
    signals: options.signals,
  };
  registrations.add(registration);
  updateListeners();
  return () => {
    registrations.delete(registration);
    updateListeners();
  };
}

function once(work: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    work();
  };
}

function runAll(filter: (registration: Registration) => boolean): void {
  for (const registration of [...registrations]) {
    if (!filter(registration)) continue;
    registrations.delete(registration);
    try {
      registration.run();
    } catch {
      // The process is ending: the other cleanups still run.
    }
  }
}

function onUnload(): void {
  runAll(() => true);
  updateListeners();
}

function onSignal(signal: Deno.Signal): void {
  runAll((registration) => registration.signals);
  updateListeners();
  if (signalListeners.has(signal)) return; // someone still wants it here
  if (!REPLAYABLE_SIGNALS.has(signal)) {
    // Deno 2.9.6 cannot deliver these to their default action once a
    // listener was removed (SIGPWR and SIGSTKFLT panic in ext/signals,
    // SIGIO is then ignored): end the way a shell reports the signal.
    Deno.exit(signalExitCode(signal));
  }
  try {
    Deno.kill(Deno.pid, signal);
  } catch {
    // Cannot re-raise: end the way a shell reports the signal.
    Deno.exit(signalExitCode(signal));
  }
}

/**
 * The exit signals Deno delivers to their default action when a process
 * re-raises them after removing its listener: the POSIX ones.
 */
const REPLAYABLE_SIGNALS: ReadonlySet<Deno.Signal> = new Set(
  POSIX_EXIT_SIGNALS,
);

/** Listens for exactly what the registrations need, no more. */
function updateListeners(): void {
  const wantUnload = registrations.size > 0;
  if (wantUnload !== unloadListening) {
    if (wantUnload) globalThis.addEventListener("unload", onUnload);
    else globalThis.removeEventListener("unload", onUnload);
    unloadListening = wantUnload;
  }
  const wantSignals = [...registrations].some((r) => r.signals);
  for (const signal of CLEANUP_SIGNALS) {
    const listener = signalListeners.get(signal);
    if (wantSignals && listener === undefined) {
      const added = () => onSignal(signal);
      Deno.addSignalListener(signal, added);
      signalListeners.set(signal, added);
    } else if (!wantSignals && listener !== undefined) {
      Deno.removeSignalListener(signal, listener);
      signalListeners.delete(signal);
    }
  }
}
