/**
 * The users cache and `getUser`: the case study's leak and its cure.
 *
 * `getUser` answers from a `Map` and fills misses from the fake database.
 * With no limit the map only ever grows (the leak, kept on purpose); with a
 * limit it evicts the least recently used entry.
 *
 * @module
 */

import {
  fetchUserFromDatabase,
  type FetchUserOptions,
  type User,
} from "./fake_database.ts";
import { Recency } from "./recency.ts";

/**
 * The module-level cache, the case study's `cache = {}`: the service stores
 * every user here, keyed by `user_id`.
 */
export const cache: Map<string, User> = new Map();

/** Cache hit and miss counters, read by `/metrics`. */
export interface CacheStats {
  /** Lookups answered from the cache. */
  hits: number;
  /** Lookups that went to the database. */
  misses: number;
}

/** Options for {@linkcode createUsers}. */
export interface UsersOptions {
  /** The map to use; defaults to the module-level {@linkcode cache}. */
  cache?: Map<string, User>;
  /** Maximum number of entries; `0` (default) means unbounded: the leak. */
  limit?: number;
  /** The database lookup; defaults to {@linkcode fetchUserFromDatabase}. */
  fetchUser?: (userId: string, options?: FetchUserOptions) => Promise<User>;
  /** Passed to every database lookup. */
  fetchOptions?: FetchUserOptions;
}

/** The users store: a cache in front of the fake database. */
export interface Users {
  /** The cache itself (a live reference, so the console sees it grow). */
  cache: Map<string, User>;
  /** The configured limit, `0` for unbounded. */
  limit: number;
  /** Hit and miss counters. */
  stats: CacheStats;
  /** Returns the user for `userId`, from the cache when present. */
  getUser(userId: string): Promise<User>;
  /**
   * Returns the cached user for `userId` (counting a hit and marking it
   * recently used) or `undefined`, synchronously: the hot path.
   */
  lookup(userId: string): User | undefined;
  /** Fetches `userId` from the database and caches it (counting a miss). */
  load(userId: string): Promise<User>;
}

/**
 * Creates the users store.
 *
 * @param options The cache, its limit and the database lookup.
 * @returns The store, with `getUser`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createUsers } from "./users.ts";
 * const users = createUsers({ cache: new Map(), limit: 2 });
 * const user = await users.getUser("random");
 * assert.ok(users.cache.get(user.user_id) === user);
 * ```
 */
export function createUsers(options: UsersOptions = {}): Users {
  const map = options.cache ?? cache;
  const limit = options.limit ?? 0;
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(
      `Cache limit must be a non-negative integer: received "${limit}"`,
    );
  }
  const fetchUser = options.fetchUser ?? fetchUserFromDatabase;
  const fetchOptions = options.fetchOptions ?? {};
  const stats: CacheStats = { hits: 0, misses: 0 };

  // Order of use, kept beside the map so that `cache` stays a plain
  // Map<string, User> for the console (see recency.ts for why hits do not
  // re-insert into the map).
  const recency = limit > 0 ? new Recency() : undefined;

  function lookup(userId: string): User | undefined {
    const cached = map.get(userId);
    if (cached === undefined) return undefined;
    stats.hits++;
    recency?.touch(userId);
    return cached;
  }

  async function load(userId: string): Promise<User> {
    stats.misses++;
    const data = await fetchUser(userId, fetchOptions);
    map.set(data.user_id, data);
    if (recency !== undefined) {
      recency.touch(data.user_id);
      evictOverLimit(recency);
    }
    return data;
  }

  // An operator may edit the map by hand in the console: keys deleted there
  // are skipped as they come out of the order list (deleting them again is
  // a no-op), and entries set there without a use since go
  // first-inserted-first once the list is empty.
  function evictOverLimit(recency: Recency): void {
    while (map.size > limit) {
      const key = recency.removeOldest() ?? map.keys().next().value;
      if (key === undefined) return;
      map.delete(key);
    }
  }

  function getUser(userId: string): Promise<User> {
    const cached = lookup(userId);
    return cached === undefined ? load(userId) : Promise.resolve(cached);
  }

  return { cache: map, limit, stats, lookup, load, getUser };
}
