/**
 * The `heap.*` helpers: census, growth, retaining paths, largest retainers,
 * retainer graphs and raw snapshots, each from a fresh heap snapshot that the
 * analysis worker parses and analyses.
 *
 * @module
 */

import { ensurePrivateDirectory, stateDirectory } from "../state_dir.ts";
import { freshFileName } from "../private_file.ts";
import { captureToFile } from "./capture.ts";
import type {
  ClassDelta,
  LargeGroup,
  LargeObject,
  LeakGroup,
  RetainerGraph,
  RetainingPath,
  SnapshotSummary,
} from "../heap/analysis.ts";
import { renderDot } from "../heap/dot.ts";
import type { Holder, Ownership } from "../heap/holders.ts";
import type { ClassStats } from "../heap/census.ts";
import type { AnalysisClient } from "../heap/worker_client.ts";
import type { ProgressFn } from "../heap/progress.ts";
import { analysisClient, capture } from "./capture.ts";
import {
  type Column,
  formatBytes,
  formatCount,
  renderTable,
  withInspect,
} from "./report.ts";
import { exclusive } from "./inspector.ts";
import { heapObjectId } from "./inspector_handles.ts";
import { fileUrlPath, mapToSource } from "./source_positions.ts";

/** Options shared by the snapshot-based helpers. */
export interface SnapshotOptions {
  /**
   * Answer from the snapshot the worker analysed last instead of taking a
   * new one (faster; possibly stale). Default false.
   */
  reuse?: boolean;
  /**
   * Include the console's own objects (its closures, caches, the toolkit):
   * left out by default. A session's own variables are always shown.
   */
  all?: boolean;
}

/** Options for `heap.graph()`. */
export interface GraphOptions extends SnapshotOptions {
  /** Retainer hops to follow back from the target (default 4). */
  depth?: number;
  /** At most this many nodes (default 40). */
  maxNodes?: number;
}

/** Options for `heap.growth()`. */
export interface GrowthOptions extends SnapshotOptions {
  /**
   * objgraph's peak rule: report a type only when its count rises above
   * the highest count seen so far, so one that dropped and refilled is not
   * reported again. Default false: compare with the previous call.
   */
  peak?: boolean;
}

/** Options for `heap.largest()`. */
export interface LargestOptions extends SnapshotOptions {
  /**
   * `"object"` (default): single objects; `"kind"`: retained size added up
   * by constructor, closures by function, nested instances counted once.
   */
  by?: "object" | "kind";
}

/** Options for `heap.leaks()`. */
export interface LeaksOptions {
  /** Include the console's own objects. */
  all?: boolean;
  /** Start a new baseline now instead of comparing with the current one. */
  reset?: boolean;
}

/** One row of `heap.growth()`. */
export interface GrowthRow {
  /** Class name. */
  type: string;
  /** Instances now. */
  count: number;
  /** Instances more than at the previous call (or above the peak). */
  increase: number;
  /** Shallow bytes now. */
  size: number;
  /** Shallow bytes more (or fewer, negative) than at the previous call. */
  sizeDelta: number;
  /** Instances allocated since the previous call and alive now. */
  new: number;
  /** Their shallow bytes. */
  newSize: number;
  /** Instances of the previous call that are gone. */
  freed: number;
  /** Their shallow bytes. */
  freedSize: number;
}

/** A holder as printed: `cache (lib/users.ts)`, `startPoller (poller.ts:7)`. */
export interface HolderName {
  /** What kind of binding holds it: `export`, `module`, `closure`, `context`, `session`. */
  kind: Holder["kind"];
  /** The name as printed. */
  text: string;
  /** The file, relative to the working directory when under it. */
  file?: string;
  /** Closures: 1-based line in the `.ts` source (or the code V8 runs, unmapped). */
  line?: number;
}

/** One row of `heap.largest()`. */
export interface LargestRow extends LargeObject {
  /** Who holds it, in the developer's terms. */
  heldBy: string;
}

/** One row of `heap.largest(n, { by: "kind" })`. */
export interface KindRow extends LargeGroup {
  /** The kind as printed: `Map`, `(closure) startPoller (poller.ts:7)`. */
  name: string;
}

/** One group of `heap.leaks()`. */
export interface LeakRow extends LeakGroup {
  /** The holder as printed, e.g. `cache (lib/users.ts)`. */
  heldBy: string;
  /** What the objects are: `Object`, `(closure) tick (poller.ts:9)`. */
  objects: string;
}

