/**
 * The namespace: the console's view of the running service. Every member
 * is a bare name in a console session (`cache.size`, `getUser("x")`), and
 * the console adds `main`, the namespace itself.
 *
 * @module
 */

import { faker } from "@faker-js/faker/locale/en";
import type { Hono } from "hono";
import type { ServeConfig } from "./config.ts";
import { fetchUserFromDatabase, type User } from "./fake_database.ts";
import type { RequestStats } from "./metrics.ts";
import type { Users } from "./users.ts";

/** What an operator can reach from the console. */
export interface Namespace {
  /** The Hono app serving HTTP. */
  app: Hono;
  /** The users cache: the Map that leaks without `--cache-limit`. */
  cache: Map<string, User>;
  /** The cache with its limit and hit/miss counters. */
  users: Users;
  /** Returns a user, from the cache when present (the service's lookup). */
  getUser: (userId: string) => Promise<User>;
  /** The fake database's lookup. */
  fetchUserFromDatabase: typeof fetchUserFromDatabase;
  /** The faker instance behind the fake database. */
  faker: typeof faker;
  /** Requests counted by route, method and status. */
  requests: RequestStats;
  /** The parsed configuration. */
  config: ServeConfig;
  /** Everything else a service chooses to expose. */
  [name: string]: unknown;
}

/**
 * Assembles the namespace from the running service's parts.
 *
 * @param parts The app, users store, request counters and configuration.
 * @returns The namespace object.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createNamespace } from "./namespace.ts";
 * import { createApp } from "./app.ts";
 * import { createUsers } from "./users.ts";
 * import { RequestStats } from "./metrics.ts";
 * import { parseServeArgs, type ServeConfig } from "./config.ts";
 * const users = createUsers({ cache: new Map() });
 * const requests = new RequestStats();
 * const main = createNamespace({
 *   app: createApp({ users, requests }),
 *   users,
 *   requests,
 *   config: parseServeArgs([]) as ServeConfig,
 * });
 * assert.ok(main.cache === users.cache);
 * ```
 */
export function createNamespace(parts: {
  app: Hono;
  users: Users;
  requests: RequestStats;
  config: ServeConfig;
}): Namespace {
  return {
    app: parts.app,
    cache: parts.users.cache,
    users: parts.users,
    getUser: parts.users.getUser,
    fetchUserFromDatabase,
    faker,
    requests: parts.requests,
    config: parts.config,
  };
}
