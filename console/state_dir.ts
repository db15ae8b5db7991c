/**
 * Where the console keeps its files: `$HOME/.leakwatch` (tokens, history,
 * heap snapshots). The `start` and `console` tasks grant read and write on
 * exactly this directory.
 *
 * @module
 */

/**
 * The state directory, `$HOME/.leakwatch`.
 *
 * @returns Its path.
 * @throws {Error} When `HOME` is unset or cannot be read.
 *
 * @example
 * ```ts
 * import { stateDirectory } from "./state_dir.ts";
 * console.assert(stateDirectory().endsWith("/.leakwatch"));
 * ```
 */
export function stateDirectory(): string {
  let home: string | undefined;
  try {
    home = Deno.env.get("HOME");
  } catch {
    home = undefined;
  }
  if (!home) {
    throw new Error(
      "Cannot find the state directory: HOME is unset or not readable (grant --allow-env=HOME)",
    );
  }
  return `${home.replace(/\/+$/, "")}/.leakwatch`;
}

/**
 * Creates `path` (and its parents) if needed and makes it private to the
 * owner (mode 0700).
 *
 * @param path The directory.
 * @returns The same path.
 */
export async function ensurePrivateDirectory(path: string): Promise<string> {
  await Deno.mkdir(path, { recursive: true, mode: 0o700 });
  const info = await Deno.stat(path);
  if (!info.isDirectory) throw new Error(`"${path}" is not a directory`);
  if (((info.mode ?? 0) & 0o077) !== 0) await Deno.chmod(path, 0o700);
  return path;
}
