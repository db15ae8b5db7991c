/**
 * The `console` subcommand's configuration: flags, environment fallbacks,
 * defaults and its `--help` text.
 *
 * @module
 */

import { flagOrEnv, parseFlags, parseInteger, UsageError } from "../flags.ts";
import { type ConsoleEndpoint, describeEndpoint } from "../discovery.ts";
import { DEFAULT_CONSOLE_HOST, DEFAULT_CONSOLE_PORT } from "../protocol.ts";

/** Where a console listens: a TCP host and port, or a unix socket. */
export type ConsoleAddress = ConsoleEndpoint;

export { describeEndpoint as describeAddress } from "../discovery.ts";

/** Everything `main.ts console` runs with. */
export interface ConsoleClientConfig {
  /**
   * Where to connect; with `pid`, the default address, replaced by the
   * endpoint in that process's entry once it is read.
   */
  address: ConsoleAddress;
  /** `--pid`: the process whose console to connect to, found by its entry. */
  pid?: number;
  /** `--list`: list the consoles this user can see instead of connecting. */
  list?: true;
  /**
   * The token given on the command line or in the environment, and where it
   * came from (`--token` or `CONSOLE_TOKEN`); without one the client reads
   * the console's token file.
   */
  token?: { value: string; source: string };
  /** The snippet of `-e`, evaluated once instead of a session. */
  eval?: string;
  /**
   * The instances of `--target`, in the order given: the snippet runs on
   * each, in parallel, instead of on `address`.
   */
  targets?: ConsoleAddress[];
  /** `--json`: print values (and errors) as JSON, for programs. */
  json?: true;
  /** The most time for each target, from connecting to the answer. */
  timeoutMs?: number;
}

/** How long each `--target` may take by default: 30 s. */
export const DEFAULT_TARGET_TIMEOUT_MS = 30_000;

/** The most `--target`s in one command (each holds a connection). */
export const MAX_TARGETS = 256;

/** The longest `--target` value accepted. */
const MAX_TARGET_CHARS = 4096;

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
  -e CODE       evaluates CODE once and prints its awaited value (nothing
                when it is undefined)
  --list        lists the consoles started through console/mod.ts that this
                user can see: pid, program, endpoint, alive or stale (a
                stale entry, whose process is gone, is removed)
  --target A --target B ... -e CODE
                evaluates CODE on each instance in parallel and prints one
                table: instance, duration, value or error

Flags (environment variable in brackets):
  --pid PID       connect to the console of process PID, found by the entry
                  it wrote in $HOME/.leakwatch/consoles (see --list)
  --host HOST     console host (CONSOLE_HOST) [default: ${DEFAULT_CONSOLE_HOST}]
  --port PORT     console port (CONSOLE_PORT) [default: ${DEFAULT_CONSOLE_PORT}]
  --socket PATH   connect to a unix socket instead (CONSOLE_SOCKET)
  --token TOKEN   the console's token (CONSOLE_TOKEN); by default it is read
                  from the file the service wrote for that port or socket,
                  $HOME/.leakwatch/console/tcp-PORT.token or unix-HASH.token.
                  Prefer CONSOLE_TOKEN or the file: deno task echoes --token
                  in its "Task" line and ps shows it to every local user
  -e CODE         evaluate CODE and exit
  --json          with -e: print the value as JSON (for jq), an error as
                  {"error": {"name", "message"}}; the snippet's console
                  output goes to stderr. With --list: one JSON object per
                  console per line
  --target ADDR   run -e CODE on this instance; repeat it for more. ADDR is
                  HOST:PORT, [IPV6]:PORT, PORT (on 127.0.0.1) or a unix
                  socket path (with a "/"); each finds its own token file,
                  unless --token or CONSOLE_TOKEN gives one for all. With
                  --json: one JSON object per line per instance
  --timeout SECONDS
                  with -e: the most time for each instance, from connecting
                  to its answer; at the deadline the evaluation is
                  interrupted and the connection closed [default: ${
  DEFAULT_TARGET_TIMEOUT_MS / 1000
} with
                  --target, none for one instance]
  -h, --help      show this help

Exit codes:
  0   success; the session was left with Ctrl-D or .exit
  1   an evaluation failed (-e or piped input): an error was thrown, the
      input ended inside an incomplete snippet, or a snippet was over the
      1 MiB line limit, or no answer came within --timeout; with --target:
      any instance failed (refused, wrong token, timed out, or an error)
  2   bad flags, cannot connect, no token file, authentication failed, the
      console is full, protocol version mismatch, the connection was lost,
      or --pid names a process without a running console
  130 left with a second Ctrl-C while an evaluation ignored the interrupt
`;

const PORT_RANGE = { min: 1, max: 65535 };
/** Linux's largest pid_max. */
const PID_RANGE = { min: 1, max: 4_194_304 };

/** `--list`, with nothing but `--json` beside it. */
function parseListFlags(
  flags: Record<string, string | boolean | string[] | undefined>,
): ConsoleClientConfig {
  const others = Object.entries(flags)
    .filter(([name, value]) =>
      value !== undefined && name !== "list" && name !== "json"
    )
    .map(([name]) => name === "eval" ? "-e" : `--${name}`);
  if (others.length > 0) {
    throw new UsageError(
      `--list takes no other flag than --json: received ${others.join(", ")}`,
    );
  }
  const config: ConsoleClientConfig = {
    address: { host: DEFAULT_CONSOLE_HOST, port: DEFAULT_CONSOLE_PORT },
    list: true,
  };
  if (flags.json) config.json = true;
  return config;
}

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
 * import assert from "node:assert/strict";
 * import { parseConsoleArgs } from "./flags.ts";
 * const config = parseConsoleArgs(["--port", "4000", "-e", "1 + 1"]);
 * assert.ok(config !== "help" && config.eval === "1 + 1");
 * ```
 */