/** What `heap.graph()` returns. */
export interface GraphReport {
  /** The target node. */
  target: string;
  /** Where the DOT source was written. */
  dotFile: string;
  /** Where the rendered image was written, if it was. */
  imageFile: string | null;
  /** Why no image was made, if none was. */
  note: string | null;
  /** The DOT source. */
  dot: string;
}

/** What `heap.snapshot()` returns. */
export interface SnapshotReport {
  /** The `.heapsnapshot` file (opens in Chrome DevTools › Memory › Load). */
  path: string;
  /** Its size in bytes. */
  bytes: number;
  /** How long the process was blocked capturing it, in ms. */
  pauseMs: number;
}

/** A row of `heap.top()`: a class with its instance count and sizes. */
export interface TypeRow {
  /** Class name: constructor name, `(string)`, `(array)`, `(closure)`... */
  type: string;
  /** Live instances. */
  count: number;
  /** Sum of shallow sizes in bytes. */
  shallowSize: number;
  /** Retained size in bytes (nested instances counted once). */
  retainedSize: number;
}

/** The heap helpers of one console session. */
export interface HeapHelpers {
  /**
   * Most common types: count, shallow and retained size.
   *
   * @param n Rows (default 10).
   * @param options Reuse the last snapshot; include the console's objects.
   * @returns Rows, most instances first.
   */
  top(n?: number, options?: SnapshotOptions): Promise<TypeRow[]>;
  /**
   * Types whose count rose since this session's previous call, with size
   * deltas, new and freed instances; the first call sets the baseline.
   *
   * @param n Rows (default 10).
   * @param options Reuse the last snapshot; the peak rule.
   * @returns Rows, largest increase first.
   */
  growth(n?: number, options?: GrowthOptions): Promise<GrowthRow[]>;
  /**
   * Shortest chain of strong references from a GC root to the target.
   *
   * @param target An object, or a type name (then its newest instance).
   * @param options Reuse the last snapshot.
   * @returns The path.
   */
  path(
    target: object | string,
    options?: SnapshotOptions,
  ): Promise<RetainingPath>;
  /**
   * Objects (or kinds of objects) retaining the most memory.
   *
   * @param n Rows (default 10).
   * @param options Reuse the last snapshot.
   * @returns Rows, largest first.
   */
  largest(
    n?: number,
    options?: LargestOptions & { by?: "object" },
  ): Promise<LargestRow[]>;
  /**
   * Kinds of objects retaining the most memory: by constructor, closures
   * by function, nested instances counted once.
   *
   * @param n Rows.
   * @param options `by: "kind"`; reuse the last snapshot.
   * @returns Rows, largest first.
   */
  largest(
    n: number | undefined,
    options: LargestOptions & { by: "kind" },
  ): Promise<KindRow[]>;
  /**
   * Objects allocated since this session's first call and alive now,
   * grouped by holder; the first call sets the baseline.
   *
   * @param n Groups (default 10).
   * @param options Include the console's objects; start a new baseline.
   * @returns Groups, largest retained size first.
   */
  leaks(n?: number, options?: LeaksOptions): Promise<LeakRow[]>;
  /**
   * Retainers around the target as Graphviz DOT (plus SVG/PNG by extension).
   *
   * @param target An object, or a type name.
   * @param file Output file: `.svg`/`.png` render with `dot`, else DOT only.
   * @param options Depth, size, reuse.
   * @returns Files written.
   */
  graph(
    target: object | string,
    file?: string,
    options?: GraphOptions,
  ): Promise<GraphReport>;
  /**
   * Writes a `.heapsnapshot` file that Chrome DevTools opens.
   *
   * @param file Destination (default: a new file in `~/.leakwatch/snapshots`, else the temp directory).
   * @returns Path and size.
   */
  snapshot(file?: string): Promise<SnapshotReport>;
}

/** The console's folder, as this process loaded it. */
const CONSOLE_ROOT = new URL("../", import.meta.url).href;

/**
 * This module's path under the console's folder (`toolkit/heap.ts`): every
 * snapshot the console captures holds its script, so a script URL ending in
 * `/console/` and this path tells where that console's folder was.
 */
export const CONSOLE_MARKER = import.meta.url.slice(CONSOLE_ROOT.length);

/**
 * What belongs to the console in a snapshot: the scripts under the
 * console's folder, the packages only it loads, and where a session keeps
 * its variables (shown as the session's).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { consoleOwnership } from "./heap.ts";
 * const ownership = consoleOwnership("file:///srv/app/console/");
 * assert.equal(ownership.consoleScripts?.[0], "file:///srv/app/console/");
 * ```
 *
 * @param root The console folder's URL (default: this process's).
 * @returns The ownership the analysis takes.
 */
