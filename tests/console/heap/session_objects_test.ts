/**
 * What a console session makes and keeps is counted and labelled as the
 * session's by every `heap.*` table, only the console's machinery is left
 * out (and each table says how much), options go wherever they read
 * naturally, and `heap.path("Type")` picks from the largest new group: all
 * in a real service, through a real console session.
 */

import assert from "node:assert/strict";
import { type LeakService, startLeakService } from "./_leak_service.ts";

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

/** A hook a session installs: every request leaks into four holders. */
const HOOK = `
const kept = [];
const visits = new Map();
const lastSeen = {};
class Visit {
  constructor(key) {
    this.key = key;
    this.at = new Date();
    this.note = "visited by " + key;
  }
}
const trail = (() => {
  const steps = [];
  return (key) => steps.push({ key, where: new Error("hook").stack });
})();
var lookupBefore = users.lookup;
users.lookup = (userId) => {
  const key = userId + "-" + crypto.randomUUID();
  kept.push({ userId, pad: "x".repeat(300) + key });
  visits.set(key, new Visit(key));
  lastSeen[key] = { at: Date.now(), key };
  trail(key);
  return lookupBefore(userId);
};
undefined`;

interface LeakRow {
  heldBy: string;
  className: string;
  mainCount: number;
  count: number;
  owner: string;
  retainedSize: number;
}

Deno.test("leaks of a session opened after the baseline are its variables' rows, also once it has closed", async (t) => {
  const service = await startLeakService();
  try {
    let closed = 0;
    await t.step("the session is open", async () => {
      // The operator sets the baseline, then reconnects to hook.
      await service.run("heap.leaks({ reset: true })");
      const hooked = await service.openSession();
      try {
        await hooked.run(HOOK);
        await service.load(300);
        assert.equal(await hooked.run("kept.length"), "300");
        await checkSessionLeaks(service);
      } finally {
        await hooked.run("users.lookup = lookupBefore; undefined");
        hooked.close();
        await service.closedSessions(++closed);
      }
    });
    await t.step("the session has closed, its hook goes on", async () => {
      await service.run("heap.leaks({ reset: true })");
      const hooked = await service.openSession();
      await hooked.run(HOOK);
      hooked.close();
      await service.closedSessions(++closed);
      await service.load(300);
      await checkSessionLeaks(service);
    });
  } finally {
    await service.stop();
  }
});

/**
 * Checks `heap.leaks()` after 300 requests through {@link HOOK}: one row
 * per variable, named by it, the session's, of 300 units each.
 */
async function checkSessionLeaks(service: LeakService): Promise<void> {
  const text = await service.run("heap.leaks(8)");
  assert.match(
    text,
    /^ *[\d.]+ KiB +300 +Object +kept \(console session\) → \[\*\]$/m,
    text,
  );
  const rows = await service.data<LeakRow[]>("heap.leaks(12)");
  const shown = JSON.stringify(rows.map((r) => r.heldBy));
  const expected = [
    { holder: /^kept \(console session\) → \[\*\]$/, type: "Object" },
    {
      holder: /^visits \(console session\) → \{table\} → \{\*\}$/,
      type: "Visit",
    },
    // Its units are the entries and their key strings (shared with the
    // other holders, so which class leads varies).
    { holder: /^lastSeen \(console session\) → \.<key>/, atLeast: true },
    {
      holder: /^context steps of \(anonymous\) \(<console:\d+>:\d+\) → \[\*\]$/,
      type: "Object",
    },
  ];
  let leaked = 0;
  for (const { holder, type, atLeast } of expected) {
    const found = rows.filter((r) => holder.test(r.heldBy));
    assert.equal(found.length, 1, `${holder} in ${shown}`);
    const row = found[0]!;
    assert.equal(row.owner, "session", shown);
    assert.ok(
      atLeast ? row.count >= 300 : row.mainCount === 300,
      `${row.heldBy}: ${row.mainCount} of ${row.count}`,
    );
    if (type) assert.equal(row.className, type, row.heldBy);
    leaked += row.retainedSize;
  }
  // Nothing else of the session holds them again (a hook that alone keeps
  // a closed session's scope is a small row of its own; `_`, the last
  // result, is the operator's too), and no row names the console's own
  // objects.
  for (const row of rows) {
    if (expected.some(({ holder }) => holder.test(row.heldBy))) continue;
    if (row.owner === "session" && !row.heldBy.startsWith("_ ")) {
      assert.ok(row.retainedSize < leaked / 16, JSON.stringify(row));
    }
    assert.doesNotMatch(row.heldBy, /\.console\b|evaluat|\.layers/);
  }
}
