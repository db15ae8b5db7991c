/**
 * What a console session makes and keeps is counted and labelled as the
 * session's by every `heap.*` table, only the console's machinery is left
 * out (and each table says how much), options go wherever they read
 * naturally, and `heap.path("Type")` picks from the largest new group: all
 * in a real service, through a real console session.
 */

import assert from "node:assert/strict";
import { startLeakService } from "./_leak_service.ts";

interface Row {
  type: string;
  count: number;
  sessionCount: number;
}

Deno.test("a console session's objects are counted and labelled as the session's", async (t) => {
  const service = await startLeakService();
  try {
    await t.step("options come first or second", async () => {
      assert.match(
        await service.run("heap.growth({ all: true })"),
        /^baseline set/,
      );
      assert.match(
        await service.run("heap.leaks({ reset: true })"),
        /^leak baseline set/,
      );
      const error = await service.run(
        "await heap.top({ al: true }).catch((e) => e.message)",
      );
      assert.match(
        error,
        /heap\.top\(\) has no option "al"; it takes "reuse", "all"/,
      );
      const count = await service.run(
        'await heap.top("5").catch((e) => e.message)',
      );
      assert.match(count, /takes a positive row count, got "5"/);
    });

    await t.step("growth, top, largest and leaks count them", async () => {
      await service.run(
        "class LeakProbe { constructor(i) { this.i = i; this.data = new Array(50).fill(i); } }",
      );
      await service.run(
        "const held = new Map(); for (let i = 0; i < 1000; i++) held.set(i, new LeakProbe(i)); held.size",
      );
      const growth = await service.run("heap.growth(20, { all: false })");
      // type, count, increase, size, size Δ, new, freed, session.
      assert.match(
        growth,
        /^LeakProbe\s+1 000\s+\+1 000\s.*\s1 000\s+0\s+1 000$/m,
        growth,
      );
      assert.match(growth, /\bsession\n/, "a session column");
      assert.match(growth, /left out: the console's own [\d ]+ objects/);
      const top = await service.data<Row[]>(
        "heap.top(200, { reuse: true })",
      );
      const probes = top.find((r) => r.type === "LeakProbe");
      assert.equal(probes?.count, 1_000);
      assert.equal(probes?.sessionCount, 1_000);
      assert.match(
        await service.run("heap.top(3, { reuse: true })"),
        /left out: the console's own [\d ]+ objects/,
      );
      const largest = await service.data<
        { className: string; heldBy: string; owner: string }[]
      >("heap.largest({ reuse: true })");
      const map = largest.find((r) =>
        r.className === "Map" && r.owner === "session"
      );
      assert.equal(map?.heldBy, "held (console session)");
      const leaks = await service.data<
        {
          heldBy: string;
          className: string;
          mainCount: number;
          owner: string;
        }[]
      >("heap.leaks()");
      const row = leaks.find((r) => r.className === "LeakProbe");
      assert.ok(row, JSON.stringify(leaks.map((r) => r.heldBy)));
      assert.equal(row.heldBy, "held (console session) → {table} → {*}");
      assert.equal(row.mainCount, 1_000);
      assert.equal(row.owner, "session");
      assert.equal(leaks.indexOf(row), 0, "the session's leak is the largest");
      assert.match(
        await service.run("heap.largest(40, { by: 'kind', reuse: true })"),
        /LeakProbe/,
      );
    });

    await t.step(
      'heap.path("Type") picks from the largest new group',
      async () => {
        await service.run("heap.leaks({ reset: true }); undefined");
        await service.load(2_000);
        const text = await service.run('heap.path("Object")');
        assert.match(
          text,
          /^Object @\d+ stands for the largest group of new Object held by one object: [\d ]+ of [\d ]+ allocated since the baseline/,
        );
        assert.match(text, /= cache \(lib\/users\.ts\)/);
        const path = await service.data<{ picked: { count: number } }>(
          'heap.path("Object", { reuse: true })',
        );
        assert.ok(path.picked.count >= 1_900, `${path.picked.count}`);
        const none = await service.run(
          'await heap.path("NoSuchType", { reuse: true }).catch((e) => e.message)',
        );
        assert.match(none, /No live object of type "NoSuchType"/);
      },
    );
  } finally {
    await service.stop();
  }
});
