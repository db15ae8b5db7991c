import assert from "node:assert/strict";
import { Recency } from "../../lib/recency.ts";

function drain(recency: Recency): string[] {
  const keys: string[] = [];
  for (
    let key = recency.removeOldest();
    key !== undefined;
    key = recency.removeOldest()
  ) {
    keys.push(key);
  }
  return keys;
}

Deno.test("Recency orders keys from least to most recently used", () => {
  const recency = new Recency();
  for (const key of ["a", "b", "c", "d"]) recency.touch(key);
  recency.touch("b");
  recency.touch("a");
  recency.touch("a"); // already the newest
  recency.touch("d");
  assert.equal(recency.size, 4);
  assert.deepEqual(drain(recency), ["c", "b", "a", "d"]);
  assert.equal(recency.size, 0);
  assert.equal(recency.removeOldest(), undefined);
});

Deno.test("Recency survives a single key, removal of everything and clear()", () => {
  const recency = new Recency();
  recency.touch("only");
  recency.touch("only");
  assert.equal(recency.removeOldest(), "only");
  recency.touch("x");
  recency.touch("y");
  recency.clear();
  assert.equal(recency.size, 0);
  recency.touch("z");
  recency.touch("x");
  assert.deepEqual(drain(recency), ["z", "x"]);
});

Deno.test("Recency matches a reference LRU over random operations", () => {
  const recency = new Recency();
  let reference: string[] = [];
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 20_000; i++) {
    if (random() < 0.8) {
      const key = `k${Math.floor(random() * 50)}`;
      recency.touch(key);
      reference = [...reference.filter((k) => k !== key), key];
    } else {
      assert.equal(recency.removeOldest(), reference.shift());
    }
    assert.equal(recency.size, reference.length);
  }
  assert.deepEqual(drain(recency), reference);
});
