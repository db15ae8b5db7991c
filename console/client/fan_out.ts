/**
 * One snippet across many instances (`--target A --target B -e CODE`):
 * each target connects, authenticates and evaluates in parallel within its
 * own deadline, and every target's answer or failure is kept, so one dead
 * instance never hides the others.
 *
 * @module
 */

import {
  connectConsole,
  ConsoleAuthenticationError,
  ConsoleClientError,
  type ConsoleConnection,
  type EvalOutcome,
  SessionRefusedError,
} from "./connection.ts";
import type { Credentials } from "./credentials.ts";
import { TIMED_OUT, withinDeadline } from "./deadline.ts";
import { type ConsoleAddress, describeAddress } from "./flags.ts";
import {
  escapeControls,
  escapeJsonControls,
  type EscapeOptions,
} from "../ansi.ts";

/** What one target answered. */
export interface TargetResult {
  /** The target, as `describeAddress` names it. */
  target: string;
  /** Whether it answered with a value. */
  ok: boolean;
  /** The value as `Deno.inspect` renders it, when `ok`. */
  value?: string;
  /** The value as JSON text, when `ok` and JSON was asked for. */
  json?: string;
  /**
   * Why it failed, when not `ok`: the snippet's error (`Error`,
   * `TypeError`, …) or the client's (`ConnectionError`, `TimeoutError`,
   * `AuthenticationError` (a wrong token, an answer relayed from another
   * address, an instance that cannot prove it knows the token),
   * `AuthenticationThrottledError`, `SessionLimitError`, `ProtocolError`,
   * `IncompleteInputError`).
   */
  error?: { name: string; message: string };
  /** The first line of the error as a REPL prints it (`Uncaught Error: x`). */
  errorText?: string;
  /** The instance's process id, once its session opened. */
  pid?: number;
  /** Wall-clock time from connecting to the answer, in milliseconds. */
  durationMs: number;
}

/** Options for {@linkcode evaluateOnTargets}. */
export interface FanOutOptions {
  /** The token for a target (its own token file, or the one given). */
  credentials(address: ConsoleAddress): Promise<Credentials>;
  /** The most time for each target, connecting included. */
  timeoutMs: number;
  /** Ask for each value as JSON text too. */
  json?: boolean;
  /** Ask for values rendered with ANSI colours. */
  colors?: boolean;
  /** Receives the snippet's console output, with the target that wrote it. */
  output?(target: string, stream: "stdout" | "stderr", text: string): void;
}

/**
 * Evaluates `code` on every target in parallel.
 *
 * @param targets The instances.
 * @param code The snippet.
 * @param options Tokens, deadline and format.
 * @returns One result per target, in the order of `targets`; never throws
 * for a target's failure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluateOnTargets } from "./fan_out.ts";
 * // A port nothing listens on: the failure is a result, not an exception.
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = (listener.addr as Deno.NetAddr).port;
 * listener.close();
 * const [result] = await evaluateOnTargets([{ host: "127.0.0.1", port }], "1", {
 *   credentials: () => Promise.resolve({ token: "t", source: "--token" }),
 *   timeoutMs: 1000,
 * });
 * assert.equal(result!.ok, false);
 * assert.equal(result!.error!.name, "ConnectionError");
 * ```
 */
export async function evaluateOnTargets(
  targets: ConsoleAddress[],
  code: string,
  options: FanOutOptions,
): Promise<TargetResult[]> {
  return await Promise.all(
    targets.map((address) => evaluateOnTarget(address, code, options)),
  );
}

/**
 * Evaluates `code` on one target within `options.timeoutMs`. On timeout
 * the pending evaluation is sent an interrupt and the connection closed, so
 * the instance's session is freed.
 */
async function evaluateOnTarget(
  address: ConsoleAddress,
  code: string,
  options: FanOutOptions,
): Promise<TargetResult> {
  const target = describeAddress(address);
  const started = performance.now();
  const elapsed = () => roundMs(performance.now() - started);
  let connection: ConsoleConnection | undefined;
  let timedOut = false;
  try {
    const outcome = await withinDeadline(options.timeoutMs, async (opened) => {
      connection = await connectConsole(address, {
        credentials: () => options.credentials(address),
        colors: options.colors,
        helloTimeoutMs: options.timeoutMs,
      });
      opened(connection);
      return await connection.evaluate(code, {
        output: (stream, text) => options.output?.(target, stream, text),
      }, options.json ? { format: "json" } : {});
    });
    if (outcome === TIMED_OUT) {
      timedOut = true;
      return {
        target,
        ok: false,
        error: {
          name: "TimeoutError",
          message: `no answer within ${
            formatDuration(options.timeoutMs)
          } (connecting, authenticating and evaluating)`,
        },
        ...pidOf(connection),
        durationMs: elapsed(),
      };
    }
    return {
      target,
      ...fromOutcome(outcome),
      ...pidOf(connection),
      durationMs: elapsed(),
    };
  } catch (error) {
    return {
      target,
      ok: false,
      error: describeFailure(error),
      ...pidOf(connection),
      durationMs: elapsed(),
    };
  } finally {
    // After a timeout the deadline has already hung up.
    if (!timedOut) await connection?.close();
  }
}

