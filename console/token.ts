/**
 * Console tokens: generation, the owner-only token file the client finds by
 * itself, comparison in constant time, and the challenge–response that
 * proves a client knows the token without sending it (bound to both nonces
 * and the endpoint dialled), and the console's proof that it knows it too.
 *
 * Nothing here loads `node:crypto` (~15 ms and ~10 MiB at start-up): the
 * socket file name's SHA-256 and the HMACs are Web Crypto's, built into
 * Deno.
 *
 * @module
 */

import { normalize, resolve } from "node:path";
import { writePrivateFile } from "./private_file.ts";
import {
  checkOwner,
  ensurePrivateDirectory,
  NotPrivateError,
  stateDirectory,
} from "./state_dir.ts";

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
 * assert.ok(
 *   (await tokenFilePath({ port: 44444 })).endsWith("/console/tcp-44444.token"),
 * );
 * ```
 */
export async function tokenFilePath(target: ConsoleTarget): Promise<string> {
  const name = "port" in target
    ? `tcp-${target.port}`
    : `unix-${await pathHash(absolute(target.socket))}`;
  return `${stateDirectory()}/console/${name}.token`;
}

/**
 * Whether `path` is one of the token files {@linkcode tokenFilePath}
 * names, in this user's state directory: the only files a sweep of dead
 * consoles may remove on an entry's word.
 *
 * @param path A path.
 * @returns `true` for `$HOME/.leakwatch/console/tcp-PORT.token` and
 * `unix-HASH.token`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isTokenFilePath, tokenFilePath } from "./token.ts";
 * assert.ok(isTokenFilePath(await tokenFilePath({ port: 44444 })));
 * assert.ok(!isTokenFilePath("/etc/passwd"));
 * ```
 */
export function isTokenFilePath(path: string): boolean {
  const directory = `${stateDirectory()}/console/`;
  return path.startsWith(directory) &&
    /^(tcp-\d{1,5}|unix-[0-9a-f]{16})\.token$/.test(
      path.slice(directory.length),
    );
}

/** The first 8 bytes of the path's SHA-256, as 16 hex digits. */
async function pathHash(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(path));
  return hex(new Uint8Array(digest, 0, 8));
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
 * directory of this user's own, replacing any old one atomically.
 *
 * @param path The file, from {@linkcode tokenFilePath}.
 * @param token The token.
 * @throws {NotPrivateError} When the directory (or the state directory
 * above it) belongs to another user.
 */
export async function writeTokenFile(
  path: string,
  token: string,
): Promise<void> {
  await ensurePrivateDirectory(path.slice(0, path.lastIndexOf("/")) || "/");
  await writePrivateFile(path, token + "\n");
}

const MAX_TOKEN_FILE_BYTES = 4096;

/**
 * Reads a token file, which must be this user's own and private to it: a
 * token file another user could have written (or can read) is refused.
 *
 * @param path The file.
 * @returns The token, or `undefined` when the file does not exist.
 * @throws {NotPrivateError} When another user owns the file, or others may
 * read or write it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTokenFile, writeTokenFile } from "./token.ts";
 * const dir = await Deno.makeTempDir();
 * await writeTokenFile(`${dir}/t.token`, "a-console-token-0123");
 * assert.equal(await readTokenFile(`${dir}/t.token`), "a-console-token-0123");
 * await Deno.chmod(`${dir}/t.token`, 0o644);
 * await assert.rejects(readTokenFile(`${dir}/t.token`), /readable by others/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readTokenFile(path: string): Promise<string | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  try {
    // The open file's own status: what is checked is what is read.
    const info = await file.stat();
    checkOwner(path, info, "console token file");
    const mode = (info.mode ?? 0) & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new NotPrivateError(
        `Refusing the console token file "${path}": it is readable by others (mode ${
          mode.toString(8).padStart(4, "0")
        }), so its token may be known to them; restart the service for a new one`,
      );
    }
    // A token is a line; anything much longer is not a token file.
    const bytes = new Uint8Array(MAX_TOKEN_FILE_BYTES + 1);
    let length = 0;
    while (length < bytes.length) {
      const n = await file.read(bytes.subarray(length));
      if (n === null) break;
      length += n;
    }
    if (length > MAX_TOKEN_FILE_BYTES) {
      throw new RangeError(
        `The console token file "${path}" is over ${MAX_TOKEN_FILE_BYTES} bytes: not a token file`,
      );
    }
    return new TextDecoder().decode(bytes.subarray(0, length)).trim();
  } finally {
    file.close();
  }
}

/**
 * Compares a presented token with the expected one in constant time: Web
 * Crypto verifies an HMAC of the expected token against one of the
 * presented token under a random key, so neither the content nor the
 * length leaks through timing.
 *
 * @param presented What the client sent.
 * @param expected The console's token.
 * @returns Whether they are equal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tokensEqual } from "./token.ts";
 * assert.ok(await tokensEqual("abc", "abc"));
 * assert.ok(!await tokensEqual("abc", "abd"));
 * ```
 */
