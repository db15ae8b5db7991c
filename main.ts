/**
 * leakwatch: the users service (a deliberately leaking Hono app) with a live
 * console and a leak toolkit inside it, in one executable.
 *
 * ```sh
 * deno run ... main.ts serve [flags]     # the service and its console
 * deno run ... main.ts console [flags]   # the console's client
 * ```
 *
 * @module
 */

import { parseServeArgs, SERVE_HELP } from "./lib/config.ts";
import { UsageError } from "./lib/flags.ts";
import { serve } from "./lib/serve.ts";

/** The top-level help text. */
export const HELP =
  `leakwatch: a users service with a live console for diagnosing memory leaks

Usage: main.ts <command> [flags]

Commands:
  serve     run the users service and its console (default)
  console   connect to a running service's console
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
      const { runConsoleClient } = await import("./console/client/run.ts");
      return await runConsoleClient(rest);
    }
    case "help":
    case "--help":
    case "-h":
      console.log(HELP);
      return 0;
    default:
      throw new UsageError(
        `unknown command "${command}" (expected serve, console or help)`,
      );
  }
}

/** Prints a one-line `error: ...` for a usage mistake and exits 2. */
function fail(error: unknown): never {
  if (error instanceof UsageError) {
    console.error(`error: ${error.message}`);
    Deno.exit(2);
  }
  console.error("error:", error);
  Deno.exit(1);
}

async function main(): Promise<void> {
  const exit = (code: number): never => Deno.exit(code);
  try {
    Deno.exit(await run(Deno.args, exit));
  } catch (error) {
    fail(error);
  }
}

if (import.meta.main) {
  await main();
}
