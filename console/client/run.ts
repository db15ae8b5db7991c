/**
 * The `console` subcommand: connects to a running service's live console
 * and runs one snippet (`-e`), a piped transcript, or an interactive REPL.
 *
 * @module
 */

import process from "node:process";
import { escapeControls } from "../ansi.ts";
import { errorJson, runEvalOnce, runTranscript } from "./batch.ts";
import type { ClientStreams } from "./batch.ts";
import {
  CONSOLE_HELP,
  type ConsoleAddress,
  type ConsoleClientConfig,
  describeAddress,
  parseConsoleArgs,
} from "./flags.ts";
import {
  connectConsole,
  ConsoleClientError,
  type ConsoleConnection,
  SessionRefusedError,
} from "./connection.ts";
import type { ClientSession } from "./client_session.ts";
import { findToken } from "./credentials.ts";
import { listConsoles, type ListedConsole } from "../discovery.ts";
import {
  consoleListLine,
  endpointOfPid,
  renderConsoleList,
} from "./local_consoles.ts";
import { TIMED_OUT, withinDeadline } from "./deadline.ts";
import {
  evaluateOnTargets,
  formatDuration,
  renderTargetTable,
  targetResultLine,
} from "./fan_out.ts";
import { historyFilePath } from "./history.ts";
import { runInteractive } from "./interactive.ts";
import { ProgressLine } from "./progress_bar.ts";

export { CONSOLE_HELP } from "./flags.ts";

const encoder = new TextEncoder();

/**
 * Runs the console client: `main.ts console [flags]`.
 *
 * Exit codes (also in {@linkcode CONSOLE_HELP}): 0 success; 1 an
 * evaluation failed in `-e` or piped mode, or with `--target` any instance
 * failed (its error is in its row); 2 a usage, connection,
 * authentication or protocol failure; 130 left by a second Ctrl-C while an
 * evaluation ignored the interrupt.
 *
 * @param args The arguments after `console`.
 * @returns The exit code.
 * @throws {UsageError} On bad flags (`main` prints it and exits 2).
 *
 * @example
 * ```ts ignore
 * import { runConsoleClient } from "./run.ts";
 * Deno.exit(await runConsoleClient(["-e", "cache.size"]));
 * ```
 */
export async function runConsoleClient(args: string[]): Promise<number> {
  const parsed = parseConsoleArgs(args);
  if (parsed === "help") {
    writeText(Deno.stdout, CONSOLE_HELP);
    return 0;
  }
  if (parsed.list) return await runList(parsed.json);
  let config = parsed;
  if (config.pid !== undefined) {
    try {
      config = { ...config, address: await endpointOfPid(config.pid) };
    } catch (error) {
      return reportFailure(error, config.json);
    }
  }
  const colors = Deno.stdout.isTerminal() && !Deno.noColor &&
    config.json === undefined;
  if (config.targets !== undefined && config.eval !== undefined) {
    return await runOnTargets(config, config.targets, config.eval, colors);
  }
  if (config.eval !== undefined && config.timeoutMs !== undefined) {
    return await runEvalOnceWithin(config, config.eval, colors);
  }
  const interactive = config.eval === undefined && Deno.stdin.isTerminal();

  let connection: ConsoleConnection;
  try {
    connection = await connectConsole(config.address, {
      credentials: () => findToken(config.address, config.token),
      colors,
    });
  } catch (error) {
    return reportFailure(error, config.json);
  }
  try {
    return await runSession(connection, {
      eval: config.eval,
      json: config.json,
      interactive,
      colors,
    });
  } finally {
    await connection.close();
  }
}

/** Options for {@linkcode runSession}: which mode, on this process's terminal. */
export interface SessionModeOptions {
  /** `-e CODE`: evaluate it once. */
  eval?: string;
  /** `--json`: with `eval`, exactly one JSON value on stdout. */
  json?: true;
  /** The REPL (stdin is a terminal and there is no `eval`); else piped input. */
  interactive: boolean;
  /**
   * Colour the session's values and let the server's colours through
   * (other control characters are always shown escaped); by default when
   * stdout is a terminal, `NO_COLOR` is unset and `json` is not asked for.
   */
  colors?: boolean;
}

