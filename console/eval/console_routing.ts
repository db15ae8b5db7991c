/**
 * Routes `console.*` calls made on behalf of a console session to that
 * session's output, using `AsyncLocalStorage` so the routing follows the
 * snippet into the functions it calls, across `await`, timers and
 * microtasks. Calls outside any session reach the original console.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { ROUTED_METHODS, type SessionConsole } from "./session_console.ts";

/** The async context of one evaluation. */
export interface OutputContext {
  /** The session's console. */
  readonly console: SessionConsole;
  /**
   * Whether the evaluation is still waited for. Cleared when it returns or
   * is interrupted: output of work it left running is background output
   * from then on.
   */
  pending: boolean;
  /**
   * Reports an error nobody caught (thrown in a microtask or timer, or a
   * rejection nobody handled); called within the context. Must not throw;
   * if it does anyway, the error is dropped rather than ending the process.
   */
  reportUncaught(error: unknown, inPromise: boolean): void;
}

const storage = new AsyncLocalStorage<OutputContext>();
let installed = false;

/**
 * Patches the global console once per process (later calls do nothing) and
 * listens for errors that escape a session's snippet:
 *
 * - each method in `ROUTED_METHODS` goes to the current session's console
 *   (also after the evaluation returned or was interrupted: the work it left
 *   running keeps its output), and to the original method when no session
 *   is current or the session was closed (work a snippet left running shows
 *   in the service's own output then);
 * - an unhandled promise rejection, or an error thrown in a microtask or a
 *   `setTimeout` / `setInterval` callback, that belongs to a session is
 *   handed to the context's `reportUncaught` and does not end the process,
 *   whatever was thrown (a proxy whose every trap throws included). Errors
 *   outside sessions, and other callbacks a snippet registers (event
 *   listeners, I/O), throw into the process as usual.
 *
 * Code that saved a console method before the patch keeps the original.
 *
 * @example
 * ```ts
 * import { installConsoleRouting } from "./console_routing.ts";
 *
 * installConsoleRouting();
 * installConsoleRouting(); // idempotent
 * ```
 */
export function installConsoleRouting(): void {
  if (installed) return;
  installed = true;
  const target = console as unknown as Record<
    string,
    (...args: unknown[]) => void
  >;
  for (const method of ROUTED_METHODS) {
    const original = target[method];
    if (typeof original !== "function") continue;
    const routed = {
      [method](this: unknown, ...args: unknown[]): void {
        const context = storage.getStore();
        if (
          context === undefined || context.console.writing ||
          context.console.closed
        ) {
          return original.apply(this, args);
        }
        context.console[method](...args);
      },
    }[method]!;
    target[method] = routed;
  }
  guardTimers();
  globalThis.addEventListener("unhandledrejection", (event) => {
    const context = storage.getStore();
    if (context === undefined) return;
    event.preventDefault();
    reportSafely(context, event.reason, true);
  });
  globalThis.addEventListener("error", (event) => {
    const context = storage.getStore();
    if (context === undefined) return;
    event.preventDefault();
    reportSafely(context, event.error, false);
  });
}

/** An error escaping the report itself would end the process: drop it. */
function reportSafely(
  context: OutputContext,
  error: unknown,
  inPromise: boolean,
): void {
  try {
    context.reportUncaught(error, inPromise);
  } catch {
    // Nothing left to tell the session with; the process must go on.
  }
}

/**
 * Wraps the callbacks of `setTimeout`, `setInterval` and `queueMicrotask`
 * calls made in a session, so that an exception thrown by a snippet's timer
 * or microtask is reported to the session instead of ending the process.
 * (Deno cannot even report a microtask's throw of a proxy whose traps throw
 * through the global "error" event.) Calls outside sessions get the
 * original functions with their own callbacks.
 */
function guardTimers(): void {
  const timers = globalThis as unknown as Record<
    string,
    (...args: unknown[]) => unknown
  >;
  for (const name of ["setTimeout", "setInterval", "queueMicrotask"]) {
    const original = timers[name];
    if (typeof original !== "function") continue;
    timers[name] = {
      [name](this: unknown, callback: unknown, ...rest: unknown[]): unknown {
        const context = storage.getStore();
        if (context === undefined || typeof callback !== "function") {
          return original.call(this, callback, ...rest);
        }
        const guarded = function (this: unknown, ...args: unknown[]): unknown {
          try {
            return callback.apply(this, args);
          } catch (error) {
            reportSafely(context, error, false);
          }
        };
        return original.call(this, guarded, ...rest);
      },
    }[name]!;
  }
}

/**
 * Runs `fn` with `context` as the current session context; async work that
 * `fn` starts keeps it.
 *
 * @example
 * ```ts
 * import { installConsoleRouting, runInContext } from "./console_routing.ts";
 * import { createSessionConsole } from "./session_console.ts";
 * import assert from "node:assert/strict";
 *
 * installConsoleRouting();
 * const lines: string[] = [];
 * const sessionConsole = createSessionConsole({ write: (_stream, text) => lines.push(text) });
 * const context = { console: sessionConsole, pending: true, reportUncaught() {} };
 * runInContext(context, () => console.log("hi"));
 * assert.deepEqual(lines, ["hi\n"]);
 * ```
 *
 * @param context The evaluation's context.
 * @param fn What to run.
 * @returns What `fn` returns.
 */
export function runInContext<T>(context: OutputContext, fn: () => T): T {
  return storage.run(context, fn);
}

/**
 * The session context of the code running now, if any.
 *
 * @example
 * ```ts
 * import { currentContext, runInContext } from "./console_routing.ts";
 * import { createSessionConsole } from "./session_console.ts";
 * import assert from "node:assert/strict";
 *
 * const context = {
 *   console: createSessionConsole({ write() {} }),
 *   pending: true,
 *   reportUncaught() {},
 * };
 * assert.equal(currentContext(), undefined);
 * assert.equal(runInContext(context, currentContext), context);
 * ```
 *
 * @returns The context, or `undefined` outside every session.
 */
export function currentContext(): OutputContext | undefined {
  return storage.getStore();
}
