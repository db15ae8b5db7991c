/**
 * The `serve` subcommand's configuration: flags, environment, defaults and
 * its `--help` text.
 *
 * @module
 */

import {
  checkConsoleConfig,
  CONSOLE_FLAGS,
  CONSOLE_FLAGS_HELP,
  type ConsoleConfig,
  integerFlag,
  LEAK_ALARM_FLAGS,
  LEAK_ALARM_FLAGS_HELP,
  type LeakAlarmConfig,
  parseConsoleFlags,
  parseFlags,
  parseLeakAlarmFlags,
  textFlag,
  valueFlags,
} from "../console/config.ts";
import {
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
} from "./http_server.ts";

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
${CONSOLE_FLAGS_HELP}${LEAK_ALARM_FLAGS_HELP}  --allow-inspector-signal let SIGUSR1 open Deno's V8 inspector on
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
    ),
    ...CONSOLE_FLAGS,
    ...LEAK_ALARM_FLAGS,
  });
  if (flags.help) return "help";

  const config: ServeConfig = {
    host: textFlag(flags.host, "--host", "HOST") ?? "127.0.0.1",
    port: integerFlag(flags.port, "--port", "PORT", 8000, PORT_RANGE),
    cacheLimit: integerFlag(
      flags["cache-limit"],
      "--cache-limit",
      "CACHE_LIMIT",
      0,
      { min: 0, max: Number.MAX_SAFE_INTEGER },
    ),
    dbDelayMs: integerFlag(flags["db-delay"], "--db-delay", "DB_DELAY_MS", 0, {
      min: 0,
      max: 60_000,
    }),
    maxConnections: integerFlag(
      flags["max-connections"],
      "--max-connections",
      "MAX_CONNECTIONS",
      DEFAULT_MAX_CONNECTIONS,
      { min: 1, max: 1_000_000 },
    ),
    headersTimeoutMs: integerFlag(
      flags["headers-timeout"],
      "--headers-timeout",
      "HEADERS_TIMEOUT_MS",
      DEFAULT_HEADERS_TIMEOUT_MS,
      { min: 1, max: 3_600_000 },
    ),
    idleTimeoutMs: integerFlag(
      flags["idle-timeout"],
      "--idle-timeout",
      "IDLE_TIMEOUT_MS",
      DEFAULT_IDLE_TIMEOUT_MS,
      { min: 1, max: 3_600_000 },
    ),
    leakAlarm: parseLeakAlarmFlags(flags),
    console: parseConsoleFlags(flags),
    allowInspectorSignal: flags["allow-inspector-signal"] === true,
  };
  return config;
}

/**
 * Checks everything about a configuration that can be known before
 * anything listens, so a bad start prints one error and binds nothing: the
 * console's settings (`checkConsoleConfig` of `console/config.ts`).
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
  if (config.console !== null) await checkConsoleConfig(config.console);
}
