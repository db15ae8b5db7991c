/**
 * The client's non-interactive modes: `-e CODE` (one evaluation) and piped
 * input (a REPL transcript), with their exit codes.
 *
 * @module
 */

import type {
  BackgroundHandlers,
  EvalOutcome,
  EvaluateOptions,
  StreamHandlers,
} from "./connection.ts";
import type { ClientSession } from "./client_session.ts";
import { escapeControls, escapeJsonControls, stripAnsi } from "../ansi.ts";
import { type ByteSource, LineReader } from "../line_reader.ts";
import type { ProgressLine } from "./progress_bar.ts";
import { MAX_LINE_BYTES, type WireError } from "../protocol.ts";
import { SnippetBuffer } from "../snippet_buffer.ts";

/** Where the client prints. */
export interface ClientStreams {
  /** Writes text to stdout or stderr. */
  write(stream: "stdout" | "stderr", text: string): void;
  /** The progress bar (on a terminal's stderr); none to show no progress. */
  progress?: ProgressLine;
  /**
   * Let the server's colour sequences through (the session asked for
   * colours: stdout is a terminal). Every other control character a server
   * sends is shown escaped, always (see `escapeControls`).
   */
  colors?: boolean;
}

/** Options for {@linkcode runEvalOnce}. */
export interface EvalOnceOptions {
  /**
   * Print the value as JSON text (the console's `format: "json"`) and an
   * error as `{"error": {name, message, stack}}`, both on stdout; the
   * snippet's console output goes to stderr so stdout stays one JSON value.
   */
  json?: boolean;
}

/**
 * Evaluates `code` once: the value goes to stdout (nothing when it is
 * `undefined`), the snippet's console output to the stream it names, an
 * error to stderr. With `json`, see {@linkcode EvalOnceOptions.json}.
 *
 * @param connection The open session.
 * @param code The snippet.
 * @param streams Where to print.
 * @param options JSON output.
 * @returns 0 on a value; 1 on an error, an incomplete snippet or code over
 * the line limit.
 * @throws {ConsoleClientError} When the connection is lost.
 */
export async function runEvalOnce(
  connection: ClientSession,
  code: string,
  streams: ClientStreams,
  options: EvalOnceOptions = {},
): Promise<number> {
  if (options.json) return await runEvalOnceJson(connection, code, streams);
  connection.background = backgroundHandlers(streams);
  const outcome = await evaluate(connection, code, streams);
  if (outcome.kind === "incomplete") {
    streams.write(
      "stderr",
      "error: incomplete input: the snippet ends before its last statement does\n",
    );
    return 1;
  }
  if (outcome.kind === "value") {
    if (stripAnsi(String(outcome.value)) !== "undefined") {
      streams.write("stdout", shown(outcome.value, streams) + "\n");
    }
    return 0;
  }
  return 1;
}

/** Server text as the client prints it: control characters escaped. */
function shown(text: string, streams: ClientStreams): string {
  return escapeControls(text, { colors: streams.colors });
}

/** `-e CODE --json`: exactly one JSON value on stdout, whatever happens. */
async function runEvalOnceJson(
  connection: ClientSession,
  code: string,
  streams: ClientStreams,
): Promise<number> {
  const toStderr: ClientStreams = {
    write: (_stream, text) => streams.write("stderr", text),
    progress: streams.progress,
    colors: streams.colors,
  };
  connection.background = backgroundHandlers(toStderr);
  const outcome = await evaluate(connection, code, toStderr, {
    format: "json",
    quiet: true,
  });
  if (outcome.kind === "value") {
    streams.write("stdout", escapeJsonControls(outcome.json ?? "null") + "\n");
    return 0;
  }
  const error = outcome.kind === "error"
    ? { name: outcome.name, message: outcome.message, stack: outcome.stack }
    : {
      name: "IncompleteInputError",
      message:
        "incomplete input: the snippet ends before its last statement does",
    };
  streams.write("stdout", errorJson(error) + "\n");
  return 1;
}