/**
 * Runs one mode of the client on an open session, on this process's
 * stdin, stdout and stderr: the REPL, one `-e` snippet, or a piped
 * transcript. Any kind of session: a console connection, an attached
 * process. The caller closes the session.
 *
 * @param session The open session.
 * @param options The mode.
 * @returns The exit code (see {@linkcode runConsoleClient}).
 *
 * @example
 * ```ts ignore
 * import { runSession } from "./run.ts";
 * const code = await runSession(session, { eval: "1 + 1", interactive: false });
 * await session.close();
 * ```
 */
export async function runSession(
  session: ClientSession,
  options: SessionModeOptions,
): Promise<number> {
  const colors = options.colors ??
    (Deno.stdout.isTerminal() && !Deno.noColor && options.json === undefined);
  try {
    const progress = Deno.stderr.isTerminal()
      ? new ProgressLine(
        (text) => writeText(Deno.stderr, text),
        terminalColumns,
      )
      : undefined;
    if (options.interactive) {
      return await runInteractive(session, {
        input: process.stdin,
        output: process.stdout,
        errorOutput: process.stderr,
        terminal: Deno.stdout.isTerminal(),
        historyPath: optionalHistoryPath(),
        progress,
        banner: session.info.banner,
        colors,
      });
    }
    const streams: ClientStreams = {
      write: (stream, text) =>
        writeText(stream === "stderr" ? Deno.stderr : Deno.stdout, text),
      progress,
      colors,
    };
    if (options.eval !== undefined) {
      return await runEvalOnce(session, options.eval, streams, {
        json: options.json,
      });
    }
    return await runTranscript(session, Deno.stdin, streams);
  } catch (error) {
    return reportFailure(error, options.json);
  }
}

/**
 * `--target … -e CODE`: every target in parallel, then one table (or one
 * JSON line per target with `--json`) on stdout; the snippet's console
 * output goes to stderr, each line marked with its target.
 *
 * @returns 0 when every target answered with a value, else 1.
 */
async function runOnTargets(
  config: ConsoleClientConfig,
  targets: ConsoleAddress[],
  code: string,
  colors: boolean,
): Promise<number> {
  const results = await evaluateOnTargets(targets, code, {
    credentials: (address) => findToken(address, config.token),
    timeoutMs: config.timeoutMs!,
    json: config.json,
    colors,
    output(target, _stream, text) {
      // Each line its own, escaped: no line can rewrite another's mark.
      const lines = String(text).replace(/\n$/, "").split("\n");
      writeText(
        Deno.stderr,
        lines.map((line) =>
          `[${escapeControls(target)}] ${escapeControls(line, { colors })}\n`
        ).join(""),
      );
    },
  });
  writeText(
    Deno.stdout,
    config.json
      ? results.map((result) => targetResultLine(result) + "\n").join("")
      : renderTargetTable(results, { colors }),
  );
  return results.every((result) => result.ok) ? 0 : 1;
}

/**
 * `-e CODE --timeout S` on one instance: as without `--timeout`, but the
 * whole exchange (connect, authenticate, evaluate) must end within the
 * deadline; then the evaluation is interrupted, the connection closed, and
 * the exit code is 1.
 */
