/**
 * The interactive client's persistent history: one entry a line in
 * `$HOME/.leakwatch/console_history`, owner-only, appended as lines are
 * entered (so concurrent sessions lose nothing) and trimmed when loaded.
 *
 * @module
 */

import { ensurePrivateDirectory, stateDirectory } from "../state_dir.ts";

/** The most history entries kept. */
export const HISTORY_SIZE = 1000;

/**
 * The history file, `$HOME/.leakwatch/console_history`.
 *
 * @returns Its path.
 * @throws {Error} When `HOME` is unset or cannot be read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { historyFilePath } from "./history.ts";
 * assert.ok(historyFilePath().endsWith("/.leakwatch/console_history"));
 * ```
 */
export function historyFilePath(): string {
  return `${stateDirectory()}/console_history`;
}

/**
 * Loads the history, oldest entry first, and trims the file to `limit`
 * entries (mode 0600) when it has grown past it.
 *
 * @param path The history file.
 * @param limit The most entries kept.
 * @returns The entries, oldest first; none when the file does not exist.
 */
export async function loadHistory(
  path: string,
  limit: number = HISTORY_SIZE,
): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const entries = text.split("\n").filter((entry) => entry.trim() !== "");
  const kept = entries.slice(-limit);
  const info = await Deno.stat(path);
  if (kept.length < entries.length) {
    await writePrivate(path, kept.map((entry) => entry + "\n").join(""));
  } else if (((info.mode ?? 0) & 0o077) !== 0) {
    await Deno.chmod(path, 0o600);
  }
  return kept;
}

/**
 * Appends one entry to the history file, creating it (and
 * `$HOME/.leakwatch`) owner-only if needed.
 *
 * @param path The history file.
 * @param entry The line entered; blank ones and newlines are not stored.
 * @returns When it is written.
 */
export async function appendHistory(
  path: string,
  entry: string,
): Promise<void> {
  const line = entry.replace(/[\r\n]+/g, " ");
  if (line.trim() === "") return;
  await ensurePrivateDirectory(path.slice(0, path.lastIndexOf("/")) || "/");
  await Deno.writeTextFile(path, line + "\n", { append: true, mode: 0o600 });
}

async function writePrivate(path: string, text: string): Promise<void> {
  const temporary = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeTextFile(temporary, text, { mode: 0o600, createNew: true });
    await Deno.chmod(temporary, 0o600);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}
