// V8 heap snapshots of Sets and Maps with string keys cost far more memory
// than the same strings in an Array: ~4 KiB more per entry in Deno 2.9.6
// (V8 15.0), a few hundred bytes in Node 20 (V8 11.3). A minimal
// reproduction.
//
// V8 names some snapshot edges by an index ("0", "1", …): the weak edges
// from "(Internalized strings)" (one per internalized string, and a Set's
// or Map's string keys are internalized), and the slots of hash tables. An
// index name is formatted into a fixed-size buffer (StringsStorage::
// GetVFormatted) that is kept whole when the name is new. The script counts
// those names: integer strings in the snapshot's string table that no node
// is named by.
//
// Each case runs in a fresh process; "growth" is its peak RSS (getrusage)
// less its RSS before writeHeapSnapshot("/dev/null").
//
//   node repro.mjs
//   deno run --allow-run --allow-env --allow-read=/tmp --allow-write=/dev/null,/tmp repro.mjs

import { spawnSync } from "node:child_process";
import { readFileSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { writeHeapSnapshot } from "node:v8";

const isDeno = typeof Deno !== "undefined";

function child(kind, n) {
  const strings = Array.from({ length: n }, (_, i) => `member-${i}`);
  const held = kind === "set" ? new Set(strings) : strings.slice();
  strings.length = 0;
  globalThis.gc?.();
  const before = process.memoryUsage();
  writeHeapSnapshot("/dev/null");
  const peak = process.resourceUsage().maxRSS * 1024;
  // Then, apart from the measure: the snapshot's integer names.
  const file = `${tmpdir()}/v8-snapshot-cost-${process.pid}.heapsnapshot`;
  writeHeapSnapshot(file);
  const shape = indexNames(JSON.parse(readFileSync(file, "utf8")));
  unlinkSync(file);
  console.log(JSON.stringify({
    kind,
    n: held.size ?? held.length,
    ...shape,
    heapUsed: before.heapUsed,
    growth: peak - before.rss,
  }));
}

// Nodes, and integer strings in the string table that no node is named by:
// names V8 formatted for edges (a node's own name is stored at its size).
function indexNames(snapshot) {
  const fields = snapshot.snapshot.meta.node_fields;
  const nameAt = fields.indexOf("name");
  const named = new Set();
  for (let i = nameAt; i < snapshot.nodes.length; i += fields.length) {
    named.add(snapshot.nodes[i]);
  }
  let names = 0;
  snapshot.strings.forEach((s, i) => {
    if (/^\d+$/.test(s) && !named.has(i)) names++;
  });
  return { nodes: snapshot.snapshot.node_count, names };
}

function run(kind, n) {
  const file = fileURLToPath(import.meta.url);
  const args = isDeno
    ? [
      "run",
      "--v8-flags=--expose-gc",
      "--allow-env",
      `--allow-read=${tmpdir()}`,
      `--allow-write=/dev/null,${tmpdir()}`,
      file,
    ]
    : ["--expose-gc", file];
  const result = spawnSync(process.execPath, [...args, kind, String(n)], {
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout.trim().split("\n").at(-1));
}

function main() {
  const runtime = isDeno
    ? `deno ${Deno.version.deno}`
    : `node ${process.version}`;
  const mib = (b) => (b / 2 ** 20).toFixed(0).padStart(6);
  const count = (x) => String(x).padStart(8);
  console.log(
    `${runtime}: writeHeapSnapshot of n strings in an Array, then in a Set`,
  );
  console.log(
    "        |         Array of n strings        |          Set of n strings         |",
  );
  console.log(
    "       n |    nodes    names  growth MiB |    nodes    names  growth MiB | Set − Array: MiB   names   B per name",
  );
  for (const n of [0, 50_000, 100_000, 200_000]) {
    const array = run("array", n);
    const set = run("set", n);
    const extra = set.growth - array.growth;
    const names = set.names - array.names;
    console.log(
      `${count(n)} | ${count(array.nodes)} ${count(array.names)}  ${
        mib(array.growth)
      }     | ${count(set.nodes)} ${count(set.names)}  ${
        mib(set.growth)
      }     |       ${mib(extra)} ${count(names)}   ${
        names > 1000 ? count((extra / names).toFixed(0)) : ""
      }`,
    );
  }
}

const [kind, n] = process.argv.slice(2).filter((a) => !a.endsWith(".mjs"));
if (kind) child(kind, Number(n));
else main();
