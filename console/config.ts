/**
 * The console's and the leak alarm's settings read from flags and the
 * environment (`--console-*`, `--leak-alarm-*`, `CONSOLE_*`, `LEAK_ALARM*`):
 * their parsing, the checks that can run before anything listens, and
 * their `--help` lines, and the strict flag helpers they are built with
 * (`parseFlags`, `UsageError`, ...). `main.ts serve` composes them with its
 * own HTTP flags; any host that wants the same flags can do the same.
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { CONSOLE_FLAGS, LEAK_ALARM_FLAGS, parseConsoleFlags, parseLeakAlarmFlags } from "./config.ts";
 * import { parseFlags } from "./flags.ts";
 * const flags = parseFlags(["--console-port", "0"], { ...CONSOLE_FLAGS, ...LEAK_ALARM_FLAGS });
 * assert.equal(parseConsoleFlags(flags)?.port, 0);
 * assert.equal(parseLeakAlarmFlags(flags)?.windowSeconds, 60);
 * ```
 *
 * @module
 */

import {
  flagOrEnv,
  integerFlag,
  readEnv,
  textFlag,
  UsageError,
  valueFlags,
} from "./flags.ts";

// The strict flag helpers these flags are parsed with, for a program that
// adds flags of its own beside them (`main.ts serve` does).
export {
  integerFlag,
  parseFlags,
  readEnv,
  textFlag,
  UsageError,
  valueFlags,
} from "./flags.ts";
import {
  DEFAULT_CONSOLE_HOST,
  DEFAULT_CONSOLE_PORT,
  DEFAULT_MAX_SESSIONS,
} from "./protocol.ts";

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

/** The console's flags, for `parseFlags` (`--no-console` included). */
export const CONSOLE_FLAGS:
  & {
    console: { type: "boolean" };
  }
  & Record<
    | "console-host"
    | "console-port"
    | "console-socket"
    | "console-token"
    | "console-max-sessions",
    { type: "string" }
  > = {
    console: { type: "boolean" },
    ...valueFlags(
      "console-host",
      "console-port",
      "console-socket",
      "console-token",
      "console-max-sessions",
    ),
  };

/** The leak alarm's flags, for `parseFlags`. */
export const LEAK_ALARM_FLAGS: Record<
  | "leak-alarm"
  | "leak-alarm-window"
  | "leak-alarm-min-growth"
  | "leak-alarm-min-growth-percent"
  | "leak-alarm-gc-interval"
  | "leak-alarm-profile",
  { type: "string" }
> = valueFlags(
  "leak-alarm",
  "leak-alarm-window",
  "leak-alarm-min-growth",
  "leak-alarm-min-growth-percent",
  "leak-alarm-gc-interval",
  "leak-alarm-profile",
);

/** The `--help` lines of {@linkcode CONSOLE_FLAGS}. */
export const CONSOLE_FLAGS_HELP =
  `  --no-console             do not start the live console
  --console-host HOST      console host (CONSOLE_HOST) [default: ${DEFAULT_CONSOLE_HOST}]
  --console-port PORT      console port, 0 picks a free one (CONSOLE_PORT)
                           [default: ${DEFAULT_CONSOLE_PORT}]
  --console-socket PATH    listen on a unix socket instead (CONSOLE_SOCKET)
  --console-token TOKEN    the console's token (CONSOLE_TOKEN); without one a
                           random token is written to a file only you can read
                           (prefer the variable: ps and deno task show flags)
  --console-max-sessions N most console sessions at once [default: ${DEFAULT_MAX_SESSIONS}]
`;

/** The `--help` lines of {@linkcode LEAK_ALARM_FLAGS}. */
export const LEAK_ALARM_FLAGS_HELP =
  `  --leak-alarm on|off      watch the JS heap, external and native memory
                           after full GCs and the open handles, and log a
                           suspected leak with where it comes from
                           (LEAK_ALARM) [default: on]
  --leak-alarm-window S    seconds of post-GC floors the trend is fitted over
                           (LEAK_ALARM_WINDOW) [default: 60]
  --leak-alarm-min-growth MIB
                           least growth of a memory floor per window to
                           trip, MiB (LEAK_ALARM_MIN_GROWTH) [default: 8]
  --leak-alarm-min-growth-percent P
                           and least growth per window in percent of the
                           floor (LEAK_ALARM_MIN_GROWTH_PERCENT) [default: 10]
  --leak-alarm-gc-interval S
                           ask for a full GC after S seconds without one (a
                           tenth of the window at most), within a 0.5% time
                           budget (LEAK_ALARM_GC_INTERVAL) [default: 10]
  --leak-alarm-profile S   seconds of allocation sampling after a trip
                           (LEAK_ALARM_PROFILE) [default: 30]
`;

