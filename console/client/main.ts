/**
 * The console client as a program of its own, for programs that embed the
 * console (it needs none of the users service's modules):
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-env=HOME \
 *   --allow-read=$HOME/.leakwatch --allow-write=$HOME/.leakwatch --allow-sys=uid \
 *   console/client/main.ts --pid 1234
 * ```
 *
 * Flags, modes and exit codes: `--help` (the same as `main.ts console`).
 *
 * @module
 */

import { exitOnUsageError } from "../flags.ts";
import { runConsoleClient } from "./run.ts";

/**
 * Runs the client on `args`; a usage error is one `error:` line and exit 2.
 *
 * @param args The command line.
 * @returns The exit code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "./main.ts";
 * assert.equal(await main(["--port", "nope"]), 2);
 * ```
 */
export function main(args: string[]): Promise<number> {
  return exitOnUsageError(() => runConsoleClient(args));
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
