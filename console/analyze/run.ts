/**
 * The `analyze` subcommand: heap snapshot files from Chrome, Node or Deno
 * read offline with the console's own analysis, and its reports printed
 * as the console prints them (or as JSON).
 *
 * @module
 */

import { readEnv, UsageError } from "../flags.ts";
import { HeapAnalysis } from "../heap/analysis.ts";
import type { RawSnapshot } from "../heap/parser.ts";
import type { ProgressFn } from "../heap/progress.ts";
import { free } from "../heap/scratch.ts";
import {
  compareIds,
  type SnapshotIds,
  snapshotIds,
} from "../heap/snapshot_ids.ts";
import { ProgressLine } from "../client/progress_bar.ts";
import {
  kindReport,
  largestReport,
  leakReport,
  pathReport,
  retainerDot,
  typeReport,
} from "../toolkit/heap.ts";
import { formatBytes, formatCount } from "../toolkit/report.ts";
import {
  ANALYZE_HELP,
  type AnalyzeConfig,
  type AnalyzeReport,
  parseAnalyzeArgs,
} from "./flags.ts";
import { consoleOwnershipIn } from "./console_scripts.ts";
import { readSnapshotFile, type SnapshotFile } from "./snapshot_file.ts";

export { ANALYZE_HELP } from "./flags.ts";

/** What a report prints: text for people, a value for `--json`. */
interface Output {
  text: string;
  json: unknown;
}

/** The most progress redraws a second. */
const REDRAW_MS = 100;

/**
 * Runs `main.ts analyze`: prints the report on stdout, progress on stderr
 * when it is a terminal.
 *
 * @example
 * ```ts ignore
 * import { runAnalyze } from "./run.ts";
 * Deno.exit(await runAnalyze(["app.heapsnapshot", "--rows", "5"]));
 * ```
 *
 * @param args The arguments after `analyze`.
 * @returns The exit code: 0.
 * @throws {UsageError} On bad flags, a bad file, snapshots that cannot be
 *   compared or an object that is not there (`main` prints it, exits 2).
 */
export async function runAnalyze(args: string[]): Promise<number> {
  enterInvocationDirectory();
  const config = parseAnalyzeArgs(args);
  if (config === "help") {
    writeOut(ANALYZE_HELP);
    return 0;
  }
  const bar = Deno.stderr.isTerminal()
    ? new ProgressLine(writeErr, terminalColumns)
    : undefined;
  let output: Output;
  try {
    output = await report(config, throttled(bar));
  } finally {
    bar?.clear();
  }
  writeOut(
    config.json ? `${JSON.stringify(output.json)}\n` : `${output.text}\n`,
  );
  return 0;
}

function report(config: AnalyzeConfig, progress: ProgressFn): Promise<Output> {
  const { report } = config;
  switch (report.kind) {
    case "summary":
      return summaryReport(report.file, config, progress);
    case "leaks":
      return leaksReport(report, config, progress);
    case "path":
    case "graph":
      return objectReport(report, config, progress);
  }
}

/** One snapshot: the most common types, largest objects, largest kinds. */
async function summaryReport(
  path: string,
  config: AnalyzeConfig,
  progress: ProgressFn,
): Promise<Output> {
  const file = await readSnapshotFile(path, progress);
  const analysis = analyse(file, progress);
  const scope = { all: config.all };
  const summary = analysis.summary();
  const top = typeReport(analysis.top(config.rows, scope));
  const largest = await largestReport(analysis.largest(config.rows, scope));
  const kinds = await kindReport(analysis.largestGroups(config.rows, scope));
  const console = summary.consoleCount > 0 && !config.all
    ? ` (${
      formatCount(summary.consoleCount)
    } of the leakwatch console's own left out; --all keeps them)`
    : "";
  const text = [
    `${path}: ${formatBytes(file.bytes)}${file.gzip ? " gzipped" : ""}, ${
      formatCount(summary.reachableCount)
    } live objects, ${formatBytes(summary.reachableSize)}${console}`,
    "",
    "most common types:",
    Deno.inspect(top),
    "",
    "largest objects:",
    Deno.inspect(largest),
    "",
    "largest kinds of objects (retained size, nested instances counted once):",
    Deno.inspect(kinds),
  ].join("\n");
  return {
    text,
    json: { file: path, bytes: file.bytes, summary, top, largest, kinds },
  };
}

/**
 * Two or three snapshots: what was allocated after the baseline (and up to
 * the target) and is alive in the final one, by holder.
 */