function fromOutcome(
  outcome: EvalOutcome,
): Pick<TargetResult, "ok" | "value" | "json" | "error" | "errorText"> {
  switch (outcome.kind) {
    case "value":
      return outcome.json === undefined
        ? { ok: true, value: outcome.value }
        : { ok: true, value: outcome.value, json: outcome.json };
    case "error":
      return {
        ok: false,
        error: { name: outcome.name, message: outcome.message },
        errorText: String(outcome.text).split("\n")[0],
      };
    case "incomplete":
      return {
        ok: false,
        error: {
          name: "IncompleteInputError",
          message:
            "incomplete input: the snippet ends before its last statement does",
        },
      };
  }
}

function describeFailure(error: unknown): { name: string; message: string } {
  if (error instanceof SessionRefusedError) {
    return { name: error.error.name, message: error.message };
  }
  // The instance could not prove it knows the token: as much an
  // authentication failure as a refused token.
  if (error instanceof ConsoleAuthenticationError) {
    return { name: "AuthenticationError", message: error.message };
  }
  if (error instanceof ConsoleClientError) {
    return { name: "ConnectionError", message: error.message };
  }
  if (error instanceof RangeError) {
    return { name: "RangeError", message: error.message };
  }
  throw error;
}

function pidOf(connection: ConsoleConnection | undefined): { pid?: number } {
  return connection === undefined ? {} : { pid: connection.info.pid };
}

function roundMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/**
 * Renders the results as one table: instance, duration, then the value or
 * the error (last, as it may span lines; continuation lines are indented
 * under it). What the instances sent is shown with its control characters
 * escaped (see `escapeControls`); colours pass with `colors`.
 *
 * @param results The results, in order.
 * @param options Whether the instances' colours may pass.
 * @returns The table, ending in a newline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderTargetTable } from "./fan_out.ts";
 * assert.equal(
 *   renderTargetTable([
 *     { target: "127.0.0.1:4001", ok: true, value: "20001", durationMs: 3.14 },
 *     {
 *       target: "127.0.0.1:4002",
 *       ok: false,
 *       error: { name: "ConnectionError", message: "connection refused" },
 *       durationMs: 1.2,
 *     },
 *   ]),
 *   "instance        duration  value or error\n" +
 *     "127.0.0.1:4001    3.1 ms  20001\n" +
 *     "127.0.0.1:4002    1.2 ms  error: connection refused\n",
 * );
 * ```
 */
export function renderTargetTable(
  results: TargetResult[],
  options: EscapeOptions = {},
): string {
  // Each line shown escaped: the values and errors are the servers' text.
  const rows = results.map((result) => ({
    target: escapeControls(result.target),
    duration: formatDuration(result.durationMs),
    lines: answerText(result).split("\n").map((line) =>
      escapeControls(line, options)
    ),
  }));
  const header = { target: "instance", duration: "duration" };
  const targetWidth = Math.max(
    header.target.length,
    ...rows.map((row) => row.target.length),
  );
  const durationWidth = Math.max(
    header.duration.length,
    ...rows.map((row) => row.duration.length),
  );
  const indent = " ".repeat(targetWidth + 2 + durationWidth + 2);
  let text = `${header.target.padEnd(targetWidth)}  ${
    header.duration.padStart(durationWidth)
  }  value or error\n`;
  for (const row of rows) {
    const [first, ...rest] = row.lines;
    text += `${row.target.padEnd(targetWidth)}  ${
      row.duration.padStart(durationWidth)
    }  ${first}\n`;
    for (const line of rest) text += `${indent}${line}\n`;
  }
  return text;
}

function answerText(result: TargetResult): string {
  if (result.ok) return String(result.value ?? "");
  if (result.errorText !== undefined) return String(result.errorText);
  return `error: ${result.error?.message ?? "unknown"}`;
}

/**
 * One result as a JSON line (`--target … --json`): `target`, `ok`, `pid`
 * when connected, `durationMs`, and `value` (the snippet's value as JSON)
 * or `error` `{name, message}`.
 *
 * @param result A result; `json` must be set when `ok`.
 * @returns The line, without its newline.
 * @throws {SyntaxError} When a value's JSON text does not parse.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { targetResultLine } from "./fan_out.ts";
 * const line = targetResultLine({
 *   target: "127.0.0.1:4001",
 *   ok: true,
 *   value: "{ size: 2 }",
 *   json: '{"size":2}',
 *   pid: 42,
 *   durationMs: 3.1,
 * });
 * assert.deepEqual(JSON.parse(line), {
 *   target: "127.0.0.1:4001",
 *   ok: true,
 *   pid: 42,
 *   durationMs: 3.1,
 *   value: { size: 2 },
 * });
 * ```
 */
export function targetResultLine(result: TargetResult): string {
  const line: Record<string, unknown> = {
    target: result.target,
    ok: result.ok,
  };
  if (result.pid !== undefined) line.pid = result.pid;
  line.durationMs = result.durationMs;
  if (result.ok) line.value = JSON.parse(result.json ?? "null");
  else line.error = result.error;
  // The instances' text: safe on a terminal, the same values for a program.
  return escapeJsonControls(JSON.stringify(line));
}

/**
 * Formats a duration for people: `3.1 ms`, `1.52 s`.
 *
 * @param ms Milliseconds.
 * @returns The text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDuration } from "./fan_out.ts";
 * assert.equal(formatDuration(3.14), "3.1 ms");
 * assert.equal(formatDuration(1520), "1.52 s");
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
