/**
 * The `attach` subcommand's flags and its `--help` text.
 *
 * @module
 */

import { parseFlags, parseInteger, UsageError } from "../flags.ts";
import {
  DEFAULT_INSPECTOR_PORT,
  type InspectorAddress,
  parseInspectArgument,
} from "./inspector_endpoint.ts";

/** What `attach` runs with. */
export interface AttachConfig {
  /** The process to attach to by signal. */
  pid?: number;
  /** `--inspect`: the inspector of a process started with `--inspect`. */
  inspect?: InspectorAddress & { url?: string };
  /** `-e CODE`: evaluate it once, then detach. */
  eval?: string;
  /** `--json`: with `-e`, the value (or error) as one JSON value on stdout. */
  json?: true;
  /** How long to wait for the inspector after the signal, in ms. */
  openTimeoutMs: number;
}

/** Linux's largest pid_max. */
const PID_RANGE = { min: 1, max: 4_194_304 };
const DEFAULT_OPEN_TIMEOUT_S = 5;

/** The `attach` subcommand's help text. */
export const ATTACH_HELP = `Usage: main.ts attach PID [flags]
       main.ts attach --inspect HOST:PORT|ws://... [flags]

Attaches the console to a running Deno or Node process that has no
leakwatch code in it: no change to its code, no restart. SIGUSR1 opens its
V8 inspector on 127.0.0.1:${DEFAULT_INSPECTOR_PORT} (Node: its --inspect-port); the session
evaluates in the target's global scope, with the console's rendering,
completion, history, -e, --json and piped input; Ctrl-C also stops a
synchronous loop. On leaving (Ctrl-D, .exit, the end of -e or of the
input, an error, a lost connection, SIGINT/SIGTERM/SIGHUP) attach closes
the inspector again and checks that its port is closed.

While attached, the inspector port is open to EVERY LOCAL USER: anyone on
this machine can run code as the target until you detach. See
docs/attach.md.

Before signalling, attach refuses (exit 2, one line saying why) a process
that is not Deno or Node, a "deno task" runner (it names the program's
pid), a zombie or stopped process, another user's, one in another network
namespace, one whose inspector port another process holds, and one
without a SIGUSR1 handler: a Deno process in its first second or so has
none yet, and the signal would kill it. A target whose inspector is
already open (--inspect) is attached without a signal and left open.

Flags:
  --inspect ADDR  attach to the inspector of a process started with
                  --inspect: HOST:PORT, PORT (on 127.0.0.1) or the
                  ws:// URL it printed; no signal, and it stays open
  -e CODE         evaluate CODE in the target, print its awaited value
                  (nothing when undefined), detach
  --json          with -e: print the value as JSON, an error as
                  {"error": {"name", "message"}}; console output goes to
                  stderr
  --timeout SECONDS
                  how long to wait for the inspector after SIGUSR1
                  [default: ${DEFAULT_OPEN_TIMEOUT_S}]
  --pid PID       the same as the PID argument
  -h, --help      show this help

Exit codes:
  0   success
  1   an evaluation failed (-e or piped input)
  2   bad flags, a refusal, the inspector did not open, the connection
      failed or was lost
  130 left with a second Ctrl-C while an evaluation ignored the interrupt
`;

/**
 * Parses `attach`'s arguments: `PID [flags]`, or `--inspect ADDR [flags]`.
 *
 * @param args The arguments after `attach`.
 * @returns The configuration, or `"help"`.
 * @throws {UsageError} On a bad flag, a missing or bad PID, or both a PID
 * and `--inspect`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAttachArgs } from "./flags.ts";
 * const config = parseAttachArgs(["1234", "-e", "1 + 1"]);
 * assert.ok(config !== "help" && config.pid === 1234 && config.eval === "1 + 1");
 * assert.throws(() => parseAttachArgs([]), /a PID or --inspect/);
 * assert.throws(() => parseAttachArgs(["12x"]), /PID must be an integer/);
 * ```
 */
export function parseAttachArgs(args: string[]): AttachConfig | "help" {
  const [first, ...rest] = args;
  const positional = first !== undefined && !first.startsWith("-");
  const flags = parseFlags(positional ? rest : args, {
    help: { type: "boolean", short: "h" },
    pid: { type: "string" },
    inspect: { type: "string" },
    eval: { type: "string", short: "e" },
    json: { type: "boolean" },
    timeout: { type: "string" },
  });
  if (flags.help) return "help";
  if (positional && flags.pid !== undefined) {
    throw new UsageError("give the PID once: as the argument or as --pid");
  }
  const pidText = positional ? first : flags.pid;
  if (pidText !== undefined && flags.inspect !== undefined) {
    throw new UsageError(
      "give a PID or --inspect, not both (--inspect already names the target)",
    );
  }
  if (pidText === undefined && flags.inspect === undefined) {
    throw new UsageError(
      "attach needs a PID or --inspect HOST:PORT (see attach --help)",
    );
  }
  if (flags.json && flags.eval === undefined) {
    throw new UsageError("--json needs -e CODE");
  }
  const config: AttachConfig = {
    openTimeoutMs: flags.timeout === undefined
      ? DEFAULT_OPEN_TIMEOUT_S * 1000
      : parseInteger(flags.timeout, "--timeout", { min: 1, max: 600 }) * 1000,
  };
  if (pidText !== undefined) {
    config.pid = parseInteger(pidText, "PID", PID_RANGE);
  }
  if (flags.inspect !== undefined) {
    config.inspect = parseInspectArgument(flags.inspect);
  }
  if (flags.eval !== undefined) config.eval = flags.eval;
  if (flags.json) config.json = true;
  return config;
}
