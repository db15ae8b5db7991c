/**
 * The `serve` subcommand's configuration: flags, environment, defaults and
 * its `--help` text.
 *
 * @module
 */

import {
  DEFAULT_CONSOLE_HOST,
  DEFAULT_CONSOLE_PORT,
  DEFAULT_MAX_SESSIONS,
} from "../console/protocol.ts";
import {
  flagOrEnv,
  parseFlags,
  parseInteger,
  readEnv,
  UsageError,
  valueFlags,
} from "./flags.ts";
import {
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
} from "./http_server.ts";

/** Where and how the console listens, or `null` when disabled. */
export interface ConsoleConfig {
  /** TCP host, `127.0.0.1` by default. */
  host: string;
  /** TCP port, `44444` by default; `0` picks a free one. */
  port: number;
  /** A unix socket path instead of TCP, when set. */
  socket?: string;
  /** The token clients must present; generated when not given. */
  token?: string;
  /** Most sessions at once. */
  maxSessions: number;
}

/** Everything `main.ts serve` runs with. */
export interface ServeConfig {
  /** HTTP host, `127.0.0.1` by default. */
  host: string;
  /** HTTP port, `8000` by default; `0` picks a free one. */
  port: number;
  /** Cache entries kept; `0` keeps the case study's unbounded cache. */
  cacheLimit: number;
  /** Simulated database latency in milliseconds. */
  dbDelayMs: number;
  /** Most HTTP connections open at once. */
  maxConnections: number;
  /** How long a new HTTP connection may take to send its first request. */
  headersTimeoutMs: number;
  /** How long a kept-alive HTTP connection may sit idle. */
  idleTimeoutMs: number;
  /** The live console, or `null` with `--no-console`. */
  console: ConsoleConfig | null;
  /** The leak alarm, or `null` with `--leak-alarm off`. */
  leakAlarm: LeakAlarmConfig | null;
  /**
   * Let SIGUSR1 open Deno's unauthenticated V8 inspector on 127.0.0.1:9229
   * (`--allow-inspector-signal`); refused by default.
   */
  allowInspectorSignal: boolean;
}

/** The leak alarm's settings (see `console/toolkit/leak_alarm.ts`). */
export interface LeakAlarmConfig {
  /** How far back the trend of the heap after full GCs looks, in seconds. */
  windowSeconds: number;
  /** Least growth over one window to trip, in bytes. */
  minGrowthBytes: number;
  /** Least growth over one window to trip, in percent of the floor. */
  minGrowthPercent: number;
  /** Longest time without a full GC before the alarm asks for one, in seconds. */
  gcIntervalSeconds: number;
  /** How long allocation sampling runs after a trip, in seconds. */
  profileSeconds: number;
}