async function runEvalOnceWithin(
  config: ConsoleClientConfig,
  code: string,
  colors: boolean,
): Promise<number> {
  const timeoutMs = config.timeoutMs!;
  const streams = batchStreams(colors);
  let connection: ConsoleConnection | undefined;
  try {
    const exitCode = await withinDeadline(timeoutMs, async (opened) => {
      connection = await connectConsole(config.address, {
        credentials: () => findToken(config.address, config.token),
        colors,
        helloTimeoutMs: timeoutMs,
      });
      opened(connection);
      return await runEvalOnce(connection, code, streams, {
        json: config.json,
      });
    });
    if (exitCode !== TIMED_OUT) return exitCode;
    streams.progress?.clear();
    const message = `no answer from ${describeAddress(config.address)} within ${
      formatDuration(timeoutMs)
    } (--timeout)`;
    if (config.json) {
      writeText(
        Deno.stdout,
        errorJson({ name: "TimeoutError", message }) + "\n",
      );
    } else {
      writeText(Deno.stderr, `error: ${message}\n`);
    }
    return 1;
  } catch (error) {
    return reportFailure(error, config.json);
  } finally {
    await connection?.close();
  }
}

/**
 * `--list`: the consoles this user runs, as a table (or JSON lines); stale
 * entries are removed on the way.
 *
 * @returns 0, or 2 when the entries cannot be read.
 */
async function runList(json?: true): Promise<number> {
  let listed: ListedConsole[];
  try {
    listed = await listConsoles({ removeStale: true });
  } catch (error) {
    return reportFailure(
      new ConsoleClientError(
        `cannot list the consoles: ${
          error instanceof Error ? error.message : error
        }`,
      ),
      json,
    );
  }
  writeText(
    Deno.stdout,
    json
      ? listed.map((entry) => consoleListLine(entry) + "\n").join("")
      : renderConsoleList(listed),
  );
  return 0;
}

/** Where `-e` and piped modes print, with a progress bar on a terminal. */
function batchStreams(colors: boolean): ClientStreams {
  return {
    write: (stream, text) =>
      writeText(stream === "stderr" ? Deno.stderr : Deno.stdout, text),
    progress: Deno.stderr.isTerminal()
      ? new ProgressLine(
        (text) => writeText(Deno.stderr, text),
        terminalColumns,
      )
      : undefined,
    colors,
  };
}

/** The history file, or none when `HOME` is not available. */
function optionalHistoryPath(): string | undefined {
  try {
    return historyFilePath();
  } catch {
    return undefined;
  }
}

/**
 * Reports a failure that ends the client (exit 2): one `error:` line on
 * stderr, or with `--json` one `{"error": …}` object on stdout, so a
 * script reading stdout always gets JSON.
 *
 * @param error The failure: a {@linkcode ConsoleClientError} (anything
 * else is thrown again).
 * @param json Whether stdout is JSON (`--json`).
 * @returns 2.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reportFailure } from "./run.ts";
 * import { ConsoleClientError } from "./connection.ts";
 * // Prints "error: cannot connect" on stderr.
 * assert.equal(reportFailure(new ConsoleClientError("cannot connect")), 2);
 * ```
 */
export function reportFailure(error: unknown, json?: true): number {
  if (!(error instanceof ConsoleClientError)) throw error;
  if (json) {
    const name = error instanceof SessionRefusedError
      ? error.error.name
      : "ConnectionError";
    writeText(Deno.stdout, errorJson({ name, message: error.message }) + "\n");
  } else {
    // The message may quote the server (a refusal's reason).
    writeText(Deno.stderr, `error: ${escapeControls(error.message)}\n`);
  }
  return 2;
}

function terminalColumns(): number | undefined {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return undefined;
  }
}

/**
 * Writes all of `text` to a file (stdout, stderr) at once; a reader that
 * went away (`| head`) is not an error.
 *
 * @param file Where to write.
 * @param text What.
 *
 * @example
 * ```ts
 * import { writeText } from "./run.ts";
 * writeText(Deno.stderr, "a status line\n");
 * ```
 */
export function writeText(
  file: { writeSync(data: Uint8Array): number },
  text: string,
): void {
  const data = encoder.encode(text);
  let written = 0;
  try {
    while (written < data.length) {
      written += file.writeSync(data.subarray(written));
    }
  } catch (error) {
    // The reader went away (`| head`): nobody is left to tell.
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
  }
}
