/**
 * Every leak module of `tests/fixtures/leaks/`, graded end to end as issue
 * 17 describes: imported into a running users service's console session,
 * hooked into `users.lookup` so that every request leaks one more unit,
 * then `heap.leaks()`. Each must be one row, named as a developer would
 * name its holder, within the first three rows, with a retained size of the
 * right order. Modules are graded a few at a time in one service (one
 * baseline, one load, one `heap.leaks()`): each is then ranked among the
 * rows that are not another injected module's, which also checks that two
 * leaks never merge into one row.
 */

import assert from "node:assert/strict";
import { LEAK_MODULES } from "../../fixtures/leaks/catalog.ts";
import { startLeakService } from "./_leak_service.ts";
import { type GradedRow, lineOf } from "./_grade.ts";

/** Requests per batch: each request leaks one unit of every module. */
const REQUESTS = 200;
/** Modules injected together. */
const BATCH = 8;

Deno.test("`heap.leaks()` names every leak module's holder in its first rows, one row each", async (t) => {
  const service = await startLeakService();
  try {
    for (let start = 0; start < LEAK_MODULES.length; start += BATCH) {
      const batch = LEAK_MODULES.slice(start, start + BATCH);
      const aliases = batch.map((_, i) => `M${start + i}`);
      for (const [i, module] of batch.entries()) {
        await service.importModule(module.file, aliases[i]!);
      }
      await service.run("heap.leaks(10, { reset: true }); undefined");
      // Each module gets a key of its own (a flat copy: a concatenation
      // would share the request's key): one they shared would be held by
      // all of them, and so by none in particular.
      await service.hookLookup(
        `(key) => { ${
          batch.map((m, i) =>
            `${
              aliases[i]
            }.${m.hook}(JSON.parse(JSON.stringify(key + "#${i}")));`
          ).join(" ")
        } }`,
      );
      try {
        await service.load(REQUESTS);
      } finally {
        await service.unhook();
      }
      const rows = await service.data<GradedRow[]>(
        `heap.leaks(${BATCH * 3 + 10})`,
      );
      const table = rows.map((r, i) =>
        `${i + 1}. ${r.retainedSize} B ${r.objects} | ${r.heldBy}`
      ).join("\n");
      for (const module of batch) {
        await t.step(module.file, async () => {
          const others = batch.filter((m) => m !== module);
          // Rows of the other injected modules are not competitors here.
          const competing = rows.filter((r) =>
            !others.some((m) => m.holder.test(r.heldBy))
          );
          const at = competing.findIndex((r) => module.holder.test(r.heldBy));
          assert.ok(
            at >= 0 && at < 3,
            `${module.file}: ${module.holder} not in the first 3 rows:\n${table}`,
          );
          const row = competing[at]!;
          // One row: nothing else of this holder beyond crumbs (a string
          // some other structure shares).
          const split = rows.filter((r) =>
            r !== row && module.holder.test(r.heldBy) &&
            r.retainedSize > row.retainedSize * 0.05
          );
          assert.deepEqual(split, [], `${module.file}: one row:\n${table}`);
          const expected = module.unitBytes * REQUESTS;
          assert.ok(
            row.retainedSize > expected / 4 && row.retainedSize < expected * 4,
            `${module.file}: ${row.retainedSize} B retained, expected about ${expected} B`,
          );
          if (module.lineOf) {
            const line = await lineOf(module.file, module.lineOf);
            assert.ok(
              row.heldBy.includes(`${module.file}:${line}`),
              `${module.file}: line ${line} in ${row.heldBy}`,
            );
          }
          if (module.objects) {
            assert.match(row.objects ?? "", module.objects);
          }
        });
      }
    }
  } finally {
    await service.stop();
  }
});
