/**
 * Console tokens: generation, the owner-only token file the client finds by
 * itself, and comparison in constant time.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { normalize, resolve } from "node:path";
import { ensurePrivateDirectory, stateDirectory } from "./state_dir.ts";

/** Where a console listens, which names its token file. */
export type ConsoleTarget = { port: number } | { socket: string };

/**
 * Makes a random 256-bit token, as 64 hex digits.
 *
 * @returns The token.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateToken } from "./token.ts";
 * assert.ok(/^[0-9a-f]{64}$/.test(generateToken()));
 * ```
 */
export function generateToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(
    "",
  );
}

/**
 * The token file of a console: `$HOME/.leakwatch/console/tcp-PORT.token`,
 * or `unix-HASH.token` for a socket path (hashed once made absolute).
 *
 * @param target The console's port or socket path.
 * @returns The file's path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tokenFilePath } from "./token.ts";
 * assert.ok(tokenFilePath({ port: 44444 }).endsWith("/console/tcp-44444.token"));
 * ```
 */
export function tokenFilePath(target: ConsoleTarget): string {
  const name = "port" in target
    ? `tcp-${target.port}`
    : `unix-${sha256(absolute(target.socket)).subarray(0, 8).toString("hex")}`;
  return `${stateDirectory()}/console/${name}.token`;
}

/** The socket path made absolute, so `x.sock` and `$PWD/x.sock` agree. */
function absolute(path: string): string {
  if (path.startsWith("/")) return normalize(path);
  try {
    return resolve(path);
  } catch {
    return path; // the working directory is not readable: keep it as given
  }
}

/**
 * Writes a token file readable by the owner only (0600) in a 0700
 * directory, replacing any old one atomically.
 *
 * @param path The file, from {@linkcode tokenFilePath}.
 * @param token The token.
 */
export async function writeTokenFile(
  path: string,
  token: string,
): Promise<void> {
  const directory = path.slice(0, path.lastIndexOf("/"));
  await ensurePrivateDirectory(directory);
  const temporary = `${path}.${generateToken().slice(0, 8)}.tmp`;
  try {
    await Deno.writeTextFile(temporary, token + "\n", {
      mode: 0o600,
      createNew: true,
    });
    await Deno.chmod(temporary, 0o600);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/**
 * Reads a token file.
 *
 * @param path The file.
 * @returns The token, or `undefined` when the file does not exist.
 */
export async function readTokenFile(path: string): Promise<string | undefined> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Compares a presented token with the expected one in constant time: both
 * are hashed first, so neither the content nor the length leaks through
 * timing.
 *
 * @param presented What the client sent.
 * @param expected The console's token.
 * @returns Whether they are equal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tokensEqual } from "./token.ts";
 * assert.ok(tokensEqual("abc", "abc") && !tokensEqual("abc", "abd"));
 * ```
 */
export function tokensEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(sha256(presented), sha256(expected));
}

function sha256(text: string) {
  return createHash("sha256").update(text).digest();
}
