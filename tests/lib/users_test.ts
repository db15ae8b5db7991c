import assert from "node:assert/strict";
import { cache, createUsers } from "../../lib/users.ts";
import type { User } from "../../lib/fake_database.ts";

Deno.test("createUsers() uses the module-level cache by default", () => {
  assert.equal(createUsers().cache, cache);
});

Deno.test("getUser() caches a miss under the record's user_id and returns the same record on a hit", async () => {
  const users = createUsers({ cache: new Map() });
  const first = await users.getUser("bob");
  const second = await users.getUser("bob");
  assert.equal(second, first);
  assert.equal(users.cache.size, 1);
  assert.deepEqual(users.stats, { hits: 1, misses: 1 });
});

Deno.test("getUser() grows the unbounded cache by one per `random` request: the leak", async () => {
  const users = createUsers({ cache: new Map() });
  for (let i = 1; i <= 500; i++) {
    const user = await users.getUser("random");
    assert.equal(users.cache.size, i);
    assert.equal(users.cache.get(user.user_id), user);
    assert.equal(await users.getUser(user.user_id), user);
  }
  assert.equal(users.cache.has("random"), false);
  assert.deepEqual(users.stats, { hits: 500, misses: 500 });
});

Deno.test("getUser() with a fixed id never grows the cache", async () => {
  const users = createUsers({ cache: new Map() });
  for (let i = 0; i < 100; i++) await users.getUser("fixed");
  assert.equal(users.cache.size, 1);
});

Deno.test("getUser() with a limit holds it and evicts the least recently used", async () => {
  const users = createUsers({ cache: new Map(), limit: 3 });
  const a = await users.getUser("a");
  await users.getUser("b");
  await users.getUser("c");
  assert.equal(await users.getUser("a"), a); // a is now the most recent
  await users.getUser("d"); // evicts b, the least recently used
  assert.deepEqual([...users.cache.keys()].sort(), ["a", "c", "d"]);
  for (let i = 0; i < 50; i++) await users.getUser("random");
  assert.equal(users.cache.size, 3);
  assert.equal(users.cache.has("a"), false);
});

Deno.test("eviction keeps LRU order through hits, edits and clears from the console", async () => {
  const users = createUsers({ cache: new Map(), limit: 3 });
  const keys = () => [...users.cache.keys()].sort();
  for (const id of ["a", "b", "c"]) await users.getUser(id);
  await users.getUser("a");
  await users.getUser("d"); // evicts b
  await users.getUser("c");
  await users.getUser("e"); // evicts a (c was used after it)
  assert.deepEqual(keys(), ["c", "d", "e"]);
  users.cache.delete("c"); // an operator deletes by hand
  await users.getUser("f");
  assert.deepEqual(keys(), ["d", "e", "f"]);
  await users.getUser("g"); // evicts d
  assert.deepEqual(keys(), ["e", "f", "g"]);
  users.cache.clear(); // and clears it
  for (const id of ["h", "i", "j", "k"]) await users.getUser(id);
  assert.deepEqual(keys(), ["i", "j", "k"]);
  users.cache.set("manual", users.cache.get("i")!); // sets by hand
  await users.getUser("l"); // evicts i then j: the limit holds
  assert.deepEqual(keys(), ["k", "l", "manual"]);
  // A hot key hit over and over, among many evictions, stays.
  for (let i = 0; i < 10_000; i++) {
    await users.getUser("hot");
    await users.getUser(`u${i}`);
  }
  assert.equal(users.cache.size, 3);
  assert.ok(users.cache.has("hot") && users.cache.has("u9999"));
});

Deno.test("getUser() refetches an evicted id", async () => {
  let fetches = 0;
  const users = createUsers({
    cache: new Map(),
    limit: 1,
    fetchUser: (userId) => {
      fetches++;
      return Promise.resolve(
        {
          user_id: userId,
          name: "",
          email: "",
          address: "",
          desc: "",
        } satisfies User,
      );
    },
  });
  await users.getUser("x");
  await users.getUser("y");
  await users.getUser("x");
  assert.equal(fetches, 3);
  assert.deepEqual(users.stats, { hits: 0, misses: 3 });
});

Deno.test("lookup() is synchronous and does not count misses", () => {
  const users = createUsers({ cache: new Map() });
  assert.equal(users.lookup("nobody"), undefined);
  assert.deepEqual(users.stats, { hits: 0, misses: 0 });
});

Deno.test("createUsers() rejects a negative or fractional limit", () => {
  assert.throws(() => createUsers({ limit: -1 }), RangeError);
  assert.throws(() => createUsers({ limit: 1.5 }), RangeError);
});
