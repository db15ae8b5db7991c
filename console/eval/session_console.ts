/**
 * One console session's `console` methods: they format like Deno's console
 * and write to the session's output instead of the process's stdout/stderr,
 * with the session's own group indentation, counters and timers.
 *
 * @module
 */

import { formatArgs, type FormatOptions } from "./format_args.ts";
import { renderConsoleTable } from "./console_table.ts";

/** About one piece of a session's output. */
export interface OutputInfo {
  /**
   * `true` when no evaluation of the session is waiting for this output:
   * it comes from work an earlier snippet left running (a timer, an
   * interrupted evaluation, a rejection nobody handled). A JSON session
   * sends it with `id: null`.
   */
  background: boolean;
}

/** Where a session's console output goes. */
export interface EvalOutput {
  /**
   * Receives whole lines, each ending with `"\n"`. The evaluator passes
   * `info`; a session console on its own does not.
   */
  write(stream: "stdout" | "stderr", text: string, info?: OutputInfo): void;
}

/** The console methods a session handles; others keep their global behaviour. */
export const ROUTED_METHODS = [
  "log",
  "info",
  "debug",
  "warn",
  "error",
  "dir",
  "dirxml",
  "table",
  "trace",
  "assert",
  "count",
  "countReset",
  "group",
  "groupCollapsed",
  "groupEnd",
  "time",
  "timeLog",
  "timeEnd",
  "clear",
] as const;

/** A console method name that sessions take over. */
export type RoutedMethod = typeof ROUTED_METHODS[number];

/** A session's console. */
export type SessionConsole =
  & { [M in RoutedMethod]: (...args: unknown[]) => void }
  & {
    /** Whether output is being written right now (guards against re-entry). */
    readonly writing: boolean;
    /** Whether the session is closed: `print` drops text from now on. */
    readonly closed: boolean;
    /** Writes `text` plus a newline to the session's stream. */
    print(stream: "stdout" | "stderr", text: string): void;
    /** Closes the session: further text is dropped. */
    close(): void;
  };

/** Options for {@linkcode createSessionConsole}. */
export interface SessionConsoleOptions {
  /** Color inspected values with ANSI escapes. */
  colors?: boolean;
  /** Cleans stack frames in what the console prints (`console.trace`, logged errors). */
  cleanStack?: (stack: string) => string;
}

/**
 * Creates the console methods for one session.
 *
 * @example
 * ```ts
 * import { createSessionConsole } from "./session_console.ts";
 * import assert from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const sessionConsole = createSessionConsole({ write: (_stream, text) => lines.push(text) });
 * sessionConsole.log("%s=%d", "n", 42);
 * assert.deepEqual(lines, ["n=42\n"]);
 * ```
 *
 * @param output Where the session's text goes.
 * @param options Colors and stack cleaning.
 * @returns The session's console.
 */
export function createSessionConsole(
  output: EvalOutput,
  options: SessionConsoleOptions = {},
): SessionConsole {
  const colors = options.colors ?? false;
  const cleanStack = options.cleanStack ?? ((stack: string) => stack);
  const counts = new Map<string, number>();
  const timers = new Map<string, number>();
  let indent = 0;
  let writing = false;
  let closed = false;

  const write = (stream: "stdout" | "stderr", text: string) => {
    if (closed) return;
    writing = true;
    try {
      output.write(stream, text);
    } catch {
      // A session whose connection broke must not break the snippet.
    } finally {
      writing = false;
    }
  };
  const print = (stream: "stdout" | "stderr", text: string) =>
    write(stream, `${text}\n`);
  // Errors logged by a snippet show its frames, not the console's.
  const format = (args: readonly unknown[], extra: FormatOptions = {}) =>
    cleanStack(formatArgs(args, { colors, indent, ...extra }));
  const out = (...args: unknown[]) => print("stdout", format(args));
  const err = (...args: unknown[]) => print("stderr", format(args));
  const elapsed = (label: string) =>
    `${label}: ${(performance.now() - timers.get(label)!).toFixed(2)}ms`;

  return {
    get writing() {
      return writing;
    },
    get closed() {
      return closed;
    },
    print,
    close() {
      closed = true;
    },
    log: out,
    info: out,
    debug: out,
    dirxml: out,
    warn: err,
    error: err,
    dir(value?: unknown, inspectOptions?: unknown) {
      print(
        "stdout",
        format([value], (inspectOptions ?? {}) as Deno.InspectOptions),
      );
    },
    table(data?: unknown, properties?: unknown) {
      if (properties !== undefined && !Array.isArray(properties)) {
        throw new TypeError(
          `The 'properties' argument must be of type Array: received type ${typeof properties}`,
        );
      }
      if (data === null || typeof data !== "object") return out(data);
      const table = renderConsoleTable(
        data,
        properties as string[] | undefined,
        {
          colors,
        },
      );
      print("stdout", format([table]));
    },
    trace(...args: unknown[]) {
      const message = formatArgs(args, { colors });
      const holder = { name: "Trace", message, stack: "" };
      Error.captureStackTrace(holder);
      print("stderr", format([cleanStack(holder.stack)]));
    },
    assert(condition?: unknown, ...args: unknown[]) {
      if (condition) return;
      if (args.length === 0) return err("Assertion failed");
      const [first, ...rest] = args;
      if (typeof first === "string") {
        return err(`Assertion failed: ${first}`, ...rest);
      }
      err("Assertion failed:", ...args);
    },
    count(label: unknown = "default") {
      const key = String(label);
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      out(`${key}: ${count}`);
    },
    countReset(label: unknown = "default") {
      const key = String(label);
      if (counts.has(key)) counts.set(key, 0);
      else err(`Count for '${key}' does not exist`);
    },
    group(...label: unknown[]) {
      if (label.length > 0) out(...label);
      indent += 2;
    },
    groupCollapsed(...label: unknown[]) {
      if (label.length > 0) out(...label);
      indent += 2;
    },
    groupEnd() {
      if (indent > 0) indent -= 2;
    },
    time(label: unknown = "default") {
      const key = String(label);
      if (timers.has(key)) return err(`Timer '${key}' already exists`);
      timers.set(key, performance.now());
    },
    timeLog(label: unknown = "default", ...args: unknown[]) {
      const key = String(label);
      if (!timers.has(key)) return err(`Timer '${key}' does not exist`);
      out(elapsed(key), ...args);
    },
    timeEnd(label: unknown = "default") {
      const key = String(label);
      if (!timers.has(key)) return err(`Timer '${key}' does not exist`);
      out(elapsed(key));
      timers.delete(key);
    },
    clear() {
      // Indentation only: the client shows a server's terminal escapes
      // escaped (a server must not clear the operator's screen).
      indent = 0;
    },
  };
}
