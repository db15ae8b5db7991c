/**
 * The README's guided diagnosis, run against real processes started with
 * the `start` task's permissions: load `/users/random`, watch `/metrics` and
 * `mem()` grow, then `cache.size`, `heap.leaks()`, `heap.growth()`,
 * `heap.largest()`, `heap.path()` and `alloc.top()` in one console session,
 * and finally the cure, `--cache-limit`, keeping memory flat.
 */

import assert from "node:assert/strict";
import type { Reply } from "../console/protocol.ts";
import { startWithConsole } from "./_service_session.ts";

function progressOf(before: Reply[]): string[] {
  return before.flatMap((r) => r.type === "progress" ? [r.label] : []);
}

Deno.test("the guided diagnosis finds the leak in cache, and --cache-limit cures it", async (t) => {
  const leaking = await startWithConsole();
  try {
    await t.step(
      "load on /users/random makes /metrics and mem() grow",
      async () => {
        const rssBefore = await leaking.metric("process_resident_memory_bytes");
        const heapBefore = (await leaking.data<{ heapUsed: number }>("mem()"))
          .heapUsed;
        await leaking.load(20_000);
        assert.equal(await leaking.metric("users_cache_entries"), 20_000);
        assert.equal(await leaking.metric("users_cache_misses_total"), 20_000);
        assert.ok(
          await leaking.metric("process_resident_memory_bytes") > rssBefore,
        );
        const { text } = await leaking.run("mem()");
        assert.match(text, /heap used\s+[\d.]+ MiB/);
        const heapAfter = (await leaking.data<{ heapUsed: number }>("mem()"))
          .heapUsed;
        // 20 000 users of ~400 bytes each stay behind.
        assert.ok(
          heapAfter - heapBefore > 20_000 * 300,
          `heap grew by ${heapAfter - heapBefore}`,
        );
      },
    );

    await t.step("cache.size counts every random user", async () => {
      assert.equal((await leaking.run("cache.size")).text, "20000");
    });

    await t.step(
      "one heap.leaks() after load names cache in lib/users.ts; heap.growth() counts what grew",
      async () => {
        const first = await leaking.run("heap.growth()");
        assert.match(first.text, /^baseline set/);
        assert.ok(progressOf(first.before).includes("capture"));
        const baseline = await leaking.run("heap.leaks()");
        assert.match(baseline.text, /^leak baseline set/);
        const sizeBefore = Number((await leaking.run("cache.size")).text);
        await leaking.load(5_000);
        const added = Number((await leaking.run("cache.size")).text) -
          sizeBefore;
        assert.ok(added > 4_900, `${added} users added`);
        const { text } = await leaking.run("heap.leaks()");
        // The headline: the first row is the cache, named as in the source,
        // with about one Object per user the load added (and its key).
        const firstRow = text.split("\n")[3]!;
        assert.match(
          firstRow,
          /\s+Object \+[\d ]+ \(string\)\s+cache \(lib\/users\.ts\) → \{table\} → \{\*\}$/,
          text,
        );
        const rowCount = Number(
          firstRow.trim().split(/\s{2,}/)[1]!.replace(/\s/g, ""),
        );
        assert.ok(
          rowCount >= added * 0.99 && rowCount < added + 100,
          `${rowCount} objects for ${added} users added:\n${text}`,
        );
        const [top] = await leaking.data<
          {
            holder: { kind: string; name: string; url: string };
            heldBy: string;
            mainCount: number;
            className: string;
            retainedSize: number;
          }[]
        >("heap.leaks(3)");
        assert.equal(top!.holder.name, "cache");
        assert.equal(top!.holder.kind, "export");
        assert.match(top!.holder.url, /\/lib\/users\.ts$/);
        assert.equal(top!.heldBy, "cache (lib/users.ts) → {table} → {*}");
        assert.equal(top!.className, "Object");
        assert.ok(
          top!.mainCount >= added * 0.99 && top!.mainCount < added + 100,
          `${top!.mainCount} objects for ${added} users added`,
        );
        assert.ok(top!.retainedSize > 5_000 * 300, `${top!.retainedSize}`);
        const rows = await leaking.data<
          {
            type: string;
            count: number;
            increase: number;
            new: number;
            sizeDelta: number;
          }[]
        >("heap.growth()");
        const objects = rows.find((r) => r.type === "Object");
        assert.ok(objects, JSON.stringify(rows));
        // Each user is one plain object, never freed: at least one new
        // Object per user added. The service makes and frees a handful of
        // others meanwhile (the console's own are left out), so the net
        // increase is within a hundred of the users added.
        assert.ok(
          objects.new >= added && Math.abs(objects.increase - added) < 100,
          `${added} users added: ${JSON.stringify(objects)}`,
        );
        assert.ok(objects.sizeDelta > 5_000 * 48);
        const strings = rows.find((r) => r.type === "(string)");
        assert.ok(strings && strings.increase >= 4 * 5_000, "strings grow");
      },
    );

    await t.step("heap.largest() puts the cache Map on top", async () => {
      const { text } = await leaking.run("heap.largest(5)");
      assert.match(
        text.split("\n")[2]!,
        /Map @\d+\s+cache \(lib\/users\.ts\)$/,
      );
      const [top] = await leaking.data<
        { className: string; retainedSize: number; heldBy: string }[]
      >("heap.largest(1)");
      assert.equal(top?.className, "Map");
      assert.equal(top!.heldBy, "cache (lib/users.ts)");
      assert.ok(top!.retainedSize > 25_000 * 300, `${top!.retainedSize}`);
    });

    await t.step(
      "heap.path() leads from a GC root through cache to a user",
      async () => {
        const { text } = await leaking.run(
          "const user = [...cache.values()].at(-1); heap.path(user)",
        );
        assert.match(text, /^path to Object @\d+/);
        assert.match(text, /--> Map @\d+ = cache \(lib\/users\.ts\)/);
        const path = await leaking.data<
          {
            reachable: boolean;
            steps: { edge: string; alias?: string; node: { name: string } }[];
          }
        >("heap.path(user)");
        assert.equal(path.reachable, true);
        assert.equal(path.steps[0]!.node.name, "");
        const map = path.steps.findIndex((s) => s.node.name === "Map");
        assert.ok(map > 0);
        assert.equal(path.steps[map]!.alias, ".cache");
        assert.equal(path.steps.at(-1)!.node.name, "Object");
        // The user's own id is its key in the Map.
        assert.equal(
          (await leaking.run("cache.get(user.user_id) === user")).text,
          "true",
        );
      },
    );

    await t.step("alloc.top() points at the fake database", async () => {
      assert.match(
        (await leaking.run("alloc.start()")).text,
        /allocation sampling started/,
      );
      await leaking.load(10_000);
      const top = await leaking.data<{ function: string; file: string }[]>(
        "alloc.top(3)",
      );
      assert.ok(
        top.some((site) => site.file.endsWith("lib/fake_database.ts")),
        JSON.stringify(top),
      );
      assert.match((await leaking.run("alloc.stop()")).text, /fake_database/);
    });
  } finally {
    await leaking.stop();
  }

  const cured = await startWithConsole(["--cache-limit", "5000"]);
  try {
    await t.step("with --cache-limit memory stays flat", async () => {
      await cured.load(10_000);
      const warm = await cured.data<{ after: number }>("gc()");
      await cured.load(30_000);
      const later = await cured.data<{ after: number }>("gc()");
      assert.equal((await cured.run("cache.size")).text, "5000");
      assert.equal(await cured.metric("users_cache_entries"), 5_000);
      // Unbounded, 30 000 more users would add ~12 MB; bounded, nothing.
      assert.ok(
        later.after < warm.after * 1.1,
        `heap after GC: ${warm.after} then ${later.after}`,
      );
    });
  } finally {
    await cured.stop();
  }
});
