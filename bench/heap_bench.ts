/**
 * Heap toolkit benchmark: our snapshot analysis next to memlab's on the same
 * snapshots, plus the cost of capturing them. Writes bench/results/heap.md.
 *
 * Run: deno task bench:heap
 *
 * The bench makes its own snapshots (~50 MB and ~150 MB) from child Deno
 * processes whose heap looks like the service's leaking cache, analyses each
 * in a fresh child (ours: parse + census + path + dominators; memlab:
 * `getFullHeapFromFile` + the same census and path, under `node`), and
 * compares times, peak RSS and retained sizes. Then leak finding: a baseline
 * snapshot with half the users, a target and a final one with all of them;
 * ours is one `heap.leaks()` call's analysis (parse + analyse the final
 * snapshot + group the objects newer than the baseline's highest id),
 * memlab's is `findLeaksBySnapshotFilePaths(baseline, target, final)`.
 *
 * Then the command lines side by side (`deno task bench:heap cli` runs only
 * this part): `main.ts analyze` against memlab's own CLI (`memlab
 * find-leaks`, `memlab analyze object-size`) on the same files, a
 * baseline/target/final trio written by a Node and by a Deno program that
 * leaks through a module-level Map (`bench/leak_program.ts`, final
 * snapshot ≥ 100 MB): wall time, peak RSS, and the leak each one names.
 * Writes bench/results/heap_analyze.md.
 *
 * @module
 */

import { CAPTURE_MEMORY_FACTOR } from "../console/toolkit/memory.ts";
import type { RawSnapshot, SnapshotParser } from "../console/heap/parser.ts";
import type { Toolkit } from "../console/toolkit/mod.ts";
import { stripAnsi } from "../console/ansi.ts";
import { makeLeakTrio, type Runtime } from "./leak_program.ts";

const MEMLAB_VERSION = "2.0.5";
const TARGET_USERS = [
  { label: "~50 MB", users: 56_000 },
  { label: "~150 MB", users: 184_000 },
];
const LARGEST_N = 20;
const HERE = new URL(".", import.meta.url);
const ROOT = new URL("../", HERE);
const HEAP_DIR = new URL("console/heap/", ROOT);

/** What the snapshot-making child reports. */
interface MakeResult {
  users: number;
  bytes: number;
  heapUsed: number;
  rssBefore: number;
  pauseMs: number;
  maxRss: number;
}

/** What the `heap.top()` child reports. */
interface TopResult {
  users: number;
  heapUsed: number;
  rssBefore: number;
  ms: number;
  maxRss: number;
}

/** What each analyser child reports. */
interface AnalyseResult {
  loadMs: number;
  parseMs?: number;
  analyseMs?: number;
  queryMs: number;
  totalMs: number;
  maxRss: number;
  nodeCount: number;
  userCount: number;
  pathLength: number;
  targetId: number;
  totalRetained: number;
  retained: Record<string, number>;
  largest?: Array<{ id: number; label: string; retained: number }>;
}

// ---------------------------------------------------------------- children

class User {
  constructor(
    readonly id: string,
    readonly name: string,
    readonly email: string,
    readonly tags: string[],
    readonly createdAt: Date,
  ) {}
}
const cache = new Map<string, User>();

/** Peak RSS of this process, from inside (used when /usr/bin/time is missing). */
async function selfMaxRss(): Promise<number> {
  const { default: process } = await import("node:process");
  return process.resourceUsage().maxRSS * 1024;
}

function fill(users: number, from = 0): void {
  for (let i = from; i < users; i++) {
    const id = `u${i.toString(16).padStart(8, "0")}`;
    cache.set(
      id,
      new User(id, `User ${i}`, `user${i}@example.com`, [
        `t${i % 7}`,
        `g${i % 13}`,
      ], new Date(i)),
    );
  }
}

/**
 * Feeds a snapshot file to a parser in 1 MiB reads, as text pieces the way
 * the analysis worker gets them.
 */
async function parseFile(
  parser: SnapshotParser,
  file: string,
): Promise<RawSnapshot> {
  const decoder = new TextDecoder();
  const handle = await Deno.open(file);
  const block = new Uint8Array(1 << 20);
  for (;;) {
    const n = await handle.read(block);
    if (n === null) break;
    parser.push(decoder.decode(block.subarray(0, n), { stream: true }));
  }
  handle.close();
  parser.push(decoder.decode());
  return parser.finish();
}

