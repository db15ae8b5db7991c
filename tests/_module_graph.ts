/**
 * The module graph as `deno info --json` reports it, for tests that check
 * what imports what.
 *
 * @module
 */

import assert from "node:assert/strict";

/** The project's root, as a file URL with a final slash. */
export const ROOT: URL = new URL("../", import.meta.url);

/** One module of `deno info --json`. */
export interface InfoModule {
  /** Its resolved specifier (`file:///…`, `npm:/…`, `node:…`). */
  specifier: string;
  /** Its imports: as written, and resolved (`code`). */
  dependencies?: {
    specifier: string;
    isDynamic?: boolean;
    code?: { specifier: string };
  }[];
}

/**
 * Runs `deno info --json root` in the project's root.
 *
 * @param root A module, relative to the root.
 * @returns Its roots and every module it reaches, dynamic imports included.
 */
export async function moduleGraph(
  root: string,
): Promise<{ roots: string[]; modules: InfoModule[] }> {
  const { stdout, success } = await new Deno.Command("deno", {
    args: ["info", "--json", root],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.ok(success, `deno info ${root} failed`);
  return JSON.parse(new TextDecoder().decode(stdout));
}

/**
 * A module's path relative to the project's root (`node:`/`npm:` names as
 * they are).
 *
 * @param specifier A resolved specifier.
 * @returns E.g. `console/mod.ts`.
 */
export function relativeName(specifier: string): string {
  return specifier.replace(ROOT.href, "");
}
