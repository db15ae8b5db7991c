import assert from "node:assert/strict";
import {
  fetchUserFromDatabase,
  randomUserId,
} from "../../lib/fake_database.ts";

Deno.test("randomUserId() returns 64 lowercase hex digits, fresh each time", () => {
  const ids = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const id = randomUserId();
    assert.match(id, /^[0-9a-f]{64}$/);
    ids.add(id);
  }
  assert.equal(ids.size, 1000);
});

Deno.test("fetchUserFromDatabase() returns exactly the user fields, as strings", async () => {
  for (let i = 0; i < 300; i++) await assertWellFormed(`alice${i}`);
});

async function assertWellFormed(userId: string) {
  const user = await fetchUserFromDatabase(userId);
  assert.deepEqual(Object.keys(user), [
    "user_id",
    "name",
    "email",
    "address",
    "desc",
  ]);
  for (const value of Object.values(user)) assert.equal(typeof value, "string");
  assert.equal(user.user_id, userId);
  assert.match(user.name, /^\S+ \S.*$/);
  assert.match(user.email, /^[^@\s]+@[^@\s]+\.[a-z]+$/);
  // Street on the first line; city, state and zip on the second.
  assert.match(
    user.address,
    /^\d+ [^\n]+\n[^\n]+, [A-Z]{2} \d{5}(-\d{4})?$/,
  );
  const sentences = user.desc.split(/(?<=\.) /);
  assert.equal(sentences.length, 3);
  for (const sentence of sentences) {
    assert.match(sentence, /^[A-Z][a-z]*( [a-z]+){2,9}\.$/);
  }
}

Deno.test("fetchUserFromDatabase() gives `random` a fresh sha256-style id", async () => {
  const first = await fetchUserFromDatabase("random");
  const second = await fetchUserFromDatabase("random");
  assert.match(first.user_id, /^[0-9a-f]{64}$/);
  assert.notEqual(first.user_id, second.user_id);
});

Deno.test("fetchUserFromDatabase() waits for the simulated latency", async () => {
  const started = performance.now();
  await fetchUserFromDatabase("slow", { delayMs: 50 });
  assert.ok(performance.now() - started >= 45);
});