export async function tokensEqual(
  presented: string,
  expected: string,
): Promise<boolean> {
  const key = await crypto.subtle.importKey(
    "raw",
    crypto.getRandomValues(new Uint8Array(32)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(presented));
  return await crypto.subtle.verify(
    "HMAC",
    key,
    mac,
    encoder.encode(expected),
  );
}

/**
 * Makes a challenge for a client: a random 256-bit nonce, as 64 hex digits.
 *
 * @returns The nonce.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createNonce } from "./token.ts";
 * assert.match(createNonce(), /^[0-9a-f]{64}$/);
 * ```
 */
export function createNonce(): string {
  return generateToken();
}

/**
 * What a challenge's answer (and the console's proof) is bound to: both
 * nonces, so neither side can replay an old exchange, and the endpoint the
 * client dialled, so a relay on another address cannot pass the answer on.
 */
export interface ChallengeBinding {
  /** The console's nonce (its `challenge`). */
  serverNonce: string;
  /** The client's nonce (its `hello`). */
  clientNonce: string;
  /** The endpoint the client dialled (`endpoint.ts`). */
  endpoint: string;
}

/**
 * Answers a challenge: HMAC-SHA256 keyed with the token over
 * `leakwatch-console-3 client`, the console's nonce, the client's nonce and
 * the endpoint, one per line, as 64 hex digits. Only someone who knows the
 * token can compute it, it tells nothing about the token, and it is good
 * for this exchange on this endpoint only.
 *
 * @param token The console token.
 * @param binding The nonces and the endpoint dialled.
 * @returns The answer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { answerChallenge, createNonce, verifyAnswer } from "./token.ts";
 * const binding = {
 *   serverNonce: createNonce(),
 *   clientNonce: createNonce(),
 *   endpoint: "tcp:127.0.0.1:44444",
 * };
 * const answer = await answerChallenge("a-console-token-0123", binding);
 * assert.ok(await verifyAnswer("a-console-token-0123", binding, answer));
 * assert.ok(!await verifyAnswer("another-token-0123456", binding, answer));
 * assert.ok(
 *   !await verifyAnswer("a-console-token-0123", {
 *     ...binding,
 *     endpoint: "tcp:127.0.0.1:44445",
 *   }, answer),
 * );
 * ```
 */
export function answerChallenge(
  token: string,
  binding: ChallengeBinding,
): Promise<string> {
  return signBinding(token, "client", binding);
}

/**
 * Checks a client's answer to a challenge, in constant time (Web Crypto's
 * HMAC verification).
 *
 * @param token The console token.
 * @param binding The nonces and the endpoint the answer claims.
 * @param answer The client's answer (hex).
 * @returns Whether it proves knowledge of the token for this binding.
 */
export function verifyAnswer(
  token: string,
  binding: ChallengeBinding,
  answer: string,
): Promise<boolean> {
  return verifyBinding(token, "client", binding, answer);
}

/**
 * The console's proof that it knows the token too, sent with its `hello`:
 * HMAC-SHA256 keyed with the token over `leakwatch-console-3 server` and
 * the same nonces and endpoint. A process in the console's place cannot
 * make it, so the client never takes it for the console.
 *
 * @param token The console token.
 * @param binding The nonces and the endpoint.
 * @returns The proof, as 64 hex digits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createNonce, proveConsole, verifyConsoleProof } from "./token.ts";
 * const binding = {
 *   serverNonce: createNonce(),
 *   clientNonce: createNonce(),
 *   endpoint: "unix:/run/c.sock",
 * };
 * const proof = await proveConsole("a-console-token-0123", binding);
 * assert.ok(await verifyConsoleProof("a-console-token-0123", binding, proof));
 * ```
 */
export function proveConsole(
  token: string,
  binding: ChallengeBinding,
): Promise<string> {
  return signBinding(token, "server", binding);
}

/**
 * Checks the console's proof, in constant time.
 *
 * @param token The console token.
 * @param binding The nonces and the endpoint dialled.
 * @param proof The console's proof (hex).
 * @returns Whether the console knows the token.
 */
export function verifyConsoleProof(
  token: string,
  binding: ChallengeBinding,
  proof: string,
): Promise<boolean> {
  return verifyBinding(token, "server", binding, proof);
}

/** The text signed: a label per side, so one side's MAC is never the other's. */
function bindingText(role: "client" | "server", binding: ChallengeBinding) {
  return encoder.encode(
    `leakwatch-console-3 ${role}\n${binding.serverNonce}\n${binding.clientNonce}\n${binding.endpoint}`,
  );
}

async function signBinding(
  token: string,
  role: "client" | "server",
  binding: ChallengeBinding,
): Promise<string> {
  const key = await hmacKey(token, "sign");
  return hex(
    new Uint8Array(
      await crypto.subtle.sign("HMAC", key, bindingText(role, binding)),
    ),
  );
}

async function verifyBinding(
  token: string,
  role: "client" | "server",
  binding: ChallengeBinding,
  mac: string,
): Promise<boolean> {
  if (typeof mac !== "string" || !/^[0-9a-f]{64}$/.test(mac)) return false;
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    bytes[i] = parseInt(mac.slice(i * 2, i * 2 + 2), 16);
  }
  const key = await hmacKey(token, "verify");
  return await crypto.subtle.verify(
    "HMAC",
    key,
    bytes,
    bindingText(role, binding),
  );
}

function hmacKey(token: string, use: "sign" | "verify"): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    encoder.encode(token),
    { name: "HMAC", hash: "SHA-256" },
    false,
    [use],
  );
}

const encoder = new TextEncoder();

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(
    "",
  );
}