/** The `serve` subcommand's help text. */
export const SERVE_HELP = `Usage: main.ts serve [flags]

Runs the users service (HTTP) and its live console (TCP or unix socket).

Flags (environment variable in brackets):
  --host HOST              HTTP host (HOST) [default: 127.0.0.1]
  --port PORT              HTTP port, 0 picks a free one (PORT) [default: 8000]
  --cache-limit N          keep at most N users, least recently used evicted;
                           0 keeps every user: the leak (CACHE_LIMIT) [default: 0]
  --db-delay MS            simulated database latency (DB_DELAY_MS) [default: 0]
  --max-connections N      most HTTP connections at once; at the cap the
                           quietest one, else the busiest, is cut off for a
                           newcomer (MAX_CONNECTIONS) [default: 900]
  --headers-timeout MS     a new connection's time to send its first request
                           (HEADERS_TIMEOUT_MS) [default: 10000]
  --idle-timeout MS        a kept-alive connection's idle time between
                           requests (IDLE_TIMEOUT_MS) [default: 5000]
  --no-console             do not start the live console
  --console-host HOST      console host (CONSOLE_HOST) [default: ${DEFAULT_CONSOLE_HOST}]
  --console-port PORT      console port, 0 picks a free one (CONSOLE_PORT)
                           [default: ${DEFAULT_CONSOLE_PORT}]
  --console-socket PATH    listen on a unix socket instead (CONSOLE_SOCKET)
  --console-token TOKEN    the console's token (CONSOLE_TOKEN); without one a
                           random token is written to a file only you can read
                           (prefer the variable: ps and deno task show flags)
  --console-max-sessions N most console sessions at once [default: ${DEFAULT_MAX_SESSIONS}]
  --leak-alarm on|off      watch the heap after full GCs and log a suspected
                           leak with its allocation sites (LEAK_ALARM)
                           [default: on]
  --leak-alarm-window S    seconds of post-GC floor the trend is fitted over
                           (LEAK_ALARM_WINDOW) [default: 60]
  --leak-alarm-min-growth MIB
                           least floor growth per window to trip, MiB
                           (LEAK_ALARM_MIN_GROWTH) [default: 8]
  --leak-alarm-min-growth-percent P
                           and least growth per window in percent of the
                           floor (LEAK_ALARM_MIN_GROWTH_PERCENT) [default: 10]
  --leak-alarm-gc-interval S
                           ask for a full GC after S seconds without one (an
                           eighth of the window at most), within a 0.5% time
                           budget (LEAK_ALARM_GC_INTERVAL) [default: 10]
  --leak-alarm-profile S   seconds of allocation sampling after a trip
                           (LEAK_ALARM_PROFILE) [default: 30]
  --allow-inspector-signal let SIGUSR1 open Deno's V8 inspector on
                           127.0.0.1:9229, where anyone on this machine can
                           run code in the service; without it the inspector
                           is closed as soon as it opens [default: off]
  -h, --help               show this help
`;

const PORT_RANGE = { min: 0, max: 65535 };

/**
 * Parses the `serve` subcommand's arguments, with environment fallbacks.
 *
 * @param args The arguments after `serve`.
 * @returns The configuration, or `"help"` when help was asked for.
 * @throws {UsageError} On an unknown flag or a bad value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseServeArgs } from "./config.ts";
 * const config = parseServeArgs(["--port", "0", "--cache-limit", "10"]);
 * assert.ok(config !== "help" && config.cacheLimit === 10);
 * ```
 */
export function parseServeArgs(args: string[]): ServeConfig | "help" {
  const flags = parseFlags(args, {
    help: { type: "boolean", short: "h" },
    console: { type: "boolean" },
    // No environment fallback: a switch that opens a door is given on the
    // command line, never inherited unseen from an environment.
    "allow-inspector-signal": { type: "boolean" },
    ...valueFlags(
      "host",
      "port",
      "cache-limit",
      "db-delay",
      "max-connections",
      "headers-timeout",
      "idle-timeout",
      "console-host",
      "console-port",
      "console-socket",
      "console-token",
      "console-max-sessions",
    ),
    ...LEAK_ALARM_FLAGS,
  });
  if (flags.help) return "help";

  const integer = (
    flag: string | undefined,
    flagName: string,
    envName: string,
    fallback: number,
    range: { min: number; max: number },
  ) => {
    const { value, source } = flagOrEnv(flag, flagName, envName);
    return value === undefined ? fallback : parseInteger(value, source, range);
  };
  const text = (
    flag: string | undefined,
    flagName: string,
    envName: string,
  ) => {
    const { value, source } = flagOrEnv(flag, flagName, envName);
    if (value !== undefined && value.trim() === "") {
      throw new UsageError(`${source} must not be empty`);
    }
    return value;
  };

  const config: ServeConfig = {
    host: text(flags.host, "--host", "HOST") ?? "127.0.0.1",
    port: integer(flags.port, "--port", "PORT", 8000, PORT_RANGE),
    cacheLimit: integer(
      flags["cache-limit"],
      "--cache-limit",
      "CACHE_LIMIT",
      0,
      { min: 0, max: Number.MAX_SAFE_INTEGER },
    ),
    dbDelayMs: integer(flags["db-delay"], "--db-delay", "DB_DELAY_MS", 0, {
      min: 0,
      max: 60_000,
    }),
    maxConnections: integer(
      flags["max-connections"],
      "--max-connections",
      "MAX_CONNECTIONS",
      DEFAULT_MAX_CONNECTIONS,
      { min: 1, max: 1_000_000 },
    ),
    headersTimeoutMs: integer(
      flags["headers-timeout"],
      "--headers-timeout",
      "HEADERS_TIMEOUT_MS",
      DEFAULT_HEADERS_TIMEOUT_MS,
      { min: 1, max: 3_600_000 },
    ),
    idleTimeoutMs: integer(
      flags["idle-timeout"],
      "--idle-timeout",
      "IDLE_TIMEOUT_MS",
      DEFAULT_IDLE_TIMEOUT_MS,
      { min: 1, max: 3_600_000 },
    ),
    console: null,
    leakAlarm: parseLeakAlarmFlags(flags),
    allowInspectorSignal: flags["allow-inspector-signal"] === true,
  };
  if (flags.console !== false) {
    const token = text(
      flags["console-token"],
      "--console-token",
      "CONSOLE_TOKEN",
    );
    config.console = {
      host: text(flags["console-host"], "--console-host", "CONSOLE_HOST") ??
        DEFAULT_CONSOLE_HOST,
      port: integer(
        flags["console-port"],
        "--console-port",
        "CONSOLE_PORT",
        DEFAULT_CONSOLE_PORT,
        PORT_RANGE,
      ),
      socket: text(
        flags["console-socket"],
        "--console-socket",
        "CONSOLE_SOCKET",
      ),
      token,
      maxSessions: integer(
        flags["console-max-sessions"],
        "--console-max-sessions",
        "CONSOLE_MAX_SESSIONS",
        DEFAULT_MAX_SESSIONS,
        { min: 1, max: 1024 },
      ),
    };
  }
  return config;
}

