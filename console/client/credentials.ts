/**
 * Where the client's token comes from: `--token` or `CONSOLE_TOKEN` when
 * given, else the token file the service wrote for the address.
 *
 * @module
 */

import { ConsoleClientError } from "./connection.ts";
import type { ConsoleAddress } from "./flags.ts";
import { NotPrivateError } from "../state_dir.ts";
import { readTokenFile, tokenFilePath } from "../token.ts";

/** A token and where it came from, for messages (`--token`, a file). */
export interface Credentials {
  /** The token. */
  token: string;
  /** `--token`, `CONSOLE_TOKEN` or the token file's quoted path. */
  source: string;
}

/**
 * Finds the token for `address`: `given` when there is one, else the token
 * file the service wrote for that port or socket.
 *
 * @param address The console's address.
 * @param given The token of `--token` or `CONSOLE_TOKEN`, if any.
 * @returns The token and its source.
 * @throws {ConsoleClientError} When no token file is there, it cannot be
 * read, it is empty, or it is not this user's own and private (another
 * user owns it, or others may read it): the message says what to do.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findToken } from "./credentials.ts";
 * const found = await findToken({ host: "127.0.0.1", port: 1 }, {
 *   value: "a-token-given-on-the-command-line",
 *   source: "--token",
 * });
 * assert.deepEqual(found, {
 *   token: "a-token-given-on-the-command-line",
 *   source: "--token",
 * });
 * ```
 */
export async function findToken(
  address: ConsoleAddress,
  given?: { value: string; source: string },
): Promise<Credentials> {
  if (given !== undefined) return { token: given.value, source: given.source };
  let path: string;
  try {
    path = await tokenFilePath(
      "socket" in address ? { socket: address.socket } : { port: address.port },
    );
  } catch (error) {
    throw new ConsoleClientError(
      `${
        error instanceof Error ? error.message : error
      }; or pass the token with --token`,
    );
  }
  let token: string | undefined;
  try {
    token = await readTokenFile(path);
  } catch (error) {
    if (error instanceof NotPrivateError) {
      // Already one whole line: what is wrong and what to do.
      throw new ConsoleClientError(
        error.message[0]!.toLowerCase() + error.message.slice(1),
      );
    }
    const reason = error instanceof Deno.errors.NotCapable
      ? `not permitted (grant --allow-read=${path})`
      : error instanceof Error
      ? error.message
      : String(error);
    throw new ConsoleClientError(
      `cannot read the console token file "${path}": ${reason}; or pass --token`,
    );
  }
  if (token === undefined) {
    throw new ConsoleClientError(
      `no console token file "${path}" (if the service was started with --console-token, pass --token TOKEN or set CONSOLE_TOKEN)`,
    );
  }
  if (token === "") {
    throw new ConsoleClientError(
      `the console token file "${path}" is empty; pass --token`,
    );
  }
  return { token, source: `"${path}"` };
}