/**
 * The toolkit, imported only here so that the analyser children's peak RSS
 * does not include it.
 */
async function startToolkit(): Promise<
  { toolkit: Toolkit; closeToolkit: () => Promise<void> }
> {
  const { createToolkit, closeToolkit } = await import(
    "../console/toolkit/mod.ts"
  );
  return { toolkit: createToolkit({ progress: () => {} }), closeToolkit };
}

/** Heap used and RSS after a full GC: what a capture's memory factor is relative to. */
async function settledMemory(
  toolkit: Toolkit,
): Promise<{ heapUsed: number; rssBefore: number }> {
  await toolkit.gc();
  const { heapUsed, rss } = Deno.memoryUsage();
  return { heapUsed, rssBefore: rss };
}

/** Child: builds a heap like the leaking cache and snapshots it via the toolkit. */
async function make(users: number, file: string): Promise<void> {
  fill(users);
  const { toolkit, closeToolkit } = await startToolkit();
  const { heapUsed, rssBefore } = await settledMemory(toolkit);
  const report = await toolkit.heap.snapshot(file);
  await closeToolkit();
  const result: MakeResult = {
    users,
    bytes: report.bytes,
    heapUsed,
    rssBefore,
    pauseMs: report.pauseMs,
    maxRss: timed ? 0 : await selfMaxRss(),
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
}

/** Child: baseline (half the users), target and final snapshots for leak finding. */
async function makeThree(users: number, prefix: string): Promise<void> {
  fill(users / 2);
  const { toolkit, closeToolkit } = await startToolkit();
  await toolkit.heap.snapshot(`${prefix}-baseline.heapsnapshot`);
  fill(users, users / 2);
  await toolkit.heap.snapshot(`${prefix}-target.heapsnapshot`);
  await toolkit.heap.snapshot(`${prefix}-final.heapsnapshot`);
  await closeToolkit();
  console.log(`RESULT ${JSON.stringify({ maxRss: 0 })}`);
}

/** What the leak-finding children report. */
interface LeaksResult {
  totalMs: number;
  maxRss: number;
  groups: number;
  firstCount: number;
  firstName: string;
  newObjects: number;
}

/** Child: one `heap.leaks()` call's analysis of the final snapshot. */
async function leaksChild(baseline: string, final: string): Promise<void> {
  const { SnapshotParser } = await import("../console/heap/parser.ts");
  const { HeapAnalysis } = await import("../console/heap/analysis.ts");
  const read = (file: string) => parseFile(new SnapshotParser(), file);
  const ownership = { consoleScripts: [new URL("console/", ROOT).href] };
  // The baseline call happened earlier (live, it is the previous
  // heap.leaks()); only its highest id is kept.
  let since = 0;
  {
    const raw = await read(baseline);
    const nf = raw.meta.node_fields.length;
    const idAt = raw.meta.node_fields.indexOf("id");
    for (let i = idAt; i < raw.nodes.length; i += nf) {
      if (raw.nodes[i]! > since) since = raw.nodes[i]!;
    }
  }
  const started = performance.now();
  const analysis = HeapAnalysis.from(await read(final), undefined, ownership);
  const groups = analysis.leaks(since, 10);
  const totalMs = performance.now() - started;
  const first = groups[0];
  const result: LeaksResult = {
    totalMs,
    maxRss: timed ? 0 : await selfMaxRss(),
    groups: groups.length,
    firstCount: first?.count ?? 0,
    firstName: first
      ? `${first.className} held by ${first.holder?.name ?? "?"}`
      : "",
    newObjects: groups.reduce((sum, g) => sum + g.count, 0),
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
}

/** Child: the same heap, then `heap.top()` (capture + analysis in the worker). */
async function top(users: number): Promise<void> {
  fill(users);
  const { toolkit, closeToolkit } = await startToolkit();
  const { heapUsed, rssBefore } = await settledMemory(toolkit);
  const started = performance.now();
  await toolkit.heap.top(3);
  const ms = performance.now() - started;
  await closeToolkit();
  const result: TopResult = {
    users: cache.size,
    heapUsed,
    rssBefore,
    ms,
    maxRss: timed ? 0 : await selfMaxRss(),
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
}

/** Child: our analyser, streaming the file as the worker gets chunks. */
async function analyse(file: string): Promise<void> {
  const { SnapshotParser } = await import("../console/heap/parser.ts");
  const { HeapAnalysis } = await import("../console/heap/analysis.ts");
  const started = performance.now();
  const raw = await parseFile(new SnapshotParser(), file);
  const parsed = performance.now();
  const analysis = HeapAnalysis.from(raw);
  const analysed = performance.now();
  const top = analysis.top();
  const userCount = top.find((c) => c.name === "User")?.count ?? 0;
  const target = analysis.resolve("User");
  const path = analysis.path(target);
  const largest = analysis.largest(LARGEST_N);
  const done = performance.now();
  const retained: Record<string, number> = {};
  for (const row of largest) retained[row.id] = row.retainedSize;
  const result: AnalyseResult = {
    loadMs: analysed - started,
    parseMs: parsed - started,
    analyseMs: analysed - parsed,
    queryMs: done - analysed,
    totalMs: done - started,
    maxRss: timed ? 0 : await selfMaxRss(),
    nodeCount: raw.nodeCount,
    userCount,
    pathLength: path.steps.length - 1,
    targetId: path.target.id,
    totalRetained: analysis.retained[0]!,
    retained,
    largest: largest.map((r) => ({
      id: r.id,
      label: r.label,
      retained: r.retainedSize,
    })),
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
}

const MEMLAB_SCRIPT = `
const { getFullHeapFromFile } = require("@memlab/heap-analysis");
const [file, idsJson, targetId] = process.argv.slice(2);
(async () => {
  const started = performance.now();
  const heap = await getFullHeapFromFile(file);
  const loaded = performance.now();
  const census = new Map();
  heap.nodes.forEach((node) => {
    const key = node.type === "object" || node.type === "native" ? node.name : "(" + node.type + ")";
    const row = census.get(key) || { count: 0, self: 0 };
    row.count++;
    row.self += node.self_size;
    census.set(key, row);
  });
  let pathLength = 0;
  for (let node = heap.getNodeById(Number(targetId)); node && node.pathEdge; node = node.pathEdge.fromNode) {
    pathLength++;
  }
  const retained = {};
  for (const id of JSON.parse(idsJson)) retained[id] = heap.getNodeById(Number(id))?.retainedSize ?? -1;
  const done = performance.now();
  const result = {
    loadMs: loaded - started,
    queryMs: done - loaded,
    totalMs: done - started,
    maxRss: process.argv.includes("--timed") ? 0 : process.resourceUsage().maxRSS * 1024,
    nodeCount: heap.nodes.length,
    userCount: census.get("User")?.count ?? 0,
    pathLength,
    targetId: Number(targetId),
    totalRetained: heap.nodes.get(0).retainedSize,
    retained,
  };
  console.log("RESULT " + JSON.stringify(result));
})().catch((e) => { console.error(e); process.exit(1); });
`;

const MEMLAB_LEAKS_SCRIPT = `
const { findLeaksBySnapshotFilePaths } = require("@memlab/api");
const [baseline, target, final] = process.argv.slice(2);
(async () => {
  const started = performance.now();
  const leaks = await findLeaksBySnapshotFilePaths(baseline, target, final, { consoleMode: "SILENT", workDir: process.env.MEMLAB_WORK_DIR });
  const totalMs = performance.now() - started;
  console.log("RESULT " + JSON.stringify({
    totalMs,
    maxRss: process.argv.includes("--timed") ? 0 : process.resourceUsage().maxRSS * 1024,
    groups: leaks.length,
    firstCount: 0,
    firstName: "",
    newObjects: 0,
  }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

// ------------------------------------------------------------------ driver

/** `deno task bench:heap cli`: only the command-line comparison. */
async function cliOnly(): Promise<void> {
  const work = Deno.env.get("HEAP_BENCH_DIR") ?? "/tmp/heap-bench";
  const memlabDir = `${work}/memlab-${MEMLAB_VERSION}`;
  await Deno.mkdir(work, { recursive: true });
  await ensureMemlab(memlabDir);
  const md = await cliReport(await compareClis(work, memlabDir));
  console.log(md);
  await Deno.mkdir(new URL("results/", HERE), { recursive: true });
  await Deno.writeTextFile(new URL("results/heap_analyze.md", HERE), md);
}

const TIME = "/usr/bin/time";
/** Set in children started under /usr/bin/time (it measures their peak RSS). */
const timed = Deno.args.includes("--timed");

async function hasTime(): Promise<boolean> {
  try {
    await Deno.stat(TIME);
    return true;
  } catch {
    return false;
  }
}

/** Runs a child under /usr/bin/time; its peak RSS replaces `maxRss`. */
async function runMeasured<T extends { maxRss: number }>(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<T> {
  const timed = await hasTime();
  const measured = await timeCommand(
    cmd,
    timed ? [...args, "--timed"] : args,
    options,
  );
  const result = resultOf<T>(measured.stdout);
  if (timed) result.maxRss = measured.maxRss;
  return result;
}

/** A command's output, wall time and peak RSS (0 without GNU time). */
interface TimedRun {
  stdout: string;
  ms: number;
  maxRss: number;
}

/** Runs a command to the end under GNU time, when installed. */
async function timeCommand(
  cmd: string,
  args: string[],
  options: RunOptions = {},
): Promise<TimedRun> {
  if (!(await hasTime())) {
    const started = performance.now();
    const stdout = await run(cmd, args, options);
    return { stdout, ms: performance.now() - started, maxRss: 0 };
  }
  const report = await Deno.makeTempFile({ suffix: ".time" });
  try {
    const started = performance.now();
    const stdout = await run(
      TIME,
      ["-f", "%M", "-o", report, cmd, ...args],
      options,
    );
    const ms = performance.now() - started;
    const maxRss =
      Number((await Deno.readTextFile(report)).trim().split("\n").at(-1)) *
      1024;
    return { stdout, ms, maxRss };
  } finally {
    await Deno.remove(report);
  }
}

/**
 * Runs this script as a measured child: `command` is its mode and that
 * mode's arguments, `permissions` all it may do.
 */
function runChild<T extends { maxRss: number }>(
  permissions: string[],
  command: string[],
): Promise<T> {
  const self = new URL(import.meta.url).pathname;
  return runMeasured<T>(Deno.execPath(), [
    "run",
    ...permissions,
    self,
    ...command,
  ]);
}

/** Where a command runs; `stderr: true` appends its stderr to the output. */
interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  stderr?: boolean;
}

async function run(
  cmd: string,
  args: string[],
  options: RunOptions = {},
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${out.code}):\n${stderr}\n${stdout}`,
    );
  }
  return options.stderr ? `${stdout}\n${stderr}` : stdout;
}

function resultOf<T>(stdout: string): T {
  const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`No RESULT line in:\n${stdout.slice(-2000)}`);
  return JSON.parse(line.slice(7));
}

