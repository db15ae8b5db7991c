/**
 * leakwatch: the users service (a deliberately leaking Hono app) with a live
 * console and a leak toolkit inside it, in one executable.
 *
 * ```sh
 * deno run ... main.ts serve [flags]     # the service and its console
 * deno run ... main.ts console [flags]   # the console's client
 * deno run ... main.ts analyze FILE...   # heap snapshot files, offline
 * deno run ... main.ts attach PID        # the console in any Deno or Node process
 * ```
 *
 * @module
 */

import { parseServeArgs, SERVE_HELP } from "./lib/config.ts";
import { UsageError } from "./console/config.ts";
import { serve } from "./lib/serve.ts";

/** The top-level help text. */
export const HELP =
  `leakwatch: a users service with a live console for diagnosing memory leaks

Usage: main.ts <command> [flags]

Commands:
  serve     run the users service and its console (default)
  console   connect to a running service's console
  analyze   read .heapsnapshot files (Chrome, Node, Deno): a summary of one,
            the leaks between a baseline, a target and a final one
  attach    the console in any running Deno or Node process, by pid
  help      show this help

Run "main.ts <command> --help" for a command's flags.
`;

/**
 * Runs a subcommand and returns the process exit code.
 *
 * @param args The command line, subcommand first.
 * @param exit Ends the process at once (signals, timeouts).
 * @returns The exit code.
 */
export async function run(
  args: string[],
  exit: (code: number) => never,
): Promise<number> {
  const [command = "serve", ...rest] = args;
  switch (command) {
    case "serve": {
      const config = parseServeArgs(rest);
      if (config === "help") {
        console.log(SERVE_HELP);
        return 0;
      }
      return await serve(config, exit);
    }
    case "console": {
      // Loaded here, not at the top: the client's modules (node:readline,
      // the line editor, history) cost `serve` start-up time and memory it
      // never uses. A literal specifier, so `deno compile` still embeds it.
      const client = await import("./console/client/main.ts");
      return await client.main(rest);
    }
    case "analyze": {
      const { runAnalyze } = await import("./console/analyze/run.ts");
      return await runAnalyze(rest);
    }
    case "attach": {
      // Loaded here for the same reason as the client (a literal specifier).
      const attach = await import("./console/attach/main.ts");
      return await attach.main(rest);
    }
    case "help":
    case "--help":
    case "-h":
      console.log(HELP);
      return 0;
    default:
      throw new UsageError(
        `unknown command "${command}" (expected serve, console, analyze, attach or help)`,
      );
  }
}

/**
 * The process's exit codes, for every command: the one map from how a run
 * ended to its code. A run that returns gives its own code (the console
 * client documents its 0/1/2/130); a thrown error is mapped here.
 *
 * | code    | meaning                                                                                           |
 * | ------- | ------------------------------------------------------------------------------------------------- |
 * | 0       | success; `serve` stopped gracefully                                                               |
 * | 1       | an unexpected error; requests still running after the grace                                       |
 * | 2       | a usage error: bad flag or value, bad configuration, cannot bind, a bad snapshot file (`analyze`) |
 * | 128 + n | `serve` ended at once by a second stop signal n (130 SIGINT)                                      |
 */
export const EXIT_CODES = { ok: 0, failure: 1, usage: 2 } as const;

/**
 * Prints a thrown error as one `error: ...` line (a stack only for the
 * unexpected) and gives its exit code.
 *
 * @param error What `run` threw.
 * @returns The exit code of {@linkcode EXIT_CODES}.
 */
export function reportError(error: unknown): number {
  if (error instanceof UsageError) {
    console.error(`error: ${error.message}`);
    return EXIT_CODES.usage;
  }
  console.error("error:", error);
  return EXIT_CODES.failure;
}

async function main(): Promise<never> {
  // The only exits of the process: here, and the immediate one `serve` is
  // handed for a second stop signal or an expired grace period.
  const exit = (code: number): never => Deno.exit(code);
  let code: number;
  try {
    code = await run(Deno.args, exit);
  } catch (error) {
    code = reportError(error);
  }
  return exit(code);
}

if (import.meta.main) {
  await main();
}
