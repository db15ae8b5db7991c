/**
 * The `console` subcommand's configuration: flags, environment fallbacks,
 * defaults and its `--help` text.
 *
 * @module
 */

import {
  flagOrEnv,
  parseFlags,
  parseInteger,
  UsageError,
} from "../../lib/flags.ts";
import { DEFAULT_CONSOLE_HOST, DEFAULT_CONSOLE_PORT } from "../protocol.ts";

/** Where a console listens: a TCP host and port, or a unix socket. */
export type ConsoleAddress = { host: string; port: number } | {
  socket: string;
};

/** Everything `main.ts console` runs with. */
export interface ConsoleClientConfig {
  /** Where to connect. */
  address: ConsoleAddress;
  /**
   * The token given on the command line or in the environment, and where it
   * came from (`--token` or `CONSOLE_TOKEN`); without one the client reads
   * the console's token file.
   */
  token?: { value: string; source: string };
  /** The snippet of `-e`, evaluated once instead of a session. */
  eval?: string;
}

/** The `console` subcommand's help text. */
export const CONSOLE_HELP = `Usage: main.ts console [flags]

Connects to a running service's live console.

  interactive   stdin is a terminal: a REPL with line editing, completion
                (Tab), history in $HOME/.leakwatch/console_history, progress
                bars; Ctrl-C clears the line or interrupts an evaluation,
                Ctrl-D or .exit leaves
  piped         stdin is not a terminal: its lines are evaluated as a REPL
                transcript (a snippet may span lines); values go to stdout,
                errors to stderr
  -e CODE       evaluates CODE once and prints its value (nothing when it is
                undefined)

Flags (environment variable in brackets):
  --host HOST     console host (CONSOLE_HOST) [default: ${DEFAULT_CONSOLE_HOST}]
  --port PORT     console port (CONSOLE_PORT) [default: ${DEFAULT_CONSOLE_PORT}]
  --socket PATH   connect to a unix socket instead (CONSOLE_SOCKET)
  --token TOKEN   the console's token (CONSOLE_TOKEN); by default it is read
                  from the file the service wrote for that port or socket,
                  $HOME/.leakwatch/console/tcp-PORT.token or unix-HASH.token
  -e CODE         evaluate CODE and exit
  -h, --help      show this help

Exit codes:
  0   success; the session was left with Ctrl-D or .exit
  1   an evaluation failed (-e or piped input): an error was thrown, the
      input ended inside an incomplete snippet, or a snippet was over the
      1 MiB line limit
  2   bad flags, cannot connect, no token file, authentication failed, the
      console is full, protocol version mismatch, or the connection was lost
  130 left with a second Ctrl-C while an evaluation ignored the interrupt
`;

const PORT_RANGE = { min: 1, max: 65535 };

/**
 * Parses the `console` subcommand's arguments, with environment fallbacks.
 * Flags win over the environment: `--host` or `--port` ignores
 * `CONSOLE_SOCKET`.
 *
 * @param args The arguments after `console`.
 * @returns The configuration, or `"help"` when help was asked for.
 * @throws {UsageError} On an unknown flag, a bad value or a conflict.
 *
 * @example
 * ```ts
 * import { parseConsoleArgs } from "./flags.ts";
 * const config = parseConsoleArgs(["--port", "4000", "-e", "1 + 1"]);
 * console.assert(config !== "help" && config.eval === "1 + 1");
 * ```
 */
export function parseConsoleArgs(
  args: string[],
): ConsoleClientConfig | "help" {
  const flags = parseFlags(args, {
    help: { type: "boolean", short: "h" },
    host: { type: "string" },
    port: { type: "string" },
    socket: { type: "string" },
    token: { type: "string" },
    eval: { type: "string", short: "e" },
  });
  if (flags.help) return "help";

  const text = (flag: string | undefined, name: string, env: string) => {
    const { value, source } = flagOrEnv(flag, name, env);
    if (value !== undefined && value.trim() === "") {
      throw new UsageError(`${source} must not be empty`);
    }
    return value === undefined ? undefined : { value, source };
  };

  const tcpFlags = flags.host !== undefined || flags.port !== undefined;
  if (flags.socket !== undefined && tcpFlags) {
    throw new UsageError("--socket cannot be combined with --host or --port");
  }
  const socket = tcpFlags
    ? undefined
    : text(flags.socket, "--socket", "CONSOLE_SOCKET");
  let address: ConsoleAddress;
  if (socket !== undefined) {
    address = { socket: socket.value };
  } else {
    const host = text(flags.host, "--host", "CONSOLE_HOST");
    const port = text(flags.port, "--port", "CONSOLE_PORT");
    address = {
      host: host?.value.trim().replace(/^\[(.*)\]$/, "$1") ??
        DEFAULT_CONSOLE_HOST,
      port: port === undefined
        ? DEFAULT_CONSOLE_PORT
        : parseInteger(port.value, port.source, PORT_RANGE),
    };
  }

  const config: ConsoleClientConfig = { address };
  const token = text(flags.token, "--token", "CONSOLE_TOKEN");
  if (token !== undefined) {
    config.token = { value: token.value.trim(), source: token.source };
  }
  if (flags.eval !== undefined) config.eval = flags.eval;
  return config;
}

/**
 * Names an address for messages: `127.0.0.1:44444`, `[::1]:44444` or the
 * socket's path.
 *
 * @param address The address.
 * @returns Its printable form.
 *
 * @example
 * ```ts
 * import { describeAddress } from "./flags.ts";
 * console.assert(describeAddress({ host: "::1", port: 1 }) === "[::1]:1");
 * ```
 */
export function describeAddress(address: ConsoleAddress): string {
  if ("socket" in address) return address.socket;
  const host = address.host.includes(":") ? `[${address.host}]` : address.host;
  return `${host}:${address.port}`;
}
