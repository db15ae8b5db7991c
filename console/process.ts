/**
 * Process hygiene for a service that must not be the thing that takes it
 * down, for any Deno host (the users service uses it too): log lines that
 * never throw when stderr or stdout is gone, the catchable signals that
 * should stop a service gracefully, the guard that keeps the V8 inspector
 * Deno opens on SIGUSR1 shut, and its open handles (Deno resources by
 * type, file descriptors where readable). `startConsole()` installs the
 * guard by itself; a host calls these directly when it wants them without
 * a console, or from start-up.
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_SIGNALS, logToStderr, logWriteFailures } from "./process.ts";
 *
 * logToStderr("service starting");
 * assert.ok(EXIT_SIGNALS.includes("SIGTERM"));
 * assert.equal(typeof logWriteFailures().stderr, "number");
 * ```
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { openHandles } from "./process.ts";
 *
 * const handles = openHandles();
 * assert.ok(handles.resources >= 3); // stdin, stdout, stderr at least
 * ```
 *
 * Signals and the inspector window: `docs/security.md`.
 *
 * @module
 */

export { logToStderr, logWriteFailures, printToStdout } from "./server/log.ts";
export { EXIT_SIGNALS, signalExitCode } from "./exit_signals.ts";
export {
  guardInspectorSignal,
  type InspectorGuardOptions,
} from "./inspector_guard.ts";
export { type OpenHandles, openHandles } from "./toolkit/process_handles.ts";
