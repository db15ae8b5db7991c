/**
 * Keeps the V8 inspector that Deno opens on SIGUSR1 shut.
 *
 * Deno (2.9.2 and later, like Node) answers SIGUSR1 by opening its
 * inspector on 127.0.0.1:9229, with no authentication and no permission
 * needed: anyone on the machine who can reach that port can then evaluate
 * code in the process, read the console's token and stop it. Deno offers no
 * way to turn this off (no flag, environment variable, permission or V8
 * flag; its own SIGUSR1 handler runs beside any listener the program adds),
 * so the guard closes the inspector as soon as it opens and logs one line
 * saying what it refused and why. A window remains between Deno binding the
 * port and the guard closing it: see docs/security.md for its measured size.
 *
 * The guard's listener also keeps an early SIGUSR1 (in Deno's first ~500 ms,
 * before its own handler is installed) from killing the process.
 *
 * `node:inspector` is loaded when the first SIGUSR1 arrives, not before.
 *
 * @module
 */

import { logToStderr } from "./server/log.ts";

/** Where Deno's SIGUSR1 inspector listens (hard-coded in Deno). */
export const SIGNAL_INSPECTOR_ADDRESS = "127.0.0.1:9229";

/**
 * How long after a SIGUSR1 the guard keeps closing what opens. Deno opens
 * the inspector on the event loop's next turn after the signal; this only
 * bounds a busy loop's delay.
 */
export const WATCH_MS = 1_000;

/** Options for {@linkcode guardInspectorSignal}. */
export interface InspectorGuardOptions {
  /** Let SIGUSR1 open the inspector, as the operator asked (default `false`). */
  allow?: boolean;
  /**
   * How the operator allows it, for the refusal's log line, e.g. `"start
   * with --allow-inspector-signal"`.
   */
  howToAllow?: string;
  /** Where the guard's lines go; stderr by default (never throws). */
  log?: (line: string) => void;
}

type Inspector = typeof import("node:inspector");

/**
 * Guards the process against SIGUSR1's inspector: every inspector that
 * opens in the second after a SIGUSR1 is closed at once and one line says
 * so, unless `allow` is set (then one line says the inspector is open to
 * anyone on the machine).
 *
 * @param options Whether to allow it, how to, and where the line goes.
 * @returns Removes the guard.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { guardInspectorSignal } from "./inspector_guard.ts";
 * const lines: string[] = [];
 * const unguard = guardInspectorSignal({ log: (line) => lines.push(line) });
 * unguard();
 * assert.deepEqual(lines, []);
 * ```
 */
export function guardInspectorSignal(
  options: InspectorGuardOptions = {},
): () => void {
  // Windows has no SIGUSR1, and Deno no inspector signal there.
  if (Deno.build.os === "windows") return () => {};
  const log = options.log ?? logToStderr;
  const listener = options.allow
    ? () =>
      log(
        `SIGUSR1: Deno opens the V8 inspector on ${SIGNAL_INSPECTOR_ADDRESS} as allowed: anyone on this machine can run code in this process while it is open`,
      )
    : refuser(log, options.howToAllow);
  Deno.addSignalListener("SIGUSR1", listener);
  return () => Deno.removeSignalListener("SIGUSR1", listener);
}

/** What one watch after a SIGUSR1 (or a burst of them) saw. */
interface Watch {
  /** SIGUSR1s received during the watch. */
  signals: number;
  /** When the watch ends (`performance.now()`). */
  until: number;
}

/** The refusing listener: one watch at a time, one line per watch. */
function refuser(
  log: (line: string) => void,
  howToAllow: string | undefined,
): () => void {
  let watch: Watch | undefined;
  return () => {
    const now = performance.now();
    if (watch !== undefined) {
      watch.signals++;
      watch.until = now + WATCH_MS;
      return;
    }
    const current: Watch = { signals: 1, until: now + WATCH_MS };
    watch = current;
    closeWhatOpens(current, now).then(
      (closedAfterMs) => log(refusalLine(current, closedAfterMs, howToAllow)),
      (error) =>
        log(
          `SIGUSR1: could not check the V8 inspector: ${
            error instanceof Error ? error.message : error
          }`,
        ),
    ).finally(() => watch = undefined);
  };
}

/**
 * Closes the inspector on every turn until the watch ends, backing off
 * from every turn to every 50 ms.
 *
 * @returns How long after the signal the first open inspector was closed,
 * in ms, or `undefined` when none was seen open.
 */
async function closeWhatOpens(
  watch: Watch,
  signalledAt: number,
): Promise<number | undefined> {
  const inspector = await import("node:inspector");
  let closedAfterMs: number | undefined;
  let waitMs = 0;
  while (true) {
    const open = isOpen(inspector);
    // Closed whatever the probe says: it only tells what there was.
    inspector.close();
    if (open) closedAfterMs ??= performance.now() - signalledAt;
    if (performance.now() >= watch.until) return closedAfterMs;
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    waitMs = open ? 0 : Math.min(50, Math.max(1, waitMs * 2));
  }
}

/**
 * Whether an inspector server is open, without permissions and without
 * opening one: `open()` rejects a port above 65535, but first says the
 * inspector is already active when it is.
 */
function isOpen(inspector: Inspector): boolean {
  try {
    inspector.open(70_000);
  } catch (error) {
    return (error as { code?: string }).code ===
      "ERR_INSPECTOR_ALREADY_ACTIVATED";
  }
  // Never expected; whatever opened is closed by the caller.
  return true;
}

function refusalLine(
  watch: Watch,
  closedAfterMs: number | undefined,
  howToAllow: string | undefined,
): string {
  const signals = watch.signals === 1
    ? "SIGUSR1"
    : `SIGUSR1 (×${watch.signals})`;
  const allow = howToAllow === undefined ? "" : `; ${howToAllow} to allow it`;
  if (closedAfterMs === undefined) {
    return `${signals}: refused the V8 inspector; none opened (port ${
      SIGNAL_INSPECTOR_ADDRESS.split(":")[1]
    } taken, or Deno not listening for it yet)${allow}`;
  }
  return `${signals}: refused the V8 inspector Deno opened on ${SIGNAL_INSPECTOR_ADDRESS}, closed ${
    closedAfterMs.toFixed(1)
  } ms after the signal: it lets anyone on this machine run code in this process${allow}`;
}