async function leaksReport(
  files: Extract<AnalyzeReport, { kind: "leaks" }>,
  config: AnalyzeConfig,
  progress: ProgressFn,
): Promise<Output> {
  const baseline = await readIds(files.baseline, progress);
  let previous = baseline;
  let until: number | undefined;
  if (files.target !== undefined) {
    const target = await readSnapshotFile(files.target, progress);
    previous = comparable(previous, target);
    release(target.raw);
    until = previous.ids.last;
  }
  const final = await readSnapshotFile(files.final, progress);
  comparable(previous, final);
  const analysis = analyse(final, progress);
  const groups = analysis.leaks(baseline.ids.last, config.rows, {
    all: config.all,
    until,
  });
  const leaks = await leakReport(groups);
  const method = files.target === undefined
    ? `objects allocated after ${files.baseline} and alive in ${files.final}`
    : `objects allocated between ${files.baseline} and ${files.target} and alive in ${files.final} (memlab's method)`;
  return {
    text: `${method}\n${Deno.inspect(leaks)}`,
    json: {
      baseline: files.baseline,
      ...(files.target !== undefined ? { target: files.target } : {}),
      final: files.final,
      since: baseline.ids.last,
      ...(until !== undefined ? { until } : {}),
      leaks,
    },
  };
}

/** One object of one snapshot: its retaining path, or its retainers as DOT. */
async function objectReport(
  report: Extract<AnalyzeReport, { kind: "path" | "graph" }>,
  config: AnalyzeConfig,
  progress: ProgressFn,
): Promise<Output> {
  const file = await readSnapshotFile(report.file, progress);
  const analysis = analyse(file, progress);
  const scope = { all: config.all };
  const node = analysis.resolve(report.object, scope);
  if (node < 0) {
    throw new UsageError(
      typeof report.object === "number"
        ? `no object @${report.object} in ${report.file}`
        : `no live object of type ${
          JSON.stringify(report.object.slice(0, 80))
        } in ${report.file}`,
    );
  }
  if (report.kind === "path") {
    const path = await pathReport(analysis.path(node));
    return { text: Deno.inspect(path), json: { file: report.file, path } };
  }
  const graph = analysis.retainerGraph(node, { depth: report.depth, ...scope });
  const dot = await retainerDot(graph);
  return { text: dot.trimEnd(), json: { file: report.file, graph, dot } };
}

interface ReadIds {
  path: string;
  ids: SnapshotIds;
}

/** Reads a snapshot only for its ids (the rest is freed at once). */
async function readIds(path: string, progress: ProgressFn): Promise<ReadIds> {
  const file = await readSnapshotFile(path, progress);
  const ids = snapshotIds(file.raw);
  release(file.raw);
  return { path, ids };
}

/**
 * Frees a snapshot's arrays now rather than at the garbage collector's
 * leisure: the next snapshot must not parse on top of this one, or the
 * peak would be two snapshots.
 */
function release(raw: RawSnapshot): void {
  for (const array of [raw.nodes, raw.edges, raw.locations]) free(array);
  raw.strings.dispose();
}

/**
 * Checks that `later` was taken after `earlier` by the same process, and
 * returns `later`'s ids.
 */
function comparable(earlier: ReadIds, later: SnapshotFile): ReadIds {
  const verdict = compareIds(earlier.ids, later.raw);
  if (!verdict.sameProcess) {
    throw new UsageError(
      `${earlier.path} and ${later.path} cannot be compared: ${verdict.reason}. Leaks are found by object id, which only the snapshots of one process share`,
    );
  }
  return { path: later.path, ids: snapshotIds(later.raw) };
}

/** The analysis of a snapshot, the leakwatch console's objects marked. */
function analyse(file: SnapshotFile, progress: ProgressFn): HeapAnalysis {
  try {
    return HeapAnalysis.from(file.raw, progress, consoleOwnershipIn(file.raw));
  } catch (error) {
    // A malformed snapshot fails here: a line about the file, no stack.
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${file.path}: ${message.split("\n")[0]}`);
  }
}

/**
 * Goes back to the directory `deno task` was started in (it runs tasks in
 * the project's folder and says where it started in `INIT_CWD`): relative
 * paths then mean what the user meant, and files print relative to it.
 */
function enterInvocationDirectory(): void {
  const start = readEnv("INIT_CWD");
  if (!start) return;
  try {
    Deno.chdir(start);
  } catch {
    // Not readable under a narrower --allow-read: paths stay as given.
  }
}

/** Progress to the bar, redrawn at most every {@link REDRAW_MS}. */
function throttled(bar: ProgressLine | undefined): ProgressFn {
  if (!bar) return () => {};
  let last = 0;
  let lastLabel = "";
  return (label, done, total) => {
    const now = performance.now();
    if (label === lastLabel && now - last < REDRAW_MS && done < total) return;
    last = now;
    lastLabel = label;
    bar.update(label, done, total);
  };
}

const encoder = new TextEncoder();

function writeOut(text: string): void {
  writeAll(Deno.stdout, text);
}

function writeErr(text: string): void {
  writeAll(Deno.stderr, text);
}

function writeAll(stream: typeof Deno.stdout, text: string): void {
  const bytes = encoder.encode(text);
  try {
    let at = 0;
    while (at < bytes.length) at += stream.writeSync(bytes.subarray(at));
  } catch (error) {
    // A reader that went away (`analyze ... | head`) wants no more.
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
  }
}

function terminalColumns(): number | undefined {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return undefined;
  }
}