export function consoleOwnership(root: string = CONSOLE_ROOT): Ownership {
  return {
    consoleScripts: [
      root,
      "/registry.npmjs.org/acorn/",
      "/registry.npmjs.org/sucrase/",
      "/node_modules/acorn/",
      "/node_modules/sucrase/",
    ],
    sessionSlots: [{ script: "/console/eval/scope.ts", variable: "vars" }],
  };
}

const OWNERSHIP: Ownership = consoleOwnership();

/** The last analysed snapshot's totals (the worker keeps one per process). */
let lastSummary: SnapshotSummary | undefined;

interface GrowthBaseline {
  since: number;
  types: Map<string, { count: number; size: number; peak: number }>;
}

/**
 * One console session's heap helpers (each a method: `top`, `growth`,
 * `path`, `largest`, `leaks`, `graph`, `snapshot`) and their state: the
 * growth and leaks baselines, and where capture and analysis progress goes.
 */
class HeapSession {
  growthBaseline: GrowthBaseline | undefined;
  leaksBaseline: number | undefined;

  constructor(readonly progress: ProgressFn) {}

  /**
   * Runs `fn` on an analysed snapshot, one capture at a time: a fresh one,
   * or the last one with `reuse` while the worker still holds it.
   */
  analysed<T>(
    what: string,
    options: SnapshotOptions | undefined,
    fn: (client: AnalysisClient, summary: SnapshotSummary) => Promise<T>,
  ): Promise<T> {
    return exclusive(async () => {
      const client = analysisClient();
      client.preflight();
      if (!options?.reuse || !client.hasSnapshot || !lastSummary) {
        lastSummary = undefined;
        const { chunks } = await capture(what, this.progress);
        lastSummary = await client.load(chunks, this.progress, OWNERSHIP);
      }
      return await fn(client, lastSummary);
    });
  }

  /** `heap.top()`: the most common types by count, with sizes. */
  top(n = 10, options?: SnapshotOptions): Promise<TypeRow[]> {
    checkCount("heap.top()", n);
    return this.analysed("heap.top()", options, async (client) => {
      const stats = await client.query<ClassStats[]>({
        kind: "top",
        n,
        all: options?.all,
      });
      return typeReport(stats);
    });
  }

  /** `heap.growth()`: what grew since this session's previous call. */
  growth(n = 10, options: GrowthOptions = {}): Promise<GrowthRow[]> {
    checkCount("heap.growth()", n);
    return this.analysed("heap.growth()", options, async (client, summary) => {
      const rows = await client.query<ClassDelta[]>({
        kind: "deltas",
        since: this.growthBaseline?.since ?? 0,
        all: options.all,
      });
      const previous = this.growthBaseline;
      const types = new Map<
        string,
        { count: number; size: number; peak: number }
      >();
      for (const r of rows) {
        const peak = Math.max(
          r.count,
          previous?.types.get(r.name)?.peak ?? 0,
        );
        types.set(r.name, { count: r.count, size: r.size, peak });
      }
      this.growthBaseline = { since: summary.maxNodeId, types };
      if (!previous) {
        let objects = 0;
        for (const r of rows) objects += r.count;
        return withInspect(
          [] as GrowthRow[],
          () =>
            `baseline set: ${formatCount(objects)} objects of ${
              formatCount(rows.length)
            } types; call heap.growth() again to see what grew`,
        );
      }
      const grown = growthRows(rows, previous, options.peak ?? false);
      const shown = grown.slice(0, n);
      return withInspect(shown, () => renderGrowth(shown, options.peak));
    });
  }

  /** `heap.path()`: the shortest retaining path from a GC root. */
  path(
    target: object | string,
    options?: SnapshotOptions,
  ): Promise<RetainingPath> {
    const handle = holdWeakly("heap.path()", target);
    return this.analysed("heap.path()", options, async (client) => {
      const key = await targetKey(handle);
      const path = await client.query<RetainingPath | null>({
        kind: "path",
        target: key,
        all: options?.all,
      });
      if (!path) throw notFound(handle);
      return await pathReport(path);
    });
  }

  /** `heap.largest()`: objects, or kinds of objects, retaining the most. */
  largest(
    n = 10,
    options: LargestOptions = {},
  ): Promise<LargestRow[] | KindRow[]> {
    checkCount("heap.largest()", n);
    const by = options.by ?? "object";
    if (by !== "object" && by !== "kind") {
      throw new TypeError(
        `heap.largest() takes by: "object" or "kind", got "${
          clip(String(by), 40)
        }"`,
      );
    }
    return this.analysed("heap.largest()", options, async (client) => {
      const query = {
        kind: by === "kind" ? "groups" : "largest",
        n,
        all: options.all,
      } as const;
      if (by === "kind") {
        return await kindReport(await client.query<LargeGroup[]>(query));
      }
      return await largestReport(await client.query<LargeObject[]>(query));
    });
  }