/**
 * Checks everything about a configuration that can be known before
 * anything listens, so a bad start prints one error and binds nothing. The
 * console's own rules (token length, a non-loopback console without a token,
 * the socket path's length, directory and kind) live in the console server's
 * `checkConsoleOptions`; this adds what only the `serve` command knows:
 * whether this process may listen on the socket path, and whether a fixed
 * console port is free. A missing socket directory inside the state
 * directory (`$HOME/.leakwatch`) is created, mode 0700.
 *
 * @param config The parsed configuration.
 * @throws {UsageError} On the first problem found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkServeConfig, parseServeArgs, type ServeConfig } from "./config.ts";
 * const config = parseServeArgs(["--console-token", "short"]) as ServeConfig;
 * await assert.rejects(() => checkServeConfig(config), /at least 16 characters/);
 * ```
 */
export async function checkServeConfig(config: ServeConfig): Promise<void> {
  const console = config.console;
  if (console === null) return;
  // A literal specifier (compile-ready); the listener's module is small and
  // is loaded anyway once the console starts.
  const { checkConsoleOptions, ConsoleConfigError } = await import(
    "../console/server/listener.ts"
  );
  const socket = console.socket === undefined
    ? undefined
    : absolutePath(console.socket);
  try {
    await checkConsoleOptions({
      host: console.host,
      socket: console.socket,
      token: console.token,
      createSocketDirectory: socket !== undefined &&
        insideStateDirectory(socket.slice(0, socket.lastIndexOf("/")) || "/"),
    });
  } catch (error) {
    if (error instanceof ConsoleConfigError) {
      throw new UsageError(error.message);
    }
    throw error;
  }
  if (socket !== undefined) {
    await checkSocketPermission(console.socket!, socket);
  } else if (console.port !== 0) {
    checkPortFree(console.host, console.port);
  }
}

/** Binds and releases `host:port`: in use or not permitted is known now. */
function checkPortFree(host: string, port: number): void {
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ hostname: host, port, transport: "tcp" });
  } catch (error) {
    const reason = error instanceof Deno.errors.AddrInUse
      ? "address in use"
      : error instanceof Deno.errors.NotCapable
      ? `not permitted (run with --allow-net=${host})`
      : error instanceof Error
      ? error.message
      : String(error);
    throw new UsageError(`Cannot listen on console ${host}:${port}: ${reason}`);
  }
  listener.close();
}

