/**
 * Heap snapshots made for the `analyze` tests by real programs that leak
 * (`bench/leak_program.ts`: Node CommonJS, Node ES module, Deno), and
 * `analyze` itself, run as `deno task analyze` runs it.
 *
 * @module
 */

import {
  type LeakSize,
  makeLeakTrio,
  type Runtime,
  type Trio,
} from "../../../bench/leak_program.ts";
import { runMain } from "../../_process.ts";

export type { Runtime, Trio };

/** Visits added between the baseline and the target snapshot. */
export const VISITS = 3_000;
/** Entries added between the target and the final snapshot. */
export const LATE = 2_000;

/** The test's leak: small enough to snapshot in a second or two. */
const SIZE: LeakSize = { visits: VISITS, late: LATE };

/**
 * Runs the leaking program in a runtime and returns its three snapshots.
 *
 * @param runtime `node-cjs`, `node-esm` or `deno`.
 * @param dir An empty directory for the program and its snapshots.
 * @returns The snapshot files.
 */
export function makeTrio(runtime: Runtime, dir: string): Promise<Trio> {
  return makeLeakTrio(runtime, dir, SIZE);
}

/**
 * Runs `main.ts analyze` with the `analyze` task's permissions.
 *
 * @param args The arguments after `analyze`.
 * @param env Extra environment.
 * @returns The exit code and output.
 */
export function analyze(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runMain(["analyze", ...args], { task: "analyze", env });
}

/** One leak group of `analyze --json`, as the tests read it. */
export interface JsonLeak {
  heldBy: string;
  objects: string;
  count: number;
  retainedSize: number;
  holder?: { kind: string; name: string; url?: string };
}

/**
 * Runs `analyze --json` on snapshots and returns its leak groups.
 *
 * @param files Two or three snapshot files.
 * @param env Extra environment (`INIT_CWD`: where files print from).
 * @returns The groups, largest first.
 */
export async function jsonLeaks(
  files: string[],
  env: Record<string, string> = {},
): Promise<JsonLeak[]> {
  const { code, stdout, stderr } = await analyze([
    ...files,
    "--json",
    "--rows",
    "50",
  ], env);
  if (code !== 0) throw new Error(`analyze failed (${code}): ${stderr}`);
  return JSON.parse(stdout).leaks;
}
