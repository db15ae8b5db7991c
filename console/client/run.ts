/**
 * The `console` subcommand: connects to a running service's live console
 * and runs one snippet (`-e`), a piped transcript, or an interactive REPL.
 *
 * @module
 */

import process from "node:process";
import { runEvalOnce, runTranscript } from "./batch.ts";
import type { ClientStreams } from "./batch.ts";
import {
  CONSOLE_HELP,
  type ConsoleAddress,
  type ConsoleClientConfig,
  parseConsoleArgs,
} from "./flags.ts";
import {
  connectConsole,
  ConsoleClientError,
  type ConsoleConnection,
} from "./connection.ts";
import { historyFilePath } from "./history.ts";
import { runInteractive } from "./interactive.ts";
import { ProgressLine } from "./progress_bar.ts";
import { readTokenFile, tokenFilePath } from "../token.ts";

export { CONSOLE_HELP } from "./flags.ts";

const encoder = new TextEncoder();

/**
 * Runs the console client: `main.ts console [flags]`.
 *
 * Exit codes (also in {@linkcode CONSOLE_HELP}): 0 success; 1 an
 * evaluation failed in `-e` or piped mode; 2 a usage, connection,
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
  const config = parseConsoleArgs(args);
  if (config === "help") {
    write(Deno.stdout, CONSOLE_HELP);
    return 0;
  }
  const interactive = config.eval === undefined && Deno.stdin.isTerminal();
  const colors = Deno.stdout.isTerminal() && !Deno.noColor;

  let connection: ConsoleConnection;
  try {
    connection = await connectConsole(config.address, {
      credentials: () => findToken(config),
      colors,
    });
  } catch (error) {
    return failed(error);
  }
  try {
    const progress = Deno.stderr.isTerminal()
      ? new ProgressLine((text) => write(Deno.stderr, text), terminalColumns)
      : undefined;
    if (interactive) {
      return await runInteractive(connection, {
        input: process.stdin,
        output: process.stdout,
        errorOutput: process.stderr,
        terminal: Deno.stdout.isTerminal(),
        historyPath: optionalHistoryPath(),
        progress,
        banner: connection.info.banner,
      });
    }
    const streams: ClientStreams = {
      write: (stream, text) =>
        write(stream === "stderr" ? Deno.stderr : Deno.stdout, text),
      progress,
    };
    if (config.eval !== undefined) {
      return await runEvalOnce(connection, config.eval, streams);
    }
    return await runTranscript(connection, Deno.stdin, streams);
  } catch (error) {
    return failed(error);
  } finally {
    await connection.close();
  }
}

/**
 * The token: `--token`, else `CONSOLE_TOKEN`, else the token file the
 * service wrote for the address.
 */
async function findToken(
  config: ConsoleClientConfig,
): Promise<{ token: string; source: string }> {
  if (config.token !== undefined) {
    return { token: config.token.value, source: config.token.source };
  }
  let path: string;
  try {
    path = tokenFilePath(tokenTarget(config.address));
  } catch (error) {
    throw new ConsoleClientError(
      `${
        error instanceof Error ? error.message : error
      }; or pass the token with --token`,
    );
  }
  let token: string | undefined;
  try {
    token = await readTokenFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotCapable
      ? `not permitted (grant --allow-read=${path})`
      : error instanceof Error
      ? error.message
      : String(error);
    throw new ConsoleClientError(
      `cannot read the console token file "${path}": ${reason}; or pass --token`,
    );
  }
  if (token === undefined) {
    throw new ConsoleClientError(
      `no console token file "${path}" (if the service was started with --console-token, pass --token TOKEN or set CONSOLE_TOKEN)`,
    );
  }
  if (token === "") {
    throw new ConsoleClientError(
      `the console token file "${path}" is empty; pass --token`,
    );
  }
  return { token, source: `"${path}"` };
}

function tokenTarget(address: ConsoleAddress) {
  return "socket" in address
    ? { socket: address.socket }
    : { port: address.port };
}

/** The history file, or none when `HOME` is not available. */
function optionalHistoryPath(): string | undefined {
  try {
    return historyFilePath();
  } catch {
    return undefined;
  }
}

function failed(error: unknown): number {
  if (!(error instanceof ConsoleClientError)) throw error;
  write(Deno.stderr, `error: ${error.message}\n`);
  return 2;
}

function terminalColumns(): number | undefined {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return undefined;
  }
}

function write(file: { writeSync(data: Uint8Array): number }, text: string) {
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