  /** `heap.leaks()`: objects born since the baseline and alive now, by holder. */
  leaks(n = 10, options: LeaksOptions = {}): Promise<LeakRow[]> {
    checkCount("heap.leaks()", n);
    return this.analysed("heap.leaks()", {}, async (client, summary) => {
      // Ids survive closing the inspector session (measured); should they
      // ever restart, the old baseline would mean nothing: set it again.
      const restarted = this.leaksBaseline !== undefined &&
        summary.maxNodeId < this.leaksBaseline;
      if (this.leaksBaseline === undefined || options.reset || restarted) {
        this.leaksBaseline = summary.maxNodeId;
        return withInspect(
          [] as LeakRow[],
          () =>
            `${
              restarted ? "heap ids restarted since the baseline: " : ""
            }leak baseline set (${
              formatCount(summary.reachableCount - summary.consoleCount)
            } live objects); run the suspect load, then call heap.leaks() again`,
        );
      }
      const groups = await client.query<LeakGroup[]>({
        kind: "leaks",
        since: this.leaksBaseline,
        n,
        all: options.all,
      });
      return await leakReport(groups);
    });
  }

  /** `heap.graph()`: the retainers around a target as DOT (and an image). */
  async graph(
    target: object | string,
    file?: string,
    options: GraphOptions = {},
  ): Promise<GraphReport> {
    const handle = holdWeakly("heap.graph()", target);
    const files = await graphFiles(file);
    return await this.analysed("heap.graph()", options, async (client) => {
      const key = await targetKey(handle);
      const found = await client.query<RetainerGraph | null>({
        kind: "graph",
        target: key,
        depth: options.depth,
        maxNodes: options.maxNodes,
        all: options.all,
      });
      if (!found) throw notFound(handle);
      const dot = await retainerDot(found);
      await Deno.writeTextFile(files.dot, dot);
      let imageFile: string | null = null;
      let note: string | null = null;
      if (files.image) {
        note = await renderImage(dot, files.image, files.format!);
        if (note === null) imageFile = files.image;
      }
      const report: GraphReport = {
        target: found.target.label,
        dotFile: files.dot,
        imageFile,
        note,
        dot,
      };
      return withInspect(report, () =>
        [
          `retainers of ${report.target}`,
          `  DOT:   ${report.dotFile}`,
          imageFile ? `  image: ${imageFile}` : `  image: none (${note})`,
        ].join("\n"));
    });
  }

  /** `heap.snapshot()`: a `.heapsnapshot` file for Chrome DevTools. */
  async snapshot(file?: string): Promise<SnapshotReport> {
    // Only a name: nothing is created before the capture is allowed.
    const path = file ??
      freshFileName(await outputDirectory(), "deno-heap-", ".heapsnapshot");
    ensureWritable("heap.snapshot()", path);
    return await exclusive(async () => {
      const written = await captureToFile(
        "heap.snapshot()",
        path,
        this.progress,
      );
      const report: SnapshotReport = {
        path: written.path,
        bytes: written.bytes,
        pauseMs: Math.round(written.pauseMs),
      };
      return withInspect(
        report,
        () =>
          `wrote ${
            formatBytes(report.bytes)
          } to ${report.path} (process paused ${report.pauseMs} ms); open it in Chrome DevTools › Memory › Load profile`,
      );
    });
  }
}

/**
 * Makes the heap helpers of one console session (its own growth and leaks
 * baselines).
 *
 * @param progress Receives capture, parse and analysis progress.
 * @returns The helpers.
 */
export function createHeap(progress: ProgressFn): HeapHelpers {
  const session = new HeapSession(progress);
  // A plain object of own functions, not the session itself: completing or
  // inspecting `heap` in the console shows exactly these, and the baselines
  // stay out of the operator's reach.
  return {
    top: (n, options) => session.top(n, options),
    growth: (n, options) => session.growth(n, options),
    path: (target, options) => session.path(target, options),
    largest:
      ((n?: number, options?: LargestOptions) =>
        session.largest(n, options)) as HeapHelpers["largest"],
    leaks: (n, options) => session.leaks(n, options),
    graph: (target, file, options) => session.graph(target, file, options),
    snapshot: (file) => session.snapshot(file),
  };
}

