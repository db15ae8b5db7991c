/**
 * Attaches the console to a running Deno or Node process by pid, with no
 * change to its code and no restart (its V8 inspector, opened by SIGUSR1),
 * or to one started with `--inspect`:
 *
 * ```sh
 * deno run --allow-run=kill --allow-read=/proc,$HOME/.leakwatch \
 *   --allow-write=$HOME/.leakwatch --allow-net=127.0.0.1:9229 \
 *   --allow-env=HOME console/attach/main.ts 1234
 * ```
 *
 * Flags, refusals and exit codes: `--help`; the security window and real
 * output: docs/attach.md.
 *
 * @module
 */

import { exitOnUsageError } from "../flags.ts";
import { runAttach } from "./run.ts";

export { ATTACH_HELP } from "./flags.ts";

/**
 * Runs `attach` on `args`; a usage error is one `error:` line and exit 2.
 *
 * @param args The command line (after `attach`).
 * @returns The exit code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "./main.ts";
 * assert.equal(await main(["not-a-pid"]), 2);
 * ```
 */
export function main(args: string[]): Promise<number> {
  return exitOnUsageError(() => runAttach(args));
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