const PORT_RANGE = { min: 0, max: 65535 };

/**
 * Reads the console's flags, with environment fallbacks.
 *
 * @param flags The parsed {@linkcode CONSOLE_FLAGS}.
 * @returns The settings, or `null` for `--no-console`.
 * @throws {UsageError} On a bad value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConsoleFlags } from "./config.ts";
 * assert.equal(parseConsoleFlags({ console: false }), null);
 * assert.equal(parseConsoleFlags({ "console-port": "0" })?.port, 0);
 * ```
 */
export function parseConsoleFlags(
  flags: { [K in keyof typeof CONSOLE_FLAGS]?: string | boolean },
): ConsoleConfig | null {
  if (flags.console === false) return null;
  const text = (name: keyof typeof CONSOLE_FLAGS, env: string) => {
    const flag = flags[name];
    return textFlag(
      typeof flag === "string" ? flag : undefined,
      `--${name}`,
      env,
    );
  };
  const integer = (
    name: keyof typeof CONSOLE_FLAGS,
    env: string,
    fallback: number,
    range: { min: number; max: number },
  ) => {
    const flag = flags[name];
    return integerFlag(
      typeof flag === "string" ? flag : undefined,
      `--${name}`,
      env,
      fallback,
      range,
    );
  };
  const token = text("console-token", "CONSOLE_TOKEN");
  return {
    host: text("console-host", "CONSOLE_HOST") ?? DEFAULT_CONSOLE_HOST,
    port: integer(
      "console-port",
      "CONSOLE_PORT",
      DEFAULT_CONSOLE_PORT,
      PORT_RANGE,
    ),
    socket: text("console-socket", "CONSOLE_SOCKET"),
    token,
    maxSessions: integer(
      "console-max-sessions",
      "CONSOLE_MAX_SESSIONS",
      DEFAULT_MAX_SESSIONS,
      { min: 1, max: 1024 },
    ),
  };
}

/**
 * Checks everything about the console's settings that can be known before
 * anything listens, so a bad start prints one error and binds nothing. The
 * console's own rules (token length, a non-loopback console without a token,
 * the socket path's length, directory and kind) live in the console server's
 * `checkConsoleOptions`; this adds whether this process may listen on the
 * socket path, and whether a fixed console port is free. A missing socket
 * directory inside the state directory (`$HOME/.leakwatch`) is created,
 * mode 0700.
 *
 * @param config The parsed settings.
 * @throws {UsageError} On the first problem found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkConsoleConfig } from "./config.ts";
 * await assert.rejects(
 *   () => checkConsoleConfig({ host: "127.0.0.1", port: 0, token: "short", maxSessions: 8 }),
 *   /at least 16 characters/,
 * );
 * ```
 */