export function parseConsoleArgs(
  args: string[],
): ConsoleClientConfig | "help" {
  const flags = parseFlags(args, {
    help: { type: "boolean", short: "h" },
    list: { type: "boolean" },
    pid: { type: "string" },
    host: { type: "string" },
    port: { type: "string" },
    socket: { type: "string" },
    token: { type: "string" },
    eval: { type: "string", short: "e" },
    json: { type: "boolean" },
    target: { type: "string", multiple: true },
    timeout: { type: "string" },
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
  if (flags.list) return parseListFlags(flags);
  if (
    flags.pid !== undefined &&
    (tcpFlags || flags.socket !== undefined || flags.target !== undefined)
  ) {
    throw new UsageError(
      "--pid cannot be combined with --host, --port, --socket or --target",
    );
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
  if (flags.pid !== undefined) {
    config.pid = parseInteger(flags.pid, "--pid", PID_RANGE);
  }
  const token = text(flags.token, "--token", "CONSOLE_TOKEN");
  if (token !== undefined) {
    config.token = { value: token.value.trim(), source: token.source };
  }
  if (flags.eval !== undefined) config.eval = flags.eval;
  if (flags.json) {
    if (flags.eval === undefined) {
      throw new UsageError("--json needs -e CODE (it prints one value)");
    }
    config.json = true;
  }
  const targets = flags.target ?? [];
  if (targets.length > 0) {
    if (flags.socket !== undefined || tcpFlags) {
      throw new UsageError(
        "--target cannot be combined with --host, --port or --socket",
      );
    }
    if (flags.eval === undefined) {
      throw new UsageError("--target needs -e CODE to run on each instance");
    }
    config.targets = parseTargets(targets);
    config.timeoutMs = flags.timeout === undefined
      ? DEFAULT_TARGET_TIMEOUT_MS
      : parseSeconds(flags.timeout, "--timeout");
  } else if (flags.timeout !== undefined) {
    if (flags.eval === undefined) {
      throw new UsageError("--timeout needs -e CODE (or --target)");
    }
    config.timeoutMs = parseSeconds(flags.timeout, "--timeout");
  }
  return config;
}

/**
 * Parses one `--target` value: `HOST:PORT`, `[IPV6]:PORT`, a bare `PORT`
 * (on 127.0.0.1), or a unix socket path (anything with a `/`).
 *
 * @param text The value.
 * @returns The address.
 * @throws {UsageError} When it is none of those.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTarget } from "./flags.ts";
 * assert.deepEqual(parseTarget("10.0.0.5:44444"), { host: "10.0.0.5", port: 44444 });
 * assert.deepEqual(parseTarget("[::1]:7"), { host: "::1", port: 7 });
 * assert.deepEqual(parseTarget("4001"), { host: "127.0.0.1", port: 4001 });
 * assert.deepEqual(parseTarget("./c.sock"), { socket: "./c.sock" });
 * ```
 */
export function parseTarget(text: string): ConsoleAddress {
  const shown = JSON.stringify(
    text.length > 80 ? text.slice(0, 80) + "…" : text,
  );
  if (text.length > MAX_TARGET_CHARS) {
    throw new UsageError(
      `--target is over ${MAX_TARGET_CHARS} characters: received ${shown}`,
    );
  }
  const value = text.trim();
  if (value === "") throw new UsageError("--target must not be empty");
  if (value.includes("/")) return { socket: value };
  const match = value.match(/^(?:\[([^\]]+)\]|([^:\s]+)):(\d+)$|^(\d+)$/);
  if (match === null) {
    throw new UsageError(
      `--target must be HOST:PORT, [IPV6]:PORT, PORT or a socket path with a "/" (./console.sock): received ${shown}`,
    );
  }
  const host = match[1] ?? match[2] ?? "127.0.0.1";
  const port = match[3] ?? match[4]!;
  return {
    host,
    port: parseInteger(port, `--target ${shown}'s port`, PORT_RANGE),
  };
}

/** Parses every `--target`, refusing repeats and too many. */
function parseTargets(values: string[]): ConsoleAddress[] {
  if (values.length > MAX_TARGETS) {
    throw new UsageError(
      `at most ${MAX_TARGETS} --target instances at once: received ${values.length}`,
    );
  }
  const seen = new Set<string>();
  return values.map((value) => {
    const address = parseTarget(value);
    const name = describeEndpoint(address);
    if (seen.has(name)) {
      throw new UsageError(`--target ${name} is given twice`);
    }
    seen.add(name);
    return address;
  });
}

/** Parses a positive number of seconds, up to an hour, as milliseconds. */
function parseSeconds(value: string, name: string): number {
  const seconds = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN;
  if (!(seconds > 0 && seconds <= 3600)) {
    throw new UsageError(
      `${name} must be a number of seconds above 0, at most 3600: received ${
        JSON.stringify(value.slice(0, 80))
      }`,
    );
  }
  return Math.round(seconds * 1000);
}
