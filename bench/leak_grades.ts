/**
 * Leak-module grades: each leak module of `tests/fixtures/leaks/` injected
 * into a running users service the way issue 17 describes (imported in a
 * console session, hooked into `users.lookup`, N requests), then
 * `heap.leaks()`: the rank of the row that names the holder a developer
 * would recognise, the holder as printed and the row's retained size; and,
 * on a snapshot taken right after, memlab's retained size of the object
 * the row hangs off (and ours of the same object, same file).
 *
 * Run: deno task bench:leaks [--before] [--only REGEX] [--requests N]
 *
 * `--before` also grades `main` as it was where this branch began (its
 * merge base, exported with `git archive` into the work directory), for a
 * before/after table. Writes bench/results/leak_grades.md.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseFile, prepareMemlab } from "./heap_bench.ts";
import { HeapAnalysis } from "../console/heap/analysis.ts";
import { SnapshotParser } from "../console/heap/parser.ts";
import { CONSOLE_OWNERSHIP } from "../console/heap/code_kinds.ts";
import {
  type LeakService,
  startLeakService,
} from "../tests/console/heap/_leak_service.ts";
import { type Grade, gradeModule } from "../tests/console/heap/_grade.ts";
import {
  LEAK_MODULES,
  type LeakModule,
} from "../tests/fixtures/leaks/catalog.ts";

const HERE = new URL(".", import.meta.url);
const ROOT = new URL("../", HERE);

/** One module's figures in one version. */
interface Result {
  rank: number;
  mentionRank: number;
  printed: string;
  objects: string;
  retained: number;
  /**
   * memlab's retained size of the object the row hangs off, same snapshot;
   * for a row no one object holds (timers, held from several GC roots):
   * of its example, times the row's count.
   */
  memlab?: number;
  /** Ours for the same object(s), same snapshot file. */
  ours?: number;
  /** What was measured: the object, or `N × example`. */
  measured?: string;
}

async function gradeAll(
  modules: LeakModule[],
  requests: number,
  root: string | undefined,
  memlabDir: string | undefined,
): Promise<Map<string, Result>> {
  const results = new Map<string, Result>();
  const service = await startLeakService([], root ? { root } : {});
  try {
    for (const [i, module] of modules.entries()) {
      console.error(`${root ? "main" : "this branch"}: ${module.file} ...`);
      const grade = await gradeModule(service, module, {
        alias: `L${i}`,
        requests,
      });
      const result = resultOf(grade);
      const row = grade.row;
      if (memlabDir && row?.anchorId) {
        const example = row.example.target.id;
        const [anchor, one] = await compareWithMemlab(
          service,
          [row.anchorId, example],
          memlabDir,
        );
        // The anchor holds the row unless the row's objects are held from
        // several roots (a timer is held by the runtime's list and its
        // handle): then the example stands for each of them.
        const count = row.mainCount ?? row.count;
        Object.assign(
          result,
          anchor!.ours >= row.retainedSize * 0.5
            ? {
              memlab: anchor!.memlab,
              ours: anchor!.ours,
              measured: anchor!.label,
            }
            : {
              memlab: one!.memlab * count,
              ours: one!.ours * count,
              measured: `${count} × ${one!.label}`,
            },
        );
      }
      results.set(module.file, result);
    }
  } finally {
    await service.stop();
  }
  return results;
}

function resultOf(grade: Grade): Result {
  return {
    rank: grade.rank,
    mentionRank: grade.mentionRank,
    printed: grade.printed,
    objects: grade.row?.objects ?? grade.row?.className ?? "",
    retained: grade.row?.retainedSize ?? 0,
  };
}

/**
 * Saves a snapshot now and measures objects' retained sizes in it with
 * memlab and with our analysis.
 */