export async function checkConsoleConfig(config: ConsoleConfig): Promise<void> {
  // A literal specifier (compile-ready); the listener's module is small and
  // is loaded anyway once the console starts.
  const { checkConsoleOptions, ConsoleConfigError } = await import(
    "./server/listener.ts"
  );
  const socket = config.socket === undefined
    ? undefined
    : absolutePath(config.socket);
  try {
    await checkConsoleOptions({
      host: config.host,
      socket: config.socket,
      token: config.token,
      createSocketDirectory: socket !== undefined &&
        insideStateDirectory(socket.slice(0, socket.lastIndexOf("/")) || "/"),
    });
  } catch (error) {
    if (error instanceof ConsoleConfigError) {
      throw new UsageError(error.message);
    }
    throw error;
  }
  if (config.socket !== undefined && socket !== undefined) {
    await checkSocketPermission(config.socket, socket);
  } else if (config.port !== 0) {
    checkPortFree(config.host, config.port);
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

const MiB = 1024 * 1024;

/**
 * Each leak alarm setting: its flag, its environment variable, and its
 * default and bounds in the flag's unit (`unit` converts to the setting's:
 * the flag takes MiB, the setting is in bytes).
 */
const LEAK_ALARM_SETTINGS: Record<
  keyof LeakAlarmConfig,
  {
    flag: keyof typeof LEAK_ALARM_FLAGS;
    env: string;
    fallback: number;
    min: number;
    max: number;
    unit: number;
  }
> = {
  windowSeconds: {
    flag: "leak-alarm-window",
    env: "LEAK_ALARM_WINDOW",
    fallback: 60,
    min: 5,
    max: 86_400,
    unit: 1,
  },
  minGrowthBytes: {
    flag: "leak-alarm-min-growth",
    env: "LEAK_ALARM_MIN_GROWTH",
    fallback: 8,
    min: 0,
    max: 1_048_576,
    unit: MiB,
  },
  minGrowthPercent: {
    flag: "leak-alarm-min-growth-percent",
    env: "LEAK_ALARM_MIN_GROWTH_PERCENT",
    fallback: 10,
    min: 0,
    max: 10_000,
    unit: 1,
  },
  gcIntervalSeconds: {
    flag: "leak-alarm-gc-interval",
    env: "LEAK_ALARM_GC_INTERVAL",
    fallback: 10,
    min: 1,
    max: 86_400,
    unit: 1,
  },
  profileSeconds: {
    flag: "leak-alarm-profile",
    env: "LEAK_ALARM_PROFILE",
    fallback: 30,
    min: 1,
    max: 3_600,
    unit: 1,
  },
};

const LEAK_ALARM_KEYS = [
  "windowSeconds",
  "minGrowthBytes",
  "minGrowthPercent",
  "gcIntervalSeconds",
  "profileSeconds",
] as const;

/**
 * The leak alarm's defaults: a 60 s window, growth of at least 8 MiB and
 * 10% of the floor per window, a full GC asked for after 10 s without one,
 * 30 s of allocation sampling after a trip.
 */
export const LEAK_ALARM_DEFAULTS: Readonly<LeakAlarmConfig> = Object.freeze({
  windowSeconds: LEAK_ALARM_SETTINGS.windowSeconds.fallback,
  minGrowthBytes: LEAK_ALARM_SETTINGS.minGrowthBytes.fallback * MiB,
  minGrowthPercent: LEAK_ALARM_SETTINGS.minGrowthPercent.fallback,
  gcIntervalSeconds: LEAK_ALARM_SETTINGS.gcIntervalSeconds.fallback,
  profileSeconds: LEAK_ALARM_SETTINGS.profileSeconds.fallback,
});

/**
 * Fills in a program's leak alarm settings from
 * {@linkcode LEAK_ALARM_DEFAULTS} and checks them against the bounds the
 * flags have.
 *
 * @param settings The settings given; any may be left out.
 * @returns The complete settings.
 * @throws {RangeError} When one is not a number within its bounds, or both
 * growth thresholds are 0 (the alarm could never trip).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { leakAlarmConfig } from "./config.ts";
 * assert.equal(leakAlarmConfig({ windowSeconds: 120 }).profileSeconds, 30);
 * assert.throws(() => leakAlarmConfig({ windowSeconds: 1 }), RangeError);
 * ```
 */
export function leakAlarmConfig(
  settings: Partial<LeakAlarmConfig> = {},
): LeakAlarmConfig {
  const config = { ...LEAK_ALARM_DEFAULTS };
  for (const name of LEAK_ALARM_KEYS) {
    const rule = LEAK_ALARM_SETTINGS[name];
    const value: unknown = settings[name];
    if (value === undefined) continue;
    const min = rule.min * rule.unit;
    const max = rule.max * rule.unit;
    if (typeof value !== "number" || !(value >= min && value <= max)) {
      throw new RangeError(
        `The leak alarm's ${name} must be a number from ${min} to ${max}: received ${
          typeof value === "number"
            ? String(value)
            : JSON.stringify(value) ?? String(value)
        }`,
      );
    }
    config[name] = value;
  }
  checkCanTrip(config, RangeError, "minGrowthBytes and minGrowthPercent");
  return config;
}

/**
 * Reads the leak alarm's flags, with environment fallbacks.
 *
 * @param flags The parsed {@linkcode LEAK_ALARM_FLAGS}.
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
  const config = { ...LEAK_ALARM_DEFAULTS };
  for (const name of LEAK_ALARM_KEYS) {
    const rule = LEAK_ALARM_SETTINGS[name];
    config[name] = integerFlag(
      flags[rule.flag],
      `--${rule.flag}`,
      rule.env,
      rule.fallback,
      rule,
    ) * rule.unit;
  }
  checkCanTrip(
    config,
    UsageError,
    "--leak-alarm-min-growth and --leak-alarm-min-growth-percent",
  );
  return config;
}

/** Refuses both growth thresholds at 0. */
function checkCanTrip(
  config: LeakAlarmConfig,
  ErrorClass: new (message: string) => Error,
  names: string,
): void {
  if (config.minGrowthBytes === 0 && config.minGrowthPercent === 0) {
    throw new ErrorClass(
      `${names} must not both be 0 (it could never trip); use --leak-alarm off`,
    );
  }
}
