import assert from "node:assert/strict";
import {
  createApp,
  MAX_USER_ID_BYTES,
  routeOf,
  ROUTES,
} from "../../lib/app.ts";
import { RequestStats } from "../../lib/metrics.ts";
import { createUsers, type UsersOptions } from "../../lib/users.ts";

function setup(options: UsersOptions = {}) {
  const users = createUsers({ cache: new Map(), ...options });
  const requests = new RequestStats();
  const errors: unknown[] = [];
  const app = createApp({
    users,
    requests,
    logError: (error) => errors.push(error),
  });
  return { app, users, requests, errors };
}

async function json(response: Response): Promise<unknown> {
  assert.equal(response.headers.get("content-type"), "application/json");
  return await response.json();
}

Deno.test("GET /users/:user_id returns the user's fields as JSON and caches it", async () => {
  const { app, users } = setup();
  const response = await app.request("/users/alice");
  assert.equal(response.status, 200);
  const body = await json(response) as Record<string, string>;
  assert.deepEqual(Object.keys(body), [
    "user_id",
    "name",
    "email",
    "address",
    "desc",
  ]);
  assert.equal(body.user_id, "alice");
  assert.deepEqual(body, users.cache.get("alice"));
  const again = await json(await app.request("/users/alice"));
  assert.deepEqual(again, body);
  assert.equal(users.cache.size, 1);
});

Deno.test("GET /users/random returns a fresh user each time, reachable by its id", async () => {
  const { app, users } = setup();
  const ids = new Set<string>();
  for (let i = 1; i <= 20; i++) {
    const body = await json(await app.request("/users/random")) as {
      user_id: string;
    };
    assert.match(body.user_id, /^[0-9a-f]{64}$/);
    ids.add(body.user_id);
    assert.equal(users.cache.size, i);
    const same = await json(await app.request(`/users/${body.user_id}`));
    assert.deepEqual(same, body);
  }
  assert.equal(ids.size, 20);
});

Deno.test("GET /users/:user_id decodes percent-encoded ids", async () => {
  const { app, users } = setup();
  const response = await app.request("/users/%C3%A9t%C3%A9%2Fx%20y");
  assert.equal(response.status, 200);
  assert.equal((await response.json()).user_id, "été/x y");
  assert.ok(users.cache.has("été/x y"));
});

Deno.test("GET /users/:user_id rejects malformed percent-encoding with 400", async () => {
  const { app, users } = setup();
  for (const id of ["%", "a%2", "%ZZ", "%C3", "%E0%A4%A", "%FF%FE"]) {
    const response = await app.request(`/users/${id}`);
    assert.equal(response.status, 400, id);
    assert.deepEqual(await json(response), {
      error: "Malformed percent-encoding in user_id",
    });
  }
  assert.equal(users.cache.size, 0);
});

Deno.test("GET /users/:user_id accepts 256 bytes and rejects 257 with 400", async () => {
  const { app, users } = setup();
  const ok = await app.request(`/users/${"a".repeat(MAX_USER_ID_BYTES)}`);
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  for (
    const id of [
      "a".repeat(MAX_USER_ID_BYTES + 1),
      "%C3%A9".repeat(129), // 258 bytes as UTF-8, 129 characters
      "x".repeat(100_000),
    ]
  ) {
    const response = await app.request(`/users/${id}`);
    assert.equal(response.status, 400);
    assert.deepEqual(await json(response), {
      error: `user_id longer than ${MAX_USER_ID_BYTES} bytes`,
    });
  }
  assert.equal(users.cache.size, 1);
});

Deno.test("HEAD /users/:user_id answers without a body", async () => {
  const { app } = setup();
  const response = await app.request("/users/alice", { method: "HEAD" });
  assert.equal(response.status, 200);
  assert.equal(response.body, null);
});

Deno.test("GET /healthz returns ok", async () => {
  const { app } = setup();
  const response = await app.request("/healthz");
  assert.equal(response.status, 200);
  assert.deepEqual(await json(response), { status: "ok" });
});

