import assert from "node:assert/strict";
import { closeToolkit, createToolkit } from "../../../console/toolkit/mod.ts";

class Kept {
  constructor(readonly id: number) {}
}
class Special extends Kept {}
class Never {}

const held = new Map<number, Kept>();

Deno.test("`count()` counts exactly the live instances, subclasses included", async () => {
  const toolkit = createToolkit({ progress: () => {} });
  try {
    for (let i = 0; i < 12_345; i++) held.set(i, new Kept(i));
    for (let i = 0; i < 5; i++) held.set(-i - 1, new Special(i));
    // Garbage: unreachable instances must not count.
    for (let i = 0; i < 5_000; i++) new Kept(i);
    const kept = await toolkit.count(Kept);
    assert.equal(kept.name, "Kept");
    assert.equal(
      kept.count,
      12_350,
      "Special.prototype is on the chain but is no instance",
    );
    assert.equal((await toolkit.count(Special)).count, 5);
    assert.equal((await toolkit.count(Never)).count, 0);
    assert.match(Deno.inspect(kept), /^Kept: 12 350 live instances/);
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(kept))), [
      "name",
      "count",
      "ms",
    ]);
    held.clear();
    assert.equal((await toolkit.count(Kept)).count, 0);
  } finally {
    await closeToolkit();
  }
});

Deno.test("`count()` rejects what is not a constructor", async () => {
  const toolkit = createToolkit({ progress: () => {} });
  try {
    await assert.rejects(
      // @ts-expect-error: a string is not a constructor
      toolkit.count("Kept"),
      TypeError,
    );
    await assert.rejects(
      toolkit.count((() => {}) as unknown as typeof Kept),
      TypeError,
    );
  } finally {
    await closeToolkit();
  }
});