/**
 * `heap.top()`'s rows from a census: they print as a table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { typeReport } from "./heap.ts";
 * const rows = typeReport([
 *   { name: "Map", count: 2, shallowSize: 160, retainedSize: 4096 },
 * ]);
 * assert.equal(rows[0]!.type, "Map");
 * assert.match(Deno.inspect(rows), /^type +count +shallow +retained/);
 * ```
 *
 * @param stats The census rows, in the order to show.
 * @returns The rows.
 */
export function typeReport(stats: ClassStats[]): TypeRow[] {
  const rows: TypeRow[] = stats.map((s) => ({
    type: s.name,
    count: s.count,
    shallowSize: s.shallowSize,
    retainedSize: s.retainedSize,
  }));
  return withInspect(rows, () => typeTable(rows));
}

/**
 * `heap.path()`'s result: the path, printing hop by hop with its holders
 * named in the developer's terms.
 *
 * @example
 * ```ts ignore
 * console.log(await pathReport(analysis.path(node)));
 * ```
 *
 * @param path A retaining path.
 * @returns The same path.
 */
export async function pathReport(path: RetainingPath): Promise<RetainingPath> {
  const names = await holderNames(path.steps, (s) => [s.holder]);
  return withInspect(path, () => renderPath(path, names));
}

/**
 * `heap.largest(n, { by: "kind" })`'s rows: kinds named (closures by their
 * function's `.ts` position), printing as a table.
 *
 * @example
 * ```ts ignore
 * console.log(await kindReport(analysis.largestGroups(10)));
 * ```
 *
 * @param groups The kinds, largest first.
 * @returns The rows.
 */
export async function kindReport(groups: LargeGroup[]): Promise<KindRow[]> {
  const names = await holderNames(groups, (g) => [g.closure]);
  const rows: KindRow[] = groups.map((g) => ({
    ...g,
    name: g.closure ? `(closure) ${names.get(g.closure)!.text}` : g.kind,
  }));
  return withInspect(rows, () => renderKinds(rows));
}

/**
 * `heap.largest()`'s rows: each object with who holds it, printing as a
 * table.
 *
 * @example
 * ```ts ignore
 * console.log(await largestReport(analysis.largest(10)));
 * ```
 *
 * @param objects The objects, largest first.
 * @returns The rows.
 */
export async function largestReport(
  objects: LargeObject[],
): Promise<LargestRow[]> {
  const names = await holderNames(objects, (o) => [o.holder]);
  const rows: LargestRow[] = objects.map((o) => ({
    ...o,
    heldBy: heldByText(o.holder, o.via, names, o.path),
  }));
  return withInspect(rows, () => renderLargest(rows));
}

/**
 * `heap.leaks()`'s rows: each group with its holder and objects named,
 * printing as a table and the first group's example path.
 *
 * @example
 * ```ts ignore
 * console.log(await leakReport(analysis.leaks(baselineMaxId)));
 * ```
 *
 * @param groups The groups, largest first.
 * @returns The rows.
 */
export async function leakReport(groups: LeakGroup[]): Promise<LeakRow[]> {
  const names = await holderNames(groups, (g) => [
    g.holder,
    g.closure,
    ...g.example.steps.map((s) => s.holder),
  ]);
  const rows: LeakRow[] = groups.map((g) => ({
    ...g,
    heldBy: g.holder ? names.get(g.holder)!.text : "(no named holder)",
    objects: g.closure
      ? `(closure) ${names.get(g.closure)!.text}`
      : g.className,
  }));
  return withInspect(rows, () => renderLeaks(rows, names));
}

/**
 * `heap.graph()`'s drawing: the retainer graph as Graphviz DOT, nodes
 * labelled with their functions and the bindings that hold them.
 *
 * @example
 * ```ts ignore
 * const dot = await retainerDot(analysis.retainerGraph(node));
 * ```
 *
 * @param found The retainers around a node.
 * @returns The DOT source.
 */
export async function retainerDot(found: RetainerGraph): Promise<string> {
  const names = await holderNames(
    found.nodes,
    (n) => [n.holder, n.info.closure],
  );
  return renderDot(found, (node) => {
    const lines: string[] = [];
    if (node.info.closure) lines.push(names.get(node.info.closure)!.text);
    if (node.holder) lines.push(names.get(node.holder)!.text);
    return lines;
  });
}