Deno.test("GET /metrics exposes memory, cache and request figures in the Prometheus format", async () => {
  const { app } = setup();
  await (await app.request("/users/random")).body?.cancel();
  await (await app.request("/users/random")).body?.cancel();
  await (await app.request("/users/fixed")).body?.cancel();
  await (await app.request("/users/fixed")).body?.cancel();
  await (await app.request("/nowhere")).body?.cancel();
  await (await app.request("/healthz", { method: "POST" })).body?.cancel();
  const response = await app.request("/metrics");
  assert.equal(response.status, 200);
  assert.match(
    response.headers.get("content-type")!,
    /^text\/plain; version=0\.0\.4/,
  );
  const text = await response.text();
  const value = (series: string) => {
    const line = text.split("\n").find((line) => line.startsWith(series + " "));
    assert.ok(line, `${series} missing from:\n${text}`);
    return Number(line.slice(series.length + 1));
  };
  assert.ok(value("process_resident_memory_bytes") > 1e6);
  assert.ok(value("deno_heap_used_bytes") > 1e5);
  assert.ok(value("deno_heap_total_bytes") >= value("deno_heap_used_bytes"));
  assert.ok(value("deno_external_memory_bytes") >= 0);
  assert.equal(value("users_cache_entries"), 3);
  assert.equal(value("users_cache_hits_total"), 1);
  assert.equal(value("users_cache_misses_total"), 3);
  assert.equal(
    value('http_requests_total{route="/users/:user_id",status="200"}'),
    4,
  );
  assert.equal(
    value('http_requests_total{route="(unmatched)",status="404"}'),
    1,
  );
  assert.equal(value('http_requests_total{route="/healthz",status="405"}'), 1);
  assert.match(text, /# TYPE users_cache_hits_total counter/);
  assert.match(text, /# TYPE process_resident_memory_bytes gauge/);
});

Deno.test("an unknown path answers 404 JSON", async () => {
  const { app } = setup();
  for (
    const path of ["/", "/users", "/users/", "/users/a/b", "/healthz/x", "/%"]
  ) {
    const response = await app.request(path);
    assert.equal(response.status, 404, path);
    assert.deepEqual(await json(response), { error: "Not found" });
  }
});

Deno.test("a wrong method answers 405 JSON with Allow", async () => {
  const { app, users } = setup();
  for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
    for (const path of ["/users/alice", "/healthz", "/metrics"]) {
      const response = await app.request(path, {
        method,
        body: method === "POST" ? "{}" : undefined,
      });
      assert.equal(response.status, 405, `${method} ${path}`);
      assert.equal(response.headers.get("allow"), "GET, HEAD");
      assert.deepEqual(await json(response), {
        error: `Method ${method} not allowed`,
      });
    }
  }
  assert.equal(users.cache.size, 0);
});

Deno.test("an unexpected error answers 500 without a stack and logs it", async () => {
  const { app, errors, requests } = setup({
    fetchUser: () => Promise.reject(new Error("database on fire")),
  });
  const response = await app.request("/users/alice");
  assert.equal(response.status, 500);
  const text = await response.text();
  assert.deepEqual(JSON.parse(text), { error: "Internal server error" });
  assert.doesNotMatch(text, /database on fire|at /);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /database on fire/);
  assert.deepEqual(requests.entries(), [
    { route: "/users/:user_id", status: "500", count: 1 },
  ]);
  // The service carries on.
  assert.equal((await app.request("/healthz")).status, 200);
});

Deno.test("routeOf() labels paths with the route table the router registers", () => {
  assert.deepEqual(Object.values(ROUTES), [
    "/users/:user_id",
    "/healthz",
    "/metrics",
  ]);
  assert.equal(routeOf("/users/abc"), ROUTES.users);
  assert.equal(routeOf("/users/random"), ROUTES.users);
  assert.equal(routeOf("/healthz"), ROUTES.health);
  assert.equal(routeOf("/metrics"), ROUTES.metrics);
  for (const path of ["/", "/users", "/users/", "/users/a/b", "/healthz/x"]) {
    assert.equal(routeOf(path), undefined, path);
  }
});