async function ensureMemlab(dir: string): Promise<void> {
  const markers = ["api", "cli"].map((name) =>
    `${dir}/node_modules/@memlab/${name}/package.json`
  );
  try {
    const versions = await Promise.all(
      markers.map(async (m) => JSON.parse(await Deno.readTextFile(m)).version),
    );
    if (versions.every((v) => v === MEMLAB_VERSION)) return;
  } catch {
    // Not installed yet.
  }
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/package.json`, '{"private":true}\n');
  console.error(`installing memlab ${MEMLAB_VERSION} into ${dir} ...`);
  await run("npm", [
    "install",
    "--ignore-scripts",
    "--no-audit",
    "--no-fund",
    `@memlab/heap-analysis@${MEMLAB_VERSION}`,
    `@memlab/core@${MEMLAB_VERSION}`,
    `@memlab/api@${MEMLAB_VERSION}`,
    `@memlab/cli@${MEMLAB_VERSION}`,
  ], { cwd: dir, env: { PUPPETEER_SKIP_DOWNLOAD: "1" } });
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function s(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function verdict(ok: boolean): string {
  return ok ? "✅" : "❌ not met";
}

// ------------------------------------------------ analyze vs memlab's CLI

/**
 * The trios of the command-line comparison: each final snapshot ≥ 100 MB
 * (Deno writes about half of Node's bytes per visit).
 */
const CLI_TRIOS: { runtime: Runtime; label: string; visits: number }[] = [
  { runtime: "node-cjs", label: "Node CommonJS", visits: 220_000 },
  { runtime: "deno", label: "Deno", visits: 200_000 },
];

/** The `analyze` task's `deno run` flags, as deno.json has them. */
async function analyzeTaskFlags(): Promise<string[]> {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  );
  const words = (config.tasks.analyze.command as string).split(/\s+/);
  return words.slice(words.indexOf("run") + 1, words.indexOf("main.ts"));
}

/** The first holder `analyze --json` names, with its group's size. */
function ourLeak(stdout: string): string {
  const { leaks } = JSON.parse(stdout) as {
    leaks: { heldBy: string; objects: string; count: number }[];
  };
  const first = leaks[0];
  return first
    ? `${first.heldBy.split(" → ")[0]}: ${first.objects} × ${
      first.count.toLocaleString("en")
    }`
    : "none";
}

/** What memlab's find-leaks reported: leak count, and its first trace's variable. */
function memlabLeak(stdout: string): string {
  const plain = stripAnsi(stdout);
  const found = plain.match(/MemLab found (\d+) leak/);
  const cluster = plain.split(/--Similar leaks in this run: /)[1];
  if (!cluster) return found ? `${found[1]} leaks` : "no result";
  const size = cluster.match(/^(\d+)--/)?.[1] ?? "?";
  const variable = cluster.match(/--(\S+) \(variable\)--->/)?.[1];
  const property = cluster.match(/--(\S+) \(property\)--->/)?.[1];
  const holder = variable
    ? `${variable} (variable)`
    : property
    ? `.${property} (property)`
    : "no variable in the trace";
  return `${holder}, ${Number(size).toLocaleString("en")} similar`;
}

/** The object `analyze FILE --json` lists as largest, and its holder. */
function ourLargest(stdout: string): string {
  const { largest } = JSON.parse(stdout) as {
    largest: { label: string; heldBy: string }[];
  };
  return largest[0] ? `${largest[0].label}: ${largest[0].heldBy}` : "none";
}

/** The first object memlab's object-size lists, and who refers to it. */
function memlabLargest(stdout: string): string {
  const plain = stripAnsi(stdout);
  const line = plain.split("\n").find((l) => l.startsWith("· @"));
  if (!line) return "no result";
  const id = line.match(/^· (@\d+) (\S+)/);
  const refs = line.match(/refs: \[([^\]]*)\]/)?.[1];
  return `${id?.[2]} ${id?.[1]}: refs [${refs ?? ""}]`;
}

/**
 * Runs `analyze` and memlab's CLI on the same trios and returns the
 * markdown table.
 */
async function compareClis(work: string, memlabDir: string): Promise<string[]> {
  const flags = await analyzeTaskFlags();
  const memlab = `${memlabDir}/node_modules/@memlab/cli/bin/memlab.js`;
  // As `deno task analyze` started in the program's folder: files print
  // relative to it.
  const analyze = (args: string[], from: string) =>
    timeCommand(Deno.execPath(), [
      "run",
      ...flags,
      "main.ts",
      "analyze",
      ...args,
    ], {
      cwd: ROOT.pathname,
      env: { INIT_CWD: from },
    });
  const memlabRun = (args: string[], dir: string) =>
    timeCommand("node", [
      "--max-old-space-size=16384",
      memlab,
      ...args,
      "--work-dir",
      dir,
    ], {
      cwd: memlabDir,
      // memlab prints its progress and its findings on both streams.
      stderr: true,
    });
  const rows: string[] = [];
  for (const { runtime, label, visits } of CLI_TRIOS) {
    const dir = `${work}/cli-${runtime}`;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.mkdir(dir, { recursive: true });
    console.error(
      `${label}: writing baseline, target, final (${visits} visits) ...`,
    );
    const trio = await makeLeakTrio(runtime, dir, {
      visits,
      late: visits / 10,
    });
    const files = [trio.baseline, trio.target, trio.final];
    const size = (await Deno.stat(trio.final)).size;
    const memlabWork = `${dir}/memlab-work`;
    await Deno.mkdir(memlabWork, { recursive: true });
    const row = (command: string, r: TimedRun, named: string) =>
      `| ${label} | ${mb(size)} | ${command} | ${s(r.ms)} | ${mb(r.maxRss)} (${
        (r.maxRss / size).toFixed(2)
      }×) | ${named} |`;
    console.error(`${label}: analyze BASELINE TARGET FINAL ...`);
    const ours = await analyze([...files, "--json"], dir);
    rows.push(
      row("`analyze BASELINE TARGET FINAL`", ours, ourLeak(ours.stdout)),
    );
    const trioArgs = [
      "--baseline",
      trio.baseline,
      "--target",
      trio.target,
      "--final",
      trio.final,
    ];
    console.error(`${label}: memlab find-leaks ...`);
    const theirs = await memlabRun(["find-leaks", ...trioArgs], memlabWork);
    rows.push(row("`memlab find-leaks`", theirs, memlabLeak(theirs.stdout)));
    console.error(`${label}: memlab find-leaks --trace-all-objects ...`);
    const all = await memlabRun([
      "find-leaks",
      ...trioArgs,
      "--trace-all-objects",
    ], memlabWork);
    rows.push(
      row(
        "`memlab find-leaks --trace-all-objects`",
        all,
        memlabLeak(all.stdout),
      ),
    );
    console.error(`${label}: analyze FINAL ...`);
    const summary = await analyze([trio.final, "--json"], dir);
    rows.push(row("`analyze FINAL`", summary, ourLargest(summary.stdout)));
    console.error(`${label}: memlab analyze object-size ...`);
    const sizes = await memlabRun([
      "analyze",
      "object-size",
      "--snapshot",
      trio.final,
    ], memlabWork);
    rows.push(
      row("`memlab analyze object-size`", sizes, memlabLargest(sizes.stdout)),
    );
    await Deno.remove(dir, { recursive: true });
  }
  return rows;
}

/** The CLI comparison's report. */
async function cliReport(rows: string[]): Promise<string> {
  const load = Deno.loadavg().map((l) => l.toFixed(1)).join(" ");
  return [
    `## \`analyze\` vs memlab's CLI on the same snapshot files`,
    ``,
    `${new Date().toISOString().slice(0, 10)}, Deno ${Deno.version.deno}, ${
      (await run("node", ["--version"])).trim()
    }, memlab ${MEMLAB_VERSION}, ${navigator.hardwareConcurrency} cores, load average ${load} at the end. Each trio is written by a program that keeps every visit in a module-level Map \`seen\` between the baseline and the target snapshot, then pushes a tenth as many entries to \`late\` before the final one (bench/leak_program.ts). Wall time is the whole command, start-up included; peak RSS is GNU time's %M; × is peak RSS over the final snapshot's size. memlab runs under \`node --max-old-space-size=16384\`.`,
    ``,
    `| trio | final size | command | wall time | peak RSS (× final) | leak named |`,
    `| --- | --- | --- | --- | --- | --- |`,
    ...rows,
    ``,
  ].join("\n");
}