function growthRows(
  rows: ClassDelta[],
  previous: GrowthBaseline,
  peakRule: boolean,
): GrowthRow[] {
  const out: GrowthRow[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    seen.add(r.name);
    const before = previous.types.get(r.name);
    const count = before?.count ?? 0;
    const size = before?.size ?? 0;
    const floor = peakRule ? before?.peak ?? 0 : count;
    if (r.count <= floor) continue;
    out.push({
      type: r.name,
      count: r.count,
      increase: r.count - floor,
      size: r.size,
      sizeDelta: r.size - size,
      new: r.newCount,
      newSize: r.newSize,
      freed: Math.max(0, count + r.newCount - r.count),
      freedSize: Math.max(0, size + r.newSize - r.size),
    });
  }
  out.sort((a, b) => b.increase - a.increase || b.sizeDelta - a.sizeDelta);
  return out;
}

/** Retained bytes, one column for every report so they read alike. */
const RETAINED_COLUMN: Column<{ retainedSize: number }> = {
  title: "retained",
  cell: (r) => formatBytes(r.retainedSize),
  right: true,
};

/** Instance counts, one column for every report so they read alike. */
const COUNT_COLUMN: Column<{ count: number }> = {
  title: "count",
  cell: (r) => formatCount(r.count),
  right: true,
};

function renderGrowth(rows: GrowthRow[], peak?: boolean): string {
  if (rows.length === 0) {
    return peak
      ? "no type rose above its peak since the last call"
      : "no type grew since the last call";
  }
  return renderTable<GrowthRow>(rows, [
    { title: "type", cell: (r) => r.type },
    COUNT_COLUMN,
    {
      title: peak ? "above peak" : "increase",
      cell: (r) => `+${formatCount(r.increase)}`,
      right: true,
    },
    { title: "size", cell: (r) => formatBytes(r.size), right: true },
    { title: "size Δ", cell: (r) => signedBytes(r.sizeDelta), right: true },
    { title: "new", cell: (r) => formatCount(r.new), right: true },
    { title: "freed", cell: (r) => formatCount(r.freed), right: true },
  ]);
}

function renderLargest(rows: LargestRow[]): string {
  return renderTable<LargestRow>(rows, [
    RETAINED_COLUMN,
    { title: "self", cell: (r) => formatBytes(r.selfSize), right: true },
    { title: "object", cell: (r) => r.label },
    { title: "held by", cell: (r) => r.heldBy },
  ]);
}

function renderKinds(rows: KindRow[]): string {
  return renderTable<KindRow>(rows, [
    RETAINED_COLUMN,
    COUNT_COLUMN,
    { title: "kind", cell: (r) => r.name },
  ]);
}

function renderLeaks(rows: LeakRow[], names: HolderNames): string {
  if (rows.length === 0) {
    return "no new objects alive since the baseline (weakly held ones do not count)";
  }
  const table = renderTable<LeakRow>(rows, [
    RETAINED_COLUMN,
    COUNT_COLUMN,
    { title: "objects", cell: (r) => r.objects },
    {
      title: "held by",
      cell: (r) =>
        clip(
          [r.heldBy, ...r.via].join(" → ") +
            (r.owner === "session" ? " (console session)" : ""),
          90,
        ),
    },
  ]);
  const [first] = rows;
  return [
    "objects allocated since the baseline and still alive, by holder:",
    table,
    `example of the first group:`,
    renderPath(first!.example, names),
  ].join("\n");
}

function signedBytes(bytes: number): string {
  return bytes > 0 ? `+${formatBytes(bytes)}` : formatBytes(bytes);
}

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

/** Printed names of holders, by holder object. */
type HolderNames = Map<Holder, HolderName>;

/**
 * Names every holder of the rows as printed, mapping closure positions to
 * the `.ts` source. Each result kind keeps its holders in other fields:
 * `holdersOf` lists a row's, undefined where it has none.
 */
async function holderNames<T>(
  rows: readonly T[],
  holdersOf: (row: T) => (Holder | undefined)[],
): Promise<HolderNames> {
  const names: HolderNames = new Map();
  for (const h of rows.flatMap(holdersOf)) {
    if (h && !names.has(h)) names.set(h, await holderName(h));
  }
  return names;
}

async function holderName(h: Holder): Promise<HolderName> {
  switch (h.kind) {
    case "export":
    case "module": {
      const file = h.url ? displayFile(h.url) : undefined;
      if (h.name === "") {
        return { kind: h.kind, text: `module ${file ?? "?"}`, file };
      }
      return {
        kind: h.kind,
        text: file ? `${h.name} (${file})` : h.name,
        file,
      };
    }
    case "closure": {
      const name = h.name === "" ? "(anonymous)" : h.name;
      if (!h.url) return { kind: h.kind, text: name };
      const at = await sourcePosition(h.url, h.line, h.column);
      return {
        kind: h.kind,
        text: `${name} (${at.file}${at.line ? `:${at.line}` : ""})`,
        file: at.file,
        line: at.line,
      };
    }
    case "global":
      return { kind: h.kind, text: `globalThis.${h.name}` };
    case "context":
      return { kind: h.kind, text: `context ${h.name}` };
    case "session":
      return { kind: h.kind, text: `${h.name} (console session)` };
  }
}