async function compareWithMemlab(
  service: LeakService,
  ids: number[],
  memlabDir: string,
): Promise<{ memlab: number; ours: number; label: string }[]> {
  const { path } = await service.data<{ path: string }>("heap.snapshot()");
  try {
    const analysis = await analyseFile(path);
    const out = await new Deno.Command("node", {
      args: [
        "--max-old-space-size=8192",
        `${memlabDir}/run.js`,
        path,
        JSON.stringify(ids),
        String(ids[0]),
      ],
      cwd: memlabDir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const line = text.split("\n").find((l) => l.startsWith("RESULT "));
    if (!out.success || !line) {
      throw new Error(
        `memlab failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`,
      );
    }
    const theirs = JSON.parse(line.slice(7)).retained as Record<string, number>;
    return ids.map((id) => {
      const node = analysis.graph.findById(id);
      return {
        memlab: theirs[id] ?? -1,
        ours: node >= 0 ? analysis.retained[node]! : -1,
        label: node >= 0 ? analysis.graph.label(node) : "?",
      };
    });
  } finally {
    await Deno.remove(path);
  }
}

async function analyseFile(file: string): Promise<HeapAnalysis> {
  const raw = await parseFile(new SnapshotParser(), file);
  return HeapAnalysis.from(raw, undefined, CONSOLE_OWNERSHIP);
}

/**
 * Exports the commit this branch grew from on `main` (the "before": `main`
 * itself may have moved on since) into `dir`, a fresh copy each run.
 *
 * @returns The commit.
 */
async function exportBase(dir: string): Promise<string> {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  const base = new TextDecoder().decode(
    (await new Deno.Command("git", {
      args: ["-C", ROOT.pathname, "merge-base", "HEAD", "main"],
      stdout: "piped",
    }).output()).stdout,
  ).trim();
  if (!/^[0-9a-f]{40}$/.test(base)) throw new Error("No merge base with main");
  const git = new Deno.Command("git", {
    args: ["-C", ROOT.pathname, "archive", "--format=tar", base],
    stdout: "piped",
  }).spawn();
  const tar = new Deno.Command("tar", {
    args: ["-x", "-C", dir],
    stdin: "piped",
  }).spawn();
  await git.stdout.pipeTo(tar.stdin);
  const [a, b] = await Promise.all([git.status, tar.status]);
  if (!a.success || !b.success) throw new Error(`git archive ${base} failed`);
  return base;
}

function kib(bytes: number | undefined): string {
  if (bytes === undefined || bytes <= 0) return "–";
  return bytes >= 1 << 20
    ? `${(bytes / (1 << 20)).toFixed(2)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|");
}

function rankOf(r: Result | undefined): string {
  if (!r) return "–";
  if (r.rank > 0) return String(r.rank);
  return r.mentionRank > 0 ? `(${r.mentionRank})` : "not in 10";
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      before: { type: "boolean", default: false },
      only: { type: "string" },
      requests: { type: "string", default: "200" },
    },
  });
  const requests = Number(values.requests);
  const only = values.only ? new RegExp(values.only) : undefined;
  const modules = LEAK_MODULES.filter((m) => !only || only.test(m.file));
  const work = Deno.env.get("HEAP_BENCH_DIR") ?? "/tmp/heap-bench";
  const memlabDir = await prepareMemlab(work);
  const after = await gradeAll(modules, requests, undefined, memlabDir);
  let before: Map<string, Result> | undefined;
  let base = "";
  if (values.before) {
    const dir = `${work}/main`;
    base = await exportBase(dir);
    before = await gradeAll(modules, requests, dir, undefined);
  }
  const lines = [
    `# Leak-module grades`,
    ``,
    `Each module of tests/fixtures/leaks/ imported into a running users service's console session, hooked into \`users.lookup\`, ${requests} requests to /users/random, then \`heap.leaks(10)\` (\`deno task bench:leaks${
      values.before ? " --before" : ""
    }\`, ${
      new Date().toISOString().slice(0, 10)
    }, ${navigator.hardwareConcurrency} cores${
      base
        ? `; before: main at ${base.slice(0, 7)}, where this branch began`
        : ""
    }). Rank: the row whose holder reads as a developer would name it; (n): only a row that mentions the holder in other terms; memlab: \`getFullHeapFromFile\` retained size of the object the row hangs off, on a snapshot taken right after (ours: the same object, same file).`,
    ``,
    before
      ? `| module | kind | before: rank | before: holder as printed | before: retained | after: rank | after: holder as printed | after: objects | after: retained | memlab (object) | ours (object) |`
      : `| module | kind | rank | holder as printed | objects | retained | memlab (object) | ours (object) |`,
    before
      ? `|---|---|---|---|---|---|---|---|---|---|---|`
      : `|---|---|---|---|---|---|---|---|`,
  ];
  for (const m of modules) {
    const a = after.get(m.file);
    const b = before?.get(m.file);
    const kind = `${m.category}${m.unforeseen ? " (unforeseen)" : ""}`;
    const memlab = `${kib(a?.memlab)}${
      a?.measured ? ` (${cell(a.measured)})` : ""
    }`;
    lines.push(
      before
        ? `| ${m.file} | ${kind} | ${rankOf(b)} | ${cell(b?.printed ?? "")} | ${
          kib(b?.retained)
        } | ${rankOf(a)} | ${cell(a?.printed ?? "")} | ${
          cell(a?.objects ?? "")
        } | ${kib(a?.retained)} | ${memlab} | ${kib(a?.ours)} |`
        : `| ${m.file} | ${kind} | ${rankOf(a)} | ${cell(a?.printed ?? "")} | ${
          cell(a?.objects ?? "")
        } | ${kib(a?.retained)} | ${memlab} | ${kib(a?.ours)} |`,
    );
  }
  const md = lines.join("\n") + "\n";
  console.log(md);
  await Deno.mkdir(new URL("results/", HERE), { recursive: true });
  await Deno.writeTextFile(new URL("results/leak_grades.md", HERE), md);
}

if (import.meta.main) await main();