/**
 * The JSON object that stands for a failure in `--json` output.
 *
 * @param error The error's name and message, and its stack when known.
 * @returns `{"error":{"name":…,"message":…}}` as one line of JSON text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorJson } from "./batch.ts";
 * assert.equal(
 *   errorJson({ name: "TypeError", message: "x is not a function" }),
 *   '{"error":{"name":"TypeError","message":"x is not a function"}}',
 * );
 * ```
 */
export function errorJson(
  error: { name: string; message: string; stack?: string },
): string {
  const fields: Record<string, string> = {
    name: String(error.name),
    message: String(error.message),
  };
  if (error.stack) fields.stack = String(error.stack);
  // The server's text: safe on a terminal, the same values for a program.
  return escapeJsonControls(JSON.stringify({ error: fields }));
}

/**
 * Evaluates piped input as a REPL transcript: lines gather into a snippet
 * while the console answers `incomplete`; every value goes to stdout, every
 * error to stderr; a failure does not stop the rest. A line `.exit` ends
 * the input.
 *
 * @param connection The open session.
 * @param input The input's bytes (stdin).
 * @param streams Where to print.
 * @returns 0 when every snippet succeeded; 1 when one failed, a line was
 * over the limit, or the input ended inside an incomplete snippet.
 * @throws {ConsoleClientError} When the connection is lost.
 */
export async function runTranscript(
  connection: ClientSession,
  input: ByteSource,
  streams: ClientStreams,
): Promise<number> {
  connection.background = backgroundHandlers(streams);
  const reader = new LineReader(input, MAX_LINE_BYTES);
  const buffer = new SnippetBuffer();
  let failed = false;
  let lineNumber = 0;
  let exited = false;
  while (!exited) {
    const event = await reader.next();
    if (event.kind === "eof") break;
    lineNumber++;
    if (event.kind === "oversize") {
      streams.write(
        "stderr",
        `error: input line ${lineNumber} (${event.bytes} bytes) is over the ${MAX_LINE_BYTES}-byte line limit: skipped\n`,
      );
      buffer.clear();
      failed = true;
      continue;
    }
    const step = buffer.add(event.line);
    if (step.kind === "exit") exited = true;
    if (step.kind !== "evaluate") continue;
    const outcome = await evaluate(connection, step.code, streams);
    buffer.settle(outcome.kind === "incomplete");
    if (outcome.kind === "value") {
      streams.write("stdout", shown(outcome.value, streams) + "\n");
    } else if (outcome.kind === "error") {
      failed = true;
    }
  }
  if (buffer.pending) {
    streams.write(
      "stderr",
      `error: the input ended inside an incomplete snippet (from line ${
        lineNumber - buffer.lineCount + 1
      })\n`,
    );
    failed = true;
  }
  return failed ? 1 : 0;
}

/**
 * Evaluates, printing output and progress; errors go to stderr unless
 * `quiet`.
 */
async function evaluate(
  connection: ClientSession,
  code: string,
  streams: ClientStreams,
  options: EvaluateOptions & { quiet?: boolean } = {},
): Promise<EvalOutcome> {
  const handlers: StreamHandlers = {
    output(stream, text) {
      streams.progress?.clear();
      streams.write(stream, shown(text, streams));
    },
  };
  if (streams.progress) {
    const bar = streams.progress;
    handlers.progress = (label, done, total) => bar.update(label, done, total);
  }
  let outcome: EvalOutcome;
  try {
    outcome = await connection.evaluate(code, handlers, {
      format: options.format,
    });
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    outcome = {
      kind: "error",
      name: "RangeError",
      message: error.message,
      text: `error: ${error.message}`,
    };
  } finally {
    streams.progress?.clear();
  }
  if (outcome.kind === "error" && !options.quiet) {
    streams.write("stderr", shown(outcome.text, streams) + "\n");
  }
  return outcome;
}

/** Prints what arrives for no request: output of work left running, notices. */
function backgroundHandlers(streams: ClientStreams): BackgroundHandlers {
  return {
    output(stream: "stdout" | "stderr", text: string) {
      streams.progress?.clear();
      streams.write(stream, shown(text, streams));
    },
    notice(error: WireError) {
      streams.progress?.clear();
      streams.write("stderr", `error: ${shown(error.message, streams)}\n`);
    },
  };
}