/**
 * Where a position in the code V8 runs (0-based) is in the `.ts` source,
 * for printing (the input position, 1-based, when no source map is found).
 */
async function sourcePosition(
  url: string,
  line: number | undefined,
  column: number | undefined,
): Promise<{ file: string; line?: number }> {
  if (line === undefined) return { file: displayFile(url) };
  const at = await mapToSource(url, line, column ?? 0);
  return { file: displayFile(at.url), line: at.line };
}

/** A script URL as a developer reads it: a path relative to the cwd if under it. */
function displayFile(url: string): string {
  if (url.startsWith("data:")) return clip(url, 40);
  // Node names CommonJS scripts by their path, ES modules by file URL.
  if (!url.startsWith("file://") && !url.startsWith("/")) return url;
  const path = url.startsWith("/") ? url : fileUrlPath(url);
  if (path === undefined) return url;
  // npm packages as `npm:name@version/file`, not their cache path.
  const npm = path.match(
    /\/registry\.npmjs\.org\/((?:@[^/]+\/)?[^/]+)\/([^/]+)\/(.+)$/,
  );
  if (npm) return `npm:${npm[1]}@${npm[2]}/${npm[3]}`;
  const base = workingDirectory();
  return base && path.startsWith(base) ? path.slice(base.length) : path;
}

let cwd: string | null | undefined;
function workingDirectory(): string | null {
  if (cwd !== undefined) return cwd;
  try {
    cwd = Deno.cwd().replace(/\/?$/, "/");
  } catch {
    // Without read permission on the cwd: the main module's folder.
    try {
      const main = new URL(".", Deno.mainModule);
      cwd = main.protocol === "file:"
        ? decodeURIComponent(main.pathname)
        : null;
    } catch {
      cwd = null;
    }
  }
  return cwd;
}

function heldByText(
  holder: Holder | undefined,
  via: string[],
  names: HolderNames,
  path: string,
): string {
  if (!holder) return path;
  const hops = via.length > 4
    ? [...via.slice(0, 1), "…", ...via.slice(-2)]
    : via;
  return [names.get(holder)!.text, ...hops].join(" → ");
}

/** Steps of a long path shown at each end; the rest is elided. */
const PATH_HEAD = 6;
const PATH_TAIL = 10;

/**
 * Renders a retaining path edge by edge, naming holders in the developer's
 * terms; a long path shows its root end and its target end, with the
 * middle elided (the returned data keeps every step).
 *
 * @param path The path.
 * @param names Printed names of the steps' holders.
 * @returns Lines of text.
 */
export function renderPath(
  path: RetainingPath,
  names: HolderNames = new Map(),
): string {
  const lines = [
    `path to ${path.target.label} (${
      formatBytes(path.target.retainedSize)
    } retained)${
      path.reachable
        ? `, ${
          path.steps.length - 1
        } references from the root, weak ones skipped:`
        : ": NOT reachable through strong references (held only weakly, or garbage)"
    }`,
  ];
  const steps = path.steps;
  const elide = steps.length > PATH_HEAD + PATH_TAIL + 1;
  for (const [i, step] of steps.entries()) {
    if (elide && i === PATH_HEAD) {
      lines.push(
        `    … ${
          formatCount(steps.length - PATH_HEAD - PATH_TAIL)
        } more references (all of them in the returned steps) …`,
      );
    }
    if (elide && i >= PATH_HEAD && i < steps.length - PATH_TAIL) continue;
    if (i === 0) {
      lines.push(`  ${step.node.label}`);
      continue;
    }
    const holder = step.holder ? names.get(step.holder) : undefined;
    const named = holder
      ? ` = ${holder.text}`
      : step.alias
      ? ` (also ${step.alias})`
      : "";
    const fn = step.node.closure && names.get(step.node.closure);
    const label = fn ? `${step.node.label} ${fn.text}` : step.node.label;
    lines.push(`    --${step.edge}--> ${label}${named}`);
  }
  return lines.join("\n");
}

function typeTable(rows: TypeRow[]): string {
  return renderTable<TypeRow>(rows, [
    { title: "type", cell: (r) => r.type },
    COUNT_COLUMN,
    { title: "shallow", cell: (r) => formatBytes(r.shallowSize), right: true },
    RETAINED_COLUMN,
  ]);
}

