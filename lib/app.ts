/**
 * The users service's HTTP routes, as a Hono app.
 *
 * @module
 */

import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Users } from "./users.ts";
import {
  METRICS_CONTENT_TYPE,
  RequestStats,
  ServiceMetrics,
} from "./metrics.ts";

/** The longest `user_id` accepted, in UTF-8 bytes. */
export const MAX_USER_ID_BYTES = 256;

/** What the app needs: the users store and where to count requests. */
export interface AppDeps {
  /** The users store (cache + database). */
  users: Users;
  /** Request counters; a fresh one when omitted. */
  requests?: RequestStats;
  /** Where unexpected errors are logged; `console.error` by default. */
  logError?: (error: unknown) => void;
}

/**
 * The service's routes, in one table: the router registers these patterns,
 * and {@linkcode routeOf} (the counters' and error handler's route label)
 * matches paths against the same ones.
 */
export const ROUTES = {
  users: "/users/:user_id",
  health: "/healthz",
  metrics: "/metrics",
} as const;

const USERS_ROUTE = ROUTES.users;
/** Each route with a matcher: a `:param` segment matches any one segment. */
const ROUTE_MATCHERS = Object.values(ROUTES).map((route) => ({
  route,
  regex: new RegExp(`^${route.replace(/:[^/]+/g, "[^/]+")}$`),
}));
const ALLOWED = "GET, HEAD";
const JSON_INIT: ResponseInit = {
  headers: { "content-type": "application/json" },
};
const encoder = new TextEncoder();

/**
 * Builds the users service's Hono app.
 *
 * Routes: `GET /users/:user_id`, `GET /healthz`, `GET /metrics` (each also
 * `HEAD`). Every error is JSON `{"error": "..."}` with its status.
 *
 * @param deps The users store and request counters.
 * @returns The app; serve it with `Deno.serve(app.fetch)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createApp } from "./app.ts";
 * import { createUsers } from "./users.ts";
 * const app = createApp({ users: createUsers({ cache: new Map() }) });
 * const response = await app.request("/healthz");
 * assert.ok(response.status === 200);
 * ```
 */
export function createApp(deps: AppDeps): Hono {
  const { users } = deps;
  const requests = deps.requests ?? new RequestStats();
  const logError = deps.logError ?? ((error) => console.error(error));
  const app = new Hono();

  // One handler per route and no middleware: Hono then dispatches
  // synchronously, and a cache hit never waits on a promise. Each handler
  // counts its own request.
  const usersOk = requests.counter(USERS_ROUTE, 200);
  app.get(USERS_ROUTE, (c): Response | Promise<Response> => {
    const userId = userIdFrom(c.req.path, c.req.param("user_id"));
    const cached = users.lookup(userId);
    if (cached !== undefined) {
      usersOk.count++;
      return new Response(JSON.stringify(cached), JSON_INIT);
    }
    return users.load(userId).then((user) => {
      usersOk.count++;
      return new Response(JSON.stringify(user), JSON_INIT);
    });
  });

  app.get(ROUTES.health, (c) => {
    requests.record(ROUTES.health, 200);
    return c.json({ status: "ok" });
  });

  // One registry for the app's whole life, however many scrapes.
  const metrics = new ServiceMetrics({
    cache: users.cache,
    stats: users.stats,
    requests,
  });
  app.get(ROUTES.metrics, async (c) => {
    const body = await metrics.render();
    requests.record(ROUTES.metrics, 200);
    return c.body(body, 200, { "content-type": METRICS_CONTENT_TYPE });
  });

  app.notFound((c) => {
    const route = routeOf(c.req.path);
    if (route === undefined) {
      requests.record("(unmatched)", 404);
      return c.json({ error: "Not found" }, 404);
    }
    requests.record(route, 405);
    return c.json({ error: `Method ${c.req.method} not allowed` }, 405, {
      allow: ALLOWED,
    });
  });

  app.onError((error, c) => {
    const route = routeOf(c.req.path) ?? "(unmatched)";
    const status = error instanceof HTTPException && error.status < 500
      ? error.status
      : 500;
    requests.record(route, status);
    if (status < 500) return c.json({ error: error.message }, status);
    logError(error);
    return c.json({ error: "Internal server error" }, 500);
  });

  return app;
}

/**
 * The route pattern of {@linkcode ROUTES} a path belongs to, whatever the
 * method: the label requests are counted under.
 *
 * @param path A request's path.
 * @returns The pattern, or `undefined` when no route matches.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { routeOf } from "./app.ts";
 * assert.equal(routeOf("/users/abc"), "/users/:user_id");
 * assert.equal(routeOf("/nowhere"), undefined);
 * ```
 */
export function routeOf(path: string): string | undefined {
  return ROUTE_MATCHERS.find(({ regex }) => regex.test(path))?.route;
}

/**
 * Returns the decoded `user_id`, rejecting ids that are too long or badly
 * percent-encoded. Hono quietly keeps malformed escapes as they are, so a
 * raw segment holding `%` is decoded again here, strictly. `path` is the
 * request's path as Hono read it (reading `request.url` again costs).
 */
function userIdFrom(path: string, param: string | undefined): string {
  let userId = param ?? "";
  if (path.includes("%")) {
    const raw = path.slice(path.indexOf("/", 1) + 1).replace(/\/$/, "");
    try {
      userId = decodeURIComponent(raw);
    } catch {
      throw new HTTPException(400, {
        message: "Malformed percent-encoding in user_id",
      });
    }
  }
  if (userId.length === 0) {
    throw new HTTPException(400, { message: "Empty user_id" });
  }
  // A UTF-16 code unit takes at most 3 UTF-8 bytes: short ids skip encoding.
  if (
    userId.length > MAX_USER_ID_BYTES ||
    (userId.length * 3 > MAX_USER_ID_BYTES &&
      encoder.encode(userId).length > MAX_USER_ID_BYTES)
  ) {
    throw new HTTPException(400, {
      message: `user_id longer than ${MAX_USER_ID_BYTES} bytes`,
    });
  }
  return userId;
}

/**
 * Wraps the app for `Deno.serve`. A `HEAD` request is answered as a `GET`
 * whose body Deno drops, so the response keeps the `GET`'s Content-Length
 * (Hono's own `HEAD` handling replaces the body and loses it).
 *
 * @param app The app from {@linkcode createApp}.
 * @returns The `Deno.serve` handler.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createApp, serveHandler } from "./app.ts";
 * import { createUsers } from "./users.ts";
 * const handler = serveHandler(createApp({ users: createUsers() }));
 * assert.ok(typeof handler === "function");
 * ```
 */
export function serveHandler(
  app: Hono,
): (request: Request) => Response | Promise<Response> {
  return (request) => {
    if (request.method !== "HEAD") return app.fetch(request);
    return app.fetch(
      new Request(request.url, { method: "GET", headers: request.headers }),
    );
  };
}
