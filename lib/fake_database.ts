/**
 * The fake users database: every lookup invents a plausible user with
 * `@faker-js/faker`, the way the case study's `fetch_user_from_database` does.
 *
 * @module
 */

import { faker } from "@faker-js/faker/locale/en";

/** A user record, exactly as the service returns it. */
export interface User {
  /** The id the record is stored under. */
  user_id: string;
  /** A full name. */
  name: string;
  /** An email address derived from the name. */
  email: string;
  /** A postal address: street on the first line, city, state and zip on the second. */
  address: string;
  /** A paragraph of text. */
  desc: string;
}

/** The id that asks the database for a brand-new user with a fresh id. */
export const RANDOM_USER_ID = "random";

/** Options for {@linkcode fetchUserFromDatabase}. */
export interface FetchUserOptions {
  /** Simulated database latency in milliseconds; `0` (default) answers at once. */
  delayMs?: number;
}

const HEX_CODES = new TextEncoder().encode("0123456789abcdef");
const idBytes = new Uint8Array(32);
const idText = new Uint8Array(64);
const ascii = new TextDecoder();

/**
 * Returns a fresh 64-digit lowercase hexadecimal id, sha256-style.
 *
 * Uses `crypto.getRandomValues`: faker's hexadecimal generator is several
 * times slower, and `random` users are the service's hot path.
 *
 * @returns 64 lowercase hex digits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { randomUserId } from "./fake_database.ts";
 * assert.ok(/^[0-9a-f]{64}$/.test(randomUserId()));
 * ```
 */
export function randomUserId(): string {
  crypto.getRandomValues(idBytes);
  for (let i = 0; i < 32; i++) {
    const byte = idBytes[i]!;
    idText[2 * i] = HEX_CODES[byte >> 4]!;
    idText[2 * i + 1] = HEX_CODES[byte & 15]!;
  }
  // Decoding gives one flat string (no rope of 64 pieces to keep alive).
  return ascii.decode(idText);
}

/**
 * Invents a user for `userId`. The id `random` yields a user with a fresh
 * 64-hex-digit id instead; any other id is kept as the record's `user_id`.
 *
 * @param userId The id asked for, or `random`.
 * @param options Simulated latency.
 * @returns The user record.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fetchUserFromDatabase } from "./fake_database.ts";
 * const user = await fetchUserFromDatabase("abc");
 * assert.ok(user.user_id === "abc");
 * ```
 */
export async function fetchUserFromDatabase(
  userId: string,
  options: FetchUserOptions = {},
): Promise<User> {
  const delayMs = options.delayMs ?? 0;
  if (delayMs > 0) {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
  // Cheaper compositions than faker's one-call helpers (person.fullName,
  // location.streetAddress, lorem.paragraph) with the same data and random
  // source: `random` users are the service's hot path. Strings are joined,
  // not concatenated: V8 keeps concatenations as ropes that are flattened
  // (copied again) later, wherever they are first read.
  const firstName = faker.person.firstName();
  const lastName = faker.person.lastName();
  return {
    user_id: userId === RANDOM_USER_ID ? randomUserId() : userId,
    name: [firstName, lastName].join(" "),
    email: flat(faker.internet.email({ firstName, lastName })),
    address: [
      faker.location.buildingNumber(),
      " ",
      faker.location.street(),
      "\n",
      faker.location.city(),
      ", ",
      faker.location.state({ abbreviated: true }),
      " ",
      faker.location.zipCode(),
    ].join(""),
    desc: paragraph(),
  };
}

/** The same text as one flat string. */
function flat(text: string): string {
  return [text].join("");
}

let loremWords: readonly string[] | undefined;

/** Three sentences of 3 to 10 lorem words each, like `faker.lorem.paragraph()`. */
function paragraph(): string {
  // faker's own word list, read once: its definitions sit behind a Proxy.
  loremWords ??= faker.definitions.lorem.word;
  const parts: string[] = [];
  for (let s = 0; s < 3; s++) {
    if (s > 0) parts.push(" ");
    const count = faker.number.int({ min: 3, max: 10 });
    const first = loremWords[faker.number.int(loremWords.length - 1)]!;
    parts.push(first[0]!.toUpperCase(), first.slice(1));
    for (let i = 1; i < count; i++) {
      parts.push(" ", loremWords[faker.number.int(loremWords.length - 1)]!);
    }
    parts.push(".");
  }
  return parts.join("");
}