/**
 * A target as the helpers keep it: a type name, or a WeakRef so that the
 * toolkit's own closures never show up as the object's shortest retainer.
 */
type Handle = string | WeakRef<object>;

function holdWeakly(what: string, target: unknown): Handle {
  checkTarget(what, target);
  return typeof target === "string" ? target : new WeakRef(target as object);
}

async function targetKey(handle: Handle): Promise<number | string> {
  if (typeof handle === "string") return handle;
  const target = handle.deref();
  if (target === undefined) {
    throw new RangeError(
      "The target object was garbage-collected during the snapshot: nothing retains it",
    );
  }
  const id = await heapObjectId(target);
  if (!id) {
    throw new RangeError(
      "The target object has no heap snapshot id (was it created after the snapshot?)",
    );
  }
  return id;
}

function notFound(target: Handle): Error {
  if (typeof target !== "string") {
    return new RangeError("The target object is not in the heap snapshot");
  }
  // A long string is most likely a value, not a type name: say so briefly.
  return new RangeError(
    `No live object of type ${
      JSON.stringify(clip(target, 40))
    } in the heap (a string argument names a type, e.g. "Map"; pass the object itself to follow it)`,
  );
}

function checkTarget(what: string, target: unknown): void {
  const ok = typeof target === "string" ||
    (target !== null &&
      (typeof target === "object" || typeof target === "function"));
  if (!ok) {
    throw new TypeError(
      `${what} takes an object or a type name, got ${
        target === null ? "null" : typeof target
      }`,
    );
  }
}

function checkCount(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`${what} takes a positive row count, got "${n}"`);
  }
}

interface GraphFiles {
  dot: string;
  image?: string;
  format?: "svg" | "png";
}

async function graphFiles(file: string | undefined): Promise<GraphFiles> {
  if (file === undefined) {
    const dot = await tempFile("heap-graph-", ".dot");
    return { dot, image: dot.replace(/\.dot$/, ".svg"), format: "svg" };
  }
  const ext = file.match(/\.(svg|png)$/i)?.[1]?.toLowerCase() as
    | "svg"
    | "png"
    | undefined;
  if (!ext) {
    ensureWritable("heap.graph()", file);
    return { dot: file };
  }
  const dot = file.replace(/\.(svg|png)$/i, ".dot");
  ensureWritable("heap.graph()", dot);
  ensureWritable("heap.graph()", file);
  return { dot, image: file, format: ext };
}

async function renderImage(
  dot: string,
  image: string,
  format: "svg" | "png",
): Promise<string | null> {
  const allowed = Deno.permissions.querySync({ name: "run", command: "dot" });
  if (allowed.state !== "granted") {
    return "rendering needs --allow-run=dot";
  }
  try {
    const child = new Deno.Command("dot", {
      args: [`-T${format}`, "-o", image],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(dot));
    await writer.close();
    const { code, stderr } = await child.output();
    if (code !== 0) {
      return `dot failed: ${new TextDecoder().decode(stderr).trim()}`;
    }
    return null;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return "Graphviz is not installed (no dot command)";
    }
    return `dot failed: ${(error as Error).message}`;
  }
}

function ensureWritable(what: string, path: string): void {
  const state = Deno.permissions.querySync({ name: "write", path }).state;
  if (state !== "granted") {
    throw new Error(`${what} needs --allow-write for "${path}"`);
  }
}

async function tempFile(prefix: string, suffix: string): Promise<string> {
  const dir = await outputDirectory();
  ensureWritable("Writing heap files", dir);
  return await Deno.makeTempFile({ dir, prefix, suffix });
}

/**
 * `$HOME/.leakwatch/snapshots` (private, 0700) when the process may write
 * there, as the `start` task allows; otherwise the temp directory.
 */
async function outputDirectory(): Promise<string> {
  let dir: string;
  try {
    dir = `${stateDirectory()}/snapshots`;
  } catch {
    return tempDir();
  }
  const state = Deno.permissions.querySync({ name: "write", path: dir }).state;
  if (state !== "granted") return tempDir();
  return await ensurePrivateDirectory(dir);
}

function tempDir(): string {
  const state = Deno.permissions.querySync({ name: "env", variable: "TMPDIR" });
  const fromEnv = state.state === "granted"
    ? Deno.env.get("TMPDIR")
    : undefined;
  return fromEnv ||
    (Deno.build.os === "windows" ? "C:\\Windows\\Temp" : "/tmp");
}

export type {
  Holder,
  LargeGroup,
  LargeObject,
  LeakGroup,
  RetainingPath,
  SnapshotSummary,
};