/** Whether this process may listen on the socket (Deno's net permission). */
async function checkSocketPermission(
  path: string,
  absolute: string,
): Promise<void> {
  const { state } = await Deno.permissions.query({
    name: "net",
    host: `unix:${absolute}`,
  });
  if (state !== "granted") {
    throw new UsageError(
      `Cannot listen on ${path}: not permitted; deno task start allows only $HOME/.leakwatch/console.sock, so for another path run deno run with --allow-net=127.0.0.1,unix:${absolute} --allow-write=${absolute} and the start task's other flags (see the README)`,
    );
  }
}

function absolutePath(path: string): string {
  return path.startsWith("/") ? path : `${workingDirectory()}${path}`;
}

/** The working directory with a final slash, or "" when it cannot be read. */
function workingDirectory(): string {
  try {
    return `${Deno.cwd()}/`;
  } catch {
    return "";
  }
}

function insideStateDirectory(directory: string): boolean {
  const home = readEnv("HOME")?.replace(/\/+$/, "");
  if (!home) return false;
  const state = `${home}/.leakwatch`;
  return directory === state || directory.startsWith(`${state}/`);
}

const LEAK_ALARM_FLAGS = valueFlags(
  "leak-alarm",
  "leak-alarm-window",
  "leak-alarm-min-growth",
  "leak-alarm-min-growth-percent",
  "leak-alarm-gc-interval",
  "leak-alarm-profile",
);

/**
 * Reads the leak alarm's flags, with environment fallbacks.
 *
 * @param flags The parsed `--leak-alarm*` flags.
 * @returns The settings, or `null` for `--leak-alarm off`.
 * @throws {UsageError} On a bad value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseLeakAlarmFlags } from "./config.ts";
 * assert.equal(parseLeakAlarmFlags({ "leak-alarm": "off" }), null);
 * assert.equal(
 *   parseLeakAlarmFlags({ "leak-alarm-window": "120" })?.windowSeconds,
 *   120,
 * );
 * ```
 */
export function parseLeakAlarmFlags(
  flags: { [K in keyof typeof LEAK_ALARM_FLAGS]?: string },
): LeakAlarmConfig | null {
  const { value: switchValue, source } = flagOrEnv(
    flags["leak-alarm"],
    "--leak-alarm",
    "LEAK_ALARM",
  );
  const enabled = switchValue === undefined ? "on" : switchValue.trim();
  if (enabled === "off") return null;
  if (enabled !== "on") {
    throw new UsageError(
      `${source} must be "on" or "off": received "${switchValue}"`,
    );
  }
  const integer = (
    flag: keyof typeof LEAK_ALARM_FLAGS,
    envName: string,
    fallback: number,
    range: { min: number; max: number },
  ) => {
    const { value, source } = flagOrEnv(flags[flag], `--${flag}`, envName);
    return value === undefined ? fallback : parseInteger(value, source, range);
  };
  const config = {
    windowSeconds: integer("leak-alarm-window", "LEAK_ALARM_WINDOW", 60, {
      min: 5,
      max: 86_400,
    }),
    minGrowthBytes: integer(
      "leak-alarm-min-growth",
      "LEAK_ALARM_MIN_GROWTH",
      8,
      { min: 0, max: 1_048_576 },
    ) * 1024 * 1024,
    minGrowthPercent: integer(
      "leak-alarm-min-growth-percent",
      "LEAK_ALARM_MIN_GROWTH_PERCENT",
      10,
      { min: 0, max: 10_000 },
    ),
    gcIntervalSeconds: integer(
      "leak-alarm-gc-interval",
      "LEAK_ALARM_GC_INTERVAL",
      10,
      { min: 1, max: 86_400 },
    ),
    profileSeconds: integer("leak-alarm-profile", "LEAK_ALARM_PROFILE", 30, {
      min: 1,
      max: 3_600,
    }),
  };
  if (config.minGrowthBytes === 0 && config.minGrowthPercent === 0) {
    throw new UsageError(
      "--leak-alarm-min-growth and --leak-alarm-min-growth-percent must not both be 0 (it could never trip); use --leak-alarm off",
    );
  }
  return config;
}
