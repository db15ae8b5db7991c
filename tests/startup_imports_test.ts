/**
 * What `serve` loads before it answers: the static imports of `main.ts`,
 * of the public console module (which any host imports), of the console
 * server's listener and of the leak alarm (the modules `serve` loads while
 * it starts), read from `deno info --json`. The
 * console's evaluator, the toolkit, the heap analysis, source maps and
 * `prom-client` must stay behind dynamic imports, loaded with the first
 * session, trip or scrape.
 */

import assert from "node:assert/strict";
import { moduleGraph, relativeName } from "./_module_graph.ts";

/** The modules `root` reaches through static imports, itself included. */
async function staticClosure(root: string): Promise<Set<string>> {
  const info = await moduleGraph(root);
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const pending = [...info.roots];
  while (pending.length > 0) {
    const specifier = pending.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      if (!dependency.isDynamic && dependency.code) {
        pending.push(dependency.code.specifier);
      }
    }
  }
  return seen;
}

/** Module paths relative to the project, `node:`/`npm:` names as they are. */
function relative(specifiers: Set<string>): string[] {
  return [...specifiers].map(relativeName).sort();
}

Deno.test("`serve` start-up statically imports none of the console's heavy pieces", async () => {
  const loaded = new Set<string>();
  for (
    const root of [
      "main.ts",
      "console/mod.ts",
      "console/server/listener.ts",
      "console/toolkit/leak_alarm.ts",
    ]
  ) {
    for (const specifier of await staticClosure(root)) loaded.add(specifier);
  }
  const names = relative(loaded);
  // The start-up set itself: if one of these goes, the test reads nothing.
  for (
    const expected of [
      "main.ts",
      "lib/serve.ts",
      "console/mod.ts",
      "console/token.ts",
    ]
  ) {
    assert.ok(names.includes(expected), `${expected} in ${names.join(", ")}`);
  }
  // console/heap/code_kinds.ts is the one rule for which code is whose (a
  // few URL tests, no imports): the alarm's attribution needs it at start.
  const heavy = names.filter((name) =>
    (/^console\/(eval|client|heap)\//.test(name) &&
      name !== "console/heap/code_kinds.ts") ||
    /^console\/toolkit\/(mod|inspector|inspector_link|toolkit_state|source_positions|heap|capture|alloc)\.ts$/
      .test(name) ||
    /^console\/server\/(handshake|session|json_session|text_session)\.ts$/
      .test(name) ||
    /^npm:\/?(sucrase|acorn|prom-client|@jridgewell\/)/.test(name) ||
    /^node:(crypto|vm|inspector|readline)$/.test(name)
  );
  assert.deepEqual(heavy, []);
});