async function main(): Promise<void> {
  const work = Deno.env.get("HEAP_BENCH_DIR") ?? "/tmp/heap-bench";
  const memlabDir = `${work}/memlab-${MEMLAB_VERSION}`;
  await Deno.mkdir(work, { recursive: true });
  await ensureMemlab(memlabDir);
  await Deno.writeTextFile(`${memlabDir}/run.js`, MEMLAB_SCRIPT);
  await Deno.writeTextFile(`${memlabDir}/leaks.js`, MEMLAB_LEAKS_SCRIPT);
  const heapDir = HEAP_DIR.pathname;
  const idle = await runChild<{ maxRss: number }>([], ["idle"]);
  // The snapshot-making children read the analysis worker's source, ask
  // the system for memory figures and write the snapshots.
  const capturing = [
    "--allow-sys",
    `--allow-read=${heapDir}`,
    `--allow-write=${work}`,
  ];

  const rows: string[] = [];
  const capture: string[] = [];
  const checks: string[] = [];
  const leakRows: string[] = [];
  const factors: number[] = [];
  for (const { label, users } of TARGET_USERS) {
    const file = `${work}/cache-${users}.heapsnapshot`;
    console.error(`${label}: making snapshot (${users} users) ...`);
    const made = await runChild<MakeResult>(capturing, [
      "make",
      String(users),
      file,
    ]);
    console.error(`${label}: heap.top() in-process ...`);
    const topRun = await runChild<TopResult>(
      ["--allow-sys", `--allow-read=${heapDir}`],
      ["top", String(users)],
    );
    console.error(`${label}: our analysis ...`);
    const ours = await runChild<AnalyseResult>(
      [`--allow-read=${file},${ROOT.pathname}`],
      ["analyse", file],
    );
    console.error(`${label}: memlab ...`);
    const theirs = await runMeasured<AnalyseResult>("node", [
      "--max-old-space-size=16384",
      `${memlabDir}/run.js`,
      file,
      JSON.stringify(Object.keys(ours.retained)),
      String(ours.targetId),
    ], { cwd: memlabDir });

    const size = made.bytes;
    const parseRate = size / 1e6 / (ours.parseMs! / 1000);
    const speedup = theirs.totalMs / ours.totalMs;
    const memRatio = ours.maxRss / size;
    let worst = 0;
    let worstId = "";
    for (const [id, value] of Object.entries(ours.retained)) {
      const other = theirs.retained[id] ?? -1;
      const diff = Math.abs(value - other) / Math.max(other, 1);
      if (diff > worst) {
        worst = diff;
        worstId = id;
      }
    }
    const totalDiff = Math.abs(ours.totalRetained - theirs.totalRetained) /
      theirs.totalRetained;
    rows.push(
      `| ${label} | ${mb(size)} | ${ours.nodeCount.toLocaleString("en")} | ${
        parseRate.toFixed(0)
      } MB/s | ${s(ours.parseMs!)} + ${s(ours.analyseMs!)} + ${
        s(ours.queryMs)
      } = **${s(ours.totalMs)}** | ${s(theirs.totalMs)} | **${
        speedup.toFixed(1)
      }×** | ${mb(ours.maxRss)} (${memRatio.toFixed(2)}×) | ${
        mb(theirs.maxRss)
      } (${(theirs.maxRss / size).toFixed(2)}×) | ${
        (worst * 100).toFixed(3)
      }% | ${
        (totalDiff * 100).toFixed(3)
      }% | ${ours.pathLength} / ${theirs.pathLength} | ${ours.userCount} / ${theirs.userCount} |`,
    );
    const factor = (made.maxRss - made.rssBefore) / made.heapUsed;
    const topFactor = (topRun.maxRss - topRun.rssBefore) / topRun.heapUsed;
    capture.push(
      `| ${label} | ${mb(made.heapUsed)} | ${mb(size)} | ${s(made.pauseMs)} | ${
        mb(made.maxRss)
      } | ${factor.toFixed(1)}× heap used (${
        ((made.maxRss - made.rssBefore) / size).toFixed(1)
      }× snapshot) | ${s(topRun.ms)}, ${mb(topRun.maxRss)}, ${
        topFactor.toFixed(1)
      }× heap used |`,
    );
    factors.push(factor, topFactor);
    checks.push(
      `- ${label}: parse ${parseRate.toFixed(0)} MB/s ≥ 150 ${
        verdict(parseRate >= 150)
      }; ` +
        `${speedup.toFixed(1)}× faster than memlab ≥ 5× ${
          verdict(speedup >= 5)
        }; ` +
        `peak RSS ${memRatio.toFixed(2)}× snapshot ≤ 3× ${
          verdict(memRatio <= 3)
        } ` +
        `(${
          ((ours.maxRss - idle.maxRss) / size).toFixed(2)
        }× above an idle Deno's ${mb(idle.maxRss)}); ` +
        `retained sizes within ${
          (Math.max(worst, totalDiff) * 100).toFixed(3)
        }% ≤ 0.5% ${verdict(worst <= 0.005 && totalDiff <= 0.005)}${
          worst > 0.005 ? ` (worst id @${worstId})` : ""
        }`,
    );
    console.error(`${label}: leak finding (baseline, target, final) ...`);
    const prefix = `${work}/leaks-${users}`;
    await runChild<{ maxRss: number }>(capturing, [
      "make3",
      String(users),
      prefix,
    ]);
    const leakFiles = ["baseline", "target", "final"].map((tag) =>
      `${prefix}-${tag}.heapsnapshot`
    );
    const ourLeaks = await runChild<LeaksResult>(
      [`--allow-read=${work},${ROOT.pathname}`],
      ["leaks", leakFiles[0]!, leakFiles[2]!],
    );
    const memlabWork = `${work}/memlab-work-${users}`;
    await Deno.mkdir(memlabWork, { recursive: true });
    const theirLeaks = await runMeasured<LeaksResult>("node", [
      "--max-old-space-size=16384",
      `${memlabDir}/leaks.js`,
      ...leakFiles,
    ], { cwd: memlabDir, env: { MEMLAB_WORK_DIR: memlabWork } });
    const leakSpeedup = theirLeaks.totalMs / ourLeaks.totalMs;
    const finalSize = (await Deno.stat(leakFiles[2]!)).size;
    leakRows.push(
      `| ${label} | ${mb(finalSize)} | **${s(ourLeaks.totalMs)}** | ${
        mb(ourLeaks.maxRss)
      } | ${ourLeaks.firstName} × ${ourLeaks.firstCount} (${ourLeaks.groups} groups) | ${
        s(theirLeaks.totalMs)
      } | ${mb(theirLeaks.maxRss)} | ${theirLeaks.groups} leak clusters | **${
        leakSpeedup.toFixed(1)
      }×** |`,
    );
    checks.push(
      `- ${label} leaks: ${leakSpeedup.toFixed(1)}× faster than memlab ≥ 5× ${
        verdict(leakSpeedup >= 5)
      }; first group ${ourLeaks.firstName} × ${ourLeaks.firstCount} (${
        users / 2
      } users added after the baseline)`,
    );
    for (const f of leakFiles) await Deno.remove(f);
    await Deno.remove(memlabWork, { recursive: true });
    const largest = ours.largest!.slice(0, 3).map((r) =>
      `${r.label} ${mb(r.retained)}`
    ).join(", ");
    checks.push(`  - largest retainers: ${largest}`);
  }

  const md = [
    `# Heap analysis benchmark`,
    ``,
    `${
      new Date().toISOString().slice(0, 10)
    }, Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${
      (await run("node", ["--version"])).trim()
    }, memlab ${MEMLAB_VERSION}, ${navigator.hardwareConcurrency} cores. Each analyser runs in a fresh child process; peak RSS is that process's maximum resident set size (GNU time %M), so ours includes the Deno runtime itself (an idle \`deno run\` peaks at ${
      mb(idle.maxRss)
    }).`,
    ``,
    `## Analysis (census + retaining path + dominators/retained sizes)`,
    ``,
    `| snapshot | size | nodes | our parse rate | ours: parse + analyse + queries | memlab | speed-up | our peak RSS (× size) | memlab peak RSS (× size) | retained diff, top ${LARGEST_N} by id | root total diff | path hops ours / memlab | User count ours / memlab |`,
    `| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |`,
    ...rows,
    ``,
    `## Leak finding (\`heap.leaks()\` vs memlab \`findLeaksBySnapshotFilePaths\`)`,
    ``,
    `Baseline snapshot with half the users, then the other half added; target and final snapshots after that. Ours: one \`heap.leaks()\` call's analysis (parse + analyse the final snapshot, group objects newer than the baseline's highest id; the baseline call is an earlier call). memlab: its own three-snapshot leak finding (default leak filter).`,
    ``,
    `| snapshot | final size | ours: parse + analyse + leaks | our peak RSS | our first group | memlab find-leaks | memlab peak RSS | memlab result | speed-up |`,
    `| --- | --- | --- | --- | --- | --- | --- | --- | --- |`,
    ...leakRows,
    ``,
    `## Capture (in-process, \`HeapProfiler.takeHeapSnapshot\` through the toolkit)`,
    ``,
    `| snapshot | heap used | snapshot size | process paused | peak RSS of the process | capture memory factor (peak RSS − RSS before) | \`heap.top()\` (capture + worker analysis): time, peak RSS, factor |`,
    `| --- | --- | --- | --- | --- | --- | --- |`,
    ...capture,
    ``,
    `Highest measured factor: ${
      Math.max(...factors).toFixed(1)
    }× heap used. The toolkit refuses a capture when ${CAPTURE_MEMORY_FACTOR}× heap used + 64 MiB exceeds the memory available.`,
    ``,
    `## Targets`,
    ``,
    ...checks,
    ``,
    await cliReport(await compareClis(work, memlabDir)),
  ].join("\n");
  console.log(md);
  await Deno.mkdir(new URL("results/", HERE), { recursive: true });
  await Deno.writeTextFile(new URL("results/heap.md", HERE), md);
}

if (import.meta.main) {
  const [mode, ...args] = Deno.args;
  if (mode === "make") await make(Number(args[0]), args[1]!);
  else if (mode === "top") await top(Number(args[0]));
  else if (mode === "make3") await makeThree(Number(args[0]), args[1]!);
  else if (mode === "leaks") await leaksChild(args[0]!, args[1]!);
  else if (mode === "analyse") await analyse(args[0]!);
  else if (mode === "cli") await cliOnly();
  else if (mode === "idle") {
    console.log(
      `RESULT ${JSON.stringify({ maxRss: timed ? 0 : await selfMaxRss() })}`,
    );
  } else await main();
}
