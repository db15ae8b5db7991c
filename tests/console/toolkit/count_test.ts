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
      "constructors",
      "ms",
    ]);
    held.clear();
    assert.equal((await toolkit.count(Kept)).count, 0);
  } finally {
    await closeToolkit();
  }
});

Deno.test("`count()` takes a class name and counts every class of that name", async () => {
  const toolkit = createToolkit({ progress: () => {} });
  // A second, unrelated class with the same name, as two modules may have.
  const Other = (() => {
    class Kept {
      constructor(readonly other: true) {}
    }
    return Kept;
  })();
  const others = [new Other(true), new Other(true)];
  try {
    for (let i = 0; i < 1_000; i++) held.set(i, new Kept(i));
    const byName = await toolkit.count("Kept");
    assert.equal(byName.count, 1_002);
    assert.equal(byName.constructors, 2);
    assert.match(Deno.inspect(byName), /1 002 live instances of 2 classes/);
    assert.equal((await toolkit.count("Special")).count, 0);
    assert.equal((await toolkit.count("Special")).constructors, 1);
    // Built-in classes have names too.
    const maps = [new Map(), new Map()];
    assert.ok((await toolkit.count("Map")).count >= maps.length);
    await assert.rejects(
      toolkit.count("User"),
      (error: Error) =>
        error instanceof ReferenceError &&
        /no live class or constructor function is named "User"/.test(
          error.message,
        ) && /interface/.test(error.message),
    );
    assert.equal(JSON.parse(JSON.stringify(byName)).count, 1_002);
  } finally {
    held.clear();
    others.length = 0;
    await closeToolkit();
  }
});

Deno.test("`instances()` returns up to n live instances, by class or name", async () => {
  const toolkit = createToolkit({ progress: () => {} });
  try {
    for (let i = 0; i < 50; i++) held.set(i, new Kept(i));
    const some = await toolkit.instances(Kept, 7);
    assert.equal(some.length, 7);
    assert.ok(some.every((o) => o instanceof Kept));
    const all = await toolkit.instances("Kept", 1_000);
    assert.equal(all.length, 50);
    assert.deepEqual(
      new Set((all as Kept[]).map((k) => k.id)),
      new Set(held.keys()),
      "the live objects themselves",
    );
    assert.equal((await toolkit.instances(Kept)).length, 10, "default n");
    assert.deepEqual(await toolkit.instances(Never, 5), []);
    assert.equal(JSON.parse(JSON.stringify(some)).length, 7);
    for (const bad of [0, -1, 2.5, 100_001, NaN, "3"]) {
      await assert.rejects(
        toolkit.instances(Kept, bad as number),
        RangeError,
        String(bad),
      );
    }
    await assert.rejects(toolkit.instances("Nope", 1), ReferenceError);
  } finally {
    held.clear();
    await closeToolkit();
  }
});

Deno.test("`count()` rejects what is not a class or a class name", async () => {
  const toolkit = createToolkit({ progress: () => {} });
  try {
    for (
      const bad of [
        42,
        null,
        undefined,
        {},
        (() => {}) as unknown,
        Symbol("x"),
      ]
    ) {
      await assert.rejects(
        toolkit.count(bad as typeof Kept),
        TypeError,
        String(typeof bad),
      );
    }
    await assert.rejects(toolkit.count(""), RangeError);
    await assert.rejects(
      toolkit.count("K".repeat(100_000)),
      (error: Error) =>
        error instanceof RangeError && error.message.length < 200,
      "a long string is not echoed back",
    );
    await assert.rejects(toolkit.instances(42 as never), TypeError);
  } finally {
    await closeToolkit();
  }
});
