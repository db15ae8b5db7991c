/**
 * The package's boundaries, read from `deno info --json` (static and
 * literal dynamic imports alike): what a program importing leakwatch by
 * path or as a package loads resolves without its own import map and
 * never reaches the users service; the users service reaches the console
 * only through the package's documented exports (deno.json `exports`).
 */

import assert from "node:assert/strict";
import {
  moduleGraph,
  relativeName as relative,
  ROOT,
} from "./_module_graph.ts";

async function info(root: string) {
  return (await moduleGraph(root)).modules;
}

async function packageExports(): Promise<Record<string, string>> {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  );
  return config.exports;
}

Deno.test("the package's modules import only relative paths, node: and pinned npm: specifiers, and nothing of lib/", async () => {
  const exports = await packageExports();
  const problems: string[] = [];
  let local = 0;
  for (const entry of Object.values(exports)) {
    for (const module of await info(entry)) {
      if (!module.specifier.startsWith(ROOT.href)) continue;
      local++;
      const name = relative(module.specifier);
      if (!name.startsWith("console/")) problems.push(`${name} is reached`);
      for (const dependency of module.dependencies ?? []) {
        const written = dependency.specifier;
        // A bare name resolves only through leakwatch's own deno.json.
        if (!/^(\.\.?\/|node:|npm:(@[^/]+\/)?[^@/]+@\d)/.test(written)) {
          problems.push(`${name} imports "${written}"`);
        }
      }
    }
  }
  assert.ok(local > 50, `only ${local} modules read`);
  assert.deepEqual(problems, []);
});

Deno.test("lib/ and main.ts reach the console only through the package's exports", async () => {
  const exported = new Set(
    Object.values(await packageExports()).map((path) =>
      new URL(path, ROOT).href
    ),
  );
  const problems: string[] = [];
  for (const module of await info("main.ts")) {
    const name = relative(module.specifier);
    if (!/^(lib\/|main\.ts$)/.test(name)) continue;
    for (const dependency of module.dependencies ?? []) {
      const target = dependency.code?.specifier;
      if (target === undefined || !relative(target).startsWith("console/")) {
        continue;
      }
      if (!exported.has(target)) {
        problems.push(`${name} imports ${relative(target)}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});
