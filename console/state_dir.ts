/**
 * Where the console keeps its files: `$HOME/.leakwatch` (tokens, history,
 * heap snapshots), and the checks that it is this user's own. The `start`
 * and `console` tasks grant read and write on exactly this directory.
 *
 * A directory another user made (or can write to) would let that user read
 * or replace what goes in it, so it is refused, never adopted: root could
 * otherwise chmod anyone's directory into a "private" one.
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

/** A state directory or file that is not this user's own: refused. */
export class NotPrivateError extends Error {
  /** @param message What is wrong and what to do, in one line. */
  constructor(message: string) {
    super(message);
    this.name = "NotPrivateError";
  }
}

/**
 * This process's user id, to compare owners with; `null` where the system
 * has none (Windows).
 *
 * @param path What is being checked, for the message.
 * @returns The uid, or `null`.
 * @throws {NotPrivateError} When the uid may not be read: an owner that
 * cannot be checked is not trusted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentUid } from "./state_dir.ts";
 * assert.equal(typeof currentUid("/tmp"), "number");
 * ```
 */
export function currentUid(path: string): number | null {
  try {
    return Deno.uid();
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      throw new NotPrivateError(
        `Cannot check who owns "${path}": grant --allow-sys=uid`,
      );
    }
    throw error;
  }
}

/**
 * Checks that `info` (of `path`) belongs to this user.
 *
 * @param path The file or directory, for the message.
 * @param info Its `stat`.
 * @param what What it is, for the message (`directory`, `token file`).
 * @throws {NotPrivateError} When another user owns it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkOwner } from "./state_dir.ts";
 * checkOwner("/tmp/x", { uid: Deno.uid() } as Deno.FileInfo, "directory");
 * assert.throws(
 *   () => checkOwner("/tmp/x", { uid: 65534 } as Deno.FileInfo, "directory"),
 *   /belongs to uid 65534/,
 * );
 * ```
 */
export function checkOwner(
  path: string,
  info: Deno.FileInfo,
  what: string,
): void {
  const uid = currentUid(path);
  if (uid === null || info.uid === null || info.uid === uid) return;
  throw new NotPrivateError(
    `Refusing the ${what} "${path}": it belongs to uid ${info.uid}, not to this user (uid ${uid}), who could read or replace what is in it; remove it or give it to uid ${uid}`,
  );
}

/**
 * Creates `path` (and its parents) if needed and makes it private to its
 * owner (mode 0700). Inside the state directory, the state directory and
 * every directory down to `path` must belong to this user; one that does
 * not is refused, never adopted.
 *
 * @param path The directory.
 * @returns The same path.
 * @throws {NotPrivateError} When one of them belongs to another user or is
 * not a directory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ensurePrivateDirectory } from "./state_dir.ts";
 * const dir = await Deno.makeTempDir();
 * await ensurePrivateDirectory(`${dir}/a/b`);
 * assert.equal((await Deno.stat(`${dir}/a/b`)).mode! & 0o777, 0o700);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function ensurePrivateDirectory(path: string): Promise<string> {
  const chain = directoriesToCheck(path);
  for (const [index, directory] of chain.entries()) {
    // Each one is checked before anything is made inside it: nothing of
    // ours goes into another user's directory.
    await Deno.mkdir(directory, { recursive: index === 0, mode: 0o700 })
      .catch((error) => {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      });
    const info = await Deno.stat(directory);
    if (!info.isDirectory) {
      throw new NotPrivateError(`Refusing "${directory}": not a directory`);
    }
    checkOwner(directory, info, "directory");
    // mkdir's mode passes through the umask; an older one may be open.
    if (((info.mode ?? 0) & 0o077) !== 0) await Deno.chmod(directory, 0o700);
  }
  return path;
}

/** `path`, and when it is inside the state directory, the chain from there. */
function directoriesToCheck(path: string): string[] {
  const clean = path.replace(/\/+$/, "") || "/";
  let state: string;
  try {
    state = stateDirectory();
  } catch {
    return [clean];
  }
  if (clean !== state && !clean.startsWith(state + "/")) return [clean];
  const chain = [state];
  for (const part of clean.slice(state.length + 1).split("/")) {
    if (part !== "") chain.push(`${chain.at(-1)}/${part}`);
  }
  return chain;
}
