/**
 * The `heap.*` helpers: census, growth, retaining paths, largest retainers,
 * leaks, retainer graphs and raw snapshots, each from a fresh heap snapshot
 * that the analysis worker parses and analyses. Each takes its row count and
 * options in whichever order reads naturally (`heap.growth({ all: true })`).
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
  LeakReport,
  RetainerGraph,
  RetainingPath,
  SnapshotSummary,
  TypeStats,
} from "../heap/analysis.ts";
import type { Holder } from "../heap/holders.ts";
import { CONSOLE_OWNERSHIP } from "../heap/code_kinds.ts";
import type { Query } from "../heap/worker_messages.ts";
import type { ProgressFn } from "../heap/progress.ts";
import {
  analyseInChild,
  analysisClient,
  capture,
  captureMode,
} from "./capture.ts";
import { ForkCaptureError } from "./fork_capture.ts";
import { formatBytes, formatCount, withInspect } from "./report.ts";
import { exclusive } from "./inspector.ts";
import { heapObjectId } from "./inspector_handles.ts";
import {
  analysisChild,
  holdObjectIds,
  linkedTarget,
  releaseObjectIds,
  setAnalysisChild,
} from "./toolkit_state.ts";
import {
  checkOptions,
  countAndOptions,
  isOptions,
  type OptionSpec,
} from "./heap_args.ts";
import type { HolderName } from "./heap_names.ts";
import {
  kindReport,
  largestReport,
  leakReport,
  type LeftOut,
  leftOutLine,
  pathReport,
  renderGrowth,
  renderPath,
  retainerDot,
  typeReport,
} from "./heap_render.ts";

export type { HolderName };
export { renderPath };

/** Options shared by the snapshot-based helpers. */
export interface SnapshotOptions {
  /**
   * Answer from the snapshot the worker analysed last instead of taking a
   * new one (faster; possibly stale). Default false.
   */
  reuse?: boolean;
  /**
   * Include the console's own objects (its closures, caches, the toolkit):
   * left out by default, and every table says how much it left out. What a
   * console session keeps is always shown, labelled as the session's.
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

const SNAPSHOT_KEYS: OptionSpec = { reuse: "boolean", all: "boolean" };
const GROWTH_KEYS: OptionSpec = { ...SNAPSHOT_KEYS, peak: "boolean" };
const LARGEST_KEYS: OptionSpec = { ...SNAPSHOT_KEYS, by: ["object", "kind"] };
const LEAKS_KEYS: OptionSpec = { all: "boolean", reset: "boolean" };
const GRAPH_KEYS: OptionSpec = {
  ...SNAPSHOT_KEYS,
  depth: { min: 1, max: 64 },
  maxNodes: { min: 1, max: 10_000 },
};

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
  /** Instances now that only a console session's variables hold. */
  sessionCount: number;
}

/** One row of `heap.largest()`. */
export interface LargestRow extends LargeObject {
  /** Who holds it, in the developer's terms (and `(console session)`). */
  heldBy: string;
}

/** One row of `heap.largest(n, { by: "kind" })`. */
export interface KindRow extends LargeGroup {
  /** The kind as printed: `Map`, `(closure) startPoller (poller.ts:7)`. */
  name: string;
}

/** One row (one leak) of `heap.leaks()`. */
export interface LeakRow extends LeakGroup {
  /**
   * The holder and the shape of the hops after it, as printed:
   * `cache (lib/users.ts) → {table} → {*}`, `globalThis.bus
   * "config-changed" listeners`, `setInterval callback at poller.ts:13`.
   */
  heldBy: string;
  /**
   * What the objects are: the main class (`Object`, `(closure) tick
   * (poller.ts:9)`, `Promise chain from syncProfile (queue.ts:33)`) and how
   * many of other classes the leak holds besides.
   */
  objects: string;
  /** The main class as printed. */
  mainObjects: string;
  /** What else the leak holds, as printed: `+200 (string)`, `+12 others`. */
  also: string;
  /** Objects of the main class (`count` counts every class). */
  mainCount: number;
}

/** `heap.leaks()` rows with the totals the table prints under them. */
export interface LeakReportRows extends Omit<LeakReport, "groups"> {
  /** The rows. */
  rows: LeakRow[];
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
  /** Instances that only a console session's variables hold. */
  sessionCount: number;
}

/** The heap helpers of one console session. */
export interface HeapHelpers {
  /**
   * Most common types: count, shallow and retained size.
   *
   * @param n Rows (default 10), or the options.
   * @param options Reuse the last snapshot; include the console's objects.
   * @returns Rows, most instances first.
   */
  top(n?: number | SnapshotOptions, options?: SnapshotOptions): Promise<
    TypeRow[]
  >;
  /**
   * Types whose count rose since this session's previous call, with size
   * deltas, new and freed instances; the first call sets the baseline.
   *
   * @param n Rows (default 10), or the options.
   * @param options Reuse the last snapshot; the peak rule.
   * @returns Rows, largest increase first.
   */
  growth(
    n?: number | GrowthOptions,
    options?: GrowthOptions,
  ): Promise<GrowthRow[]>;
  /**
   * Shortest chain of strong references from a GC root to the target.
   *
   * @param target An object, or a type name: then a representative of the
   *   largest group of its instances allocated since this session's
   *   `heap.leaks()` baseline, else within the interval the last
   *   `heap.growth()` showed (of all of them, without either, or when none
   *   is that new).
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
   * @param n Rows (default 10), or the options.
   * @param options Reuse the last snapshot.
   * @returns Rows, largest first.
   */
  largest(
    n?: number | (LargestOptions & { by?: "object" }),
    options?: LargestOptions & { by?: "object" },
  ): Promise<LargestRow[]>;
  /**
   * Kinds of objects retaining the most memory: by constructor, closures
   * by function, nested instances counted once.
   *
   * @param n Rows, or the options.
   * @param options `by: "kind"`; reuse the last snapshot.
   * @returns Rows, largest first.
   */
  largest(
    n: number | undefined | (LargestOptions & { by: "kind" }),
    options?: LargestOptions & { by: "kind" },
  ): Promise<KindRow[]>;
  /**
   * Objects allocated since this session's first call and alive now, one
   * row per leak; the first call sets the baseline.
   *
   * @param n Rows (default 10), or the options.
   * @param options Include the console's objects; start a new baseline.
   * @returns Rows, largest retained size first.
   */
  leaks(n?: number | LeaksOptions, options?: LeaksOptions): Promise<LeakRow[]>;
  /**
   * Retainers around the target as Graphviz DOT (plus SVG/PNG by extension).
   *
   * @param target An object, or a type name.
   * @param file Output file: `.svg`/`.png` render with `dot`, else DOT
   *   only; or the options.
   * @param options Depth, size, reuse.
   * @returns Files written.
   */
  graph(
    target: object | string,
    file?: string | GraphOptions,
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

/** The last analysed snapshot's totals (the worker keeps one per process). */
let lastSummary: SnapshotSummary | undefined;
/**
 * Whether its ids may be compared with later snapshots' and live objects'
 * (always in-process; in fork mode, when the service numbered its objects
 * before forking: see capture.ts `analyseInChild`).
 */
let lastNumbered = false;

/** Asks questions about an analysed snapshot (the worker or a child). */
interface SnapshotQueries {
  query<T>(query: Query, onProgress?: ProgressFn): Promise<T>;
}

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
  /**
   * What `heap.path("Type")` picks after: the leaks baseline, else the
   * start of the interval the last `heap.growth()` showed (0: none).
   */
  get pathBaseline(): number {
    return this.leaksBaseline ?? this.shownSince;
  }
  /** The start of the interval the last `heap.growth()` compared. */
  shownSince = 0;

  /**
   * @param progress Where capture and analysis progress goes.
   * @param closed Aborts when the console session ends: its baselines go.
   */
  constructor(readonly progress: ProgressFn, closed?: AbortSignal) {
    closed?.addEventListener("abort", () => {
      releaseObjectIds(this).catch(() => {});
    }, { once: true });
  }

  /**
   * Runs `fn` on an analysed snapshot, one capture at a time: a fresh one,
   * or the last one with `reuse` while the worker (or, in fork mode, the
   * analysis child) still holds it. `numbered`: the snapshot's ids will be
   * compared with later snapshots' or live objects' (a baseline, a target
   * object), which in fork mode costs the service a walk of its heap.
   */
  analysed<T>(
    what: string,
    options: SnapshotOptions | undefined,
    fn: (client: SnapshotQueries, summary: SnapshotSummary) => Promise<T>,
    numbered = false,
  ): Promise<T> {
    return exclusive(async () => {
      // An attached target holds the attach session's code, not ours.
      const ownership = linkedTarget()?.ownership ?? CONSOLE_OWNERSHIP;
      if (captureMode() === "fork" && linkedTarget() === undefined) {
        const fresh = async () => {
          setAnalysisChild(undefined);
          lastSummary = undefined;
          const analysed = await analyseInChild(
            what,
            this.progress,
            ownership,
            numbered,
          );
          setAnalysisChild(analysed.child);
          lastSummary = analysed.summary;
          lastNumbered = numbered;
          return analysed;
        };
        const held = analysisChild();
        const reused = options?.reuse === true && held?.hasSnapshot === true &&
          lastSummary !== undefined && (lastNumbered || !numbered);
        const taken = reused
          ? { child: held!, summary: lastSummary! }
          : await fresh();
        // A baseline of this session: V8's ids stay while it lives.
        if (numbered) holdObjectIds(this);
        try {
          return await fn(taken.child, taken.summary);
        } catch (error) {
          // The child that held the snapshot died meanwhile (the OOM
          // killer, an operator): a fresh one, once.
          if (!reused || !(error instanceof ForkCaptureError)) throw error;
          const again = await fresh();
          return await fn(again.child, again.summary);
        }
      }
      const client = analysisClient();
      client.preflight();
      if (!options?.reuse || !client.hasSnapshot || !lastSummary) {
        lastSummary = undefined;
        const { chunks } = await capture(what, this.progress);
        lastSummary = await client.load(chunks, this.progress, ownership);
        lastNumbered = true;
      }
      // Every snapshot taken here numbered the heap; V8's ids stay while
      // this session lives.
      holdObjectIds(this);
      return await fn(client, lastSummary);
    });
  }

  /** `heap.top()`: the most common types by count, with sizes. */
  top(...args: unknown[]): Promise<TypeRow[]> {
    const { n, options } = countAndOptions<SnapshotOptions>(
      "heap.top()",
      args,
      10,
      SNAPSHOT_KEYS,
    );
    return this.analysed("heap.top()", options, async (client, summary) => {
      const stats = await client.query<TypeStats[]>({
        kind: "top",
        n,
        all: options.all,
      });
      return typeReport(stats, leftOutLine(consoleOf(summary), options.all));
    });
  }

  /** `heap.growth()`: what grew since this session's previous call. */
  growth(...args: unknown[]): Promise<GrowthRow[]> {
    const { n, options } = countAndOptions<GrowthOptions>(
      "heap.growth()",
      args,
      10,
      GROWTH_KEYS,
    );
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
      this.shownSince = previous?.since ?? 0;
      const footer = leftOutLine(consoleOf(summary), options.all);
      if (!previous) {
        let objects = 0;
        for (const r of rows) objects += r.count;
        return withInspect(
          [] as GrowthRow[],
          () =>
            [
              `baseline set: ${formatCount(objects)} objects of ${
                formatCount(rows.length)
              } types; call heap.growth() again to see what grew`,
              footer,
            ].filter((l) => l !== "").join("\n"),
        );
      }
      const grown = growthRows(rows, previous, options.peak ?? false);
      const shown = grown.slice(0, n);
      return withInspect(
        shown,
        () => renderGrowth(shown, options.peak, footer),
      );
    }, true);
  }

  /** `heap.path()`: the shortest retaining path from a GC root. */
  path(target: object | string, ...rest: unknown[]): Promise<RetainingPath> {
    const handle = holdWeakly("heap.path()", target);
    if (rest.length > 1) {
      throw new TypeError("heap.path() takes a target and an options object");
    }
    const options = checkOptions<SnapshotOptions>(
      "heap.path()",
      rest[0],
      SNAPSHOT_KEYS,
    );
    return this.analysed("heap.path()", options, async (client) => {
      const key = await targetKey(handle);
      const path = await client.query<RetainingPath | null>({
        kind: "path",
        target: key,
        since: this.pathBaseline,
        all: options.all,
      });
      if (!path) throw notFound(handle);
      return await pathReport(path);
    }, typeof target !== "string");
  }

  /** `heap.largest()`: objects, or kinds of objects, retaining the most. */
  largest(...args: unknown[]): Promise<LargestRow[] | KindRow[]> {
    const { n, options } = countAndOptions<LargestOptions>(
      "heap.largest()",
      args,
      10,
      LARGEST_KEYS,
    );
    const by = options.by ?? "object";
    return this.analysed("heap.largest()", options, async (client, summary) => {
      const footer = leftOutLine(consoleOf(summary), options.all);
      const query = {
        kind: by === "kind" ? "groups" : "largest",
        n,
        all: options.all,
      } as const;
      if (by === "kind") {
        return await kindReport(
          await client.query<LargeGroup[]>(query),
          footer,
        );
      }
      return await largestReport(
        await client.query<LargeObject[]>(query),
        footer,
      );
    });
  }

  /** `heap.leaks()`: objects born since the baseline and alive now, one row per leak. */
  leaks(...args: unknown[]): Promise<LeakRow[]> {
    const { n, options } = countAndOptions<LeaksOptions>(
      "heap.leaks()",
      args,
      10,
      LEAKS_KEYS,
    );
    return this.analysed("heap.leaks()", {}, async (client, summary) => {
      // V8 clears its ids when any inspector session in the process closes
      // (the toolkit's own link stays open): the old baseline then means
      // nothing. A fork capture that did not number the heap cannot be the
      // new one (its ids are the child's): the next call takes it.
      const restarted = this.leaksBaseline !== undefined &&
        summary.maxNodeId < this.leaksBaseline;
      if (restarted && !lastNumbered) {
        this.leaksBaseline = undefined;
        return withInspect(
          [] as LeakRow[],
          () =>
            "heap ids restarted since the baseline (an inspector session closed in this process): call heap.leaks() again to set a new one",
        );
      }
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
      const report = await client.query<LeakReport>({
        kind: "leaks",
        since: this.leaksBaseline,
        n,
        all: options.all,
      }, this.progress);
      this.progress("leaks", 1, 1);
      return await leakReport(report, { all: options.all });
    }, this.leaksBaseline === undefined || options.reset === true);
  }

  /** `heap.graph()`: the retainers around a target as DOT (and an image). */
  async graph(
    target: object | string,
    ...rest: unknown[]
  ): Promise<GraphReport> {
    const handle = holdWeakly("heap.graph()", target);
    let [file, given] = rest;
    if (rest.length > 2) {
      throw new TypeError(
        "heap.graph() takes a target, a file name and an options object",
      );
    }
    if (isOptions(file) && given === undefined) {
      given = file;
      file = undefined;
    }
    if (file !== undefined && typeof file !== "string") {
      throw new TypeError(
        `heap.graph() takes a file name or an options object after the target, got ${typeof file}`,
      );
    }
    const options = checkOptions<GraphOptions>(
      "heap.graph()",
      given,
      GRAPH_KEYS,
    );
    const files = await graphFiles(file);
    return await this.analysed("heap.graph()", options, async (client) => {
      const key = await targetKey(handle);
      const found = await client.query<RetainerGraph | null>({
        kind: "graph",
        target: key,
        since: this.pathBaseline,
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
      const { console: mine, overflow } = found.leftOut;
      const left = [
        mine > 0
          ? `${formatCount(mine)} the console holds ({ all: true })`
          : "",
        overflow > 0
          ? `${formatCount(overflow)} past maxNodes (${options.maxNodes ?? 40})`
          : "",
      ].filter((l) => l !== "");
      return withInspect(report, () =>
        [
          `retainers of ${report.target}`,
          `  DOT:   ${report.dotFile}`,
          imageFile ? `  image: ${imageFile}` : `  image: none (${note})`,
          ...(left.length > 0
            ? [`  left out: retainers ${left.join(", ")}`]
            : []),
        ].join("\n"));
    }, typeof target !== "string");
  }

  /** `heap.snapshot()`: a `.heapsnapshot` file for Chrome DevTools. */
  async snapshot(file?: string): Promise<SnapshotReport> {
    if (file !== undefined && typeof file !== "string") {
      throw new TypeError(
        `heap.snapshot() takes a file name, got ${typeof file}`,
      );
    }
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
 * @param closed Aborts when the session ends (its baselines, and with the
 * last of them V8's map of object ids, go).
 * @returns The helpers.
 */
export function createHeap(
  progress: ProgressFn,
  closed?: AbortSignal,
): HeapHelpers {
  const session = new HeapSession(progress, closed);
  // A plain object of own functions, not the session itself: completing or
  // inspecting `heap` in the console shows exactly these, and the baselines
  // stay out of the operator's reach.
  // Bad arguments reject like any other failure, so `.catch()` sees them.
  return {
    top: (...args: unknown[]) => settle(() => session.top(...args)),
    growth: (...args: unknown[]) => settle(() => session.growth(...args)),
    path: (target, ...rest: unknown[]) =>
      settle(() => session.path(target, ...rest)),
    largest:
      ((...args: unknown[]) =>
        settle(() => session.largest(...args))) as HeapHelpers["largest"],
    leaks: (...args: unknown[]) => settle(() => session.leaks(...args)),
    graph: (target, ...rest: unknown[]) =>
      settle(() => session.graph(target, ...rest)),
    snapshot: (file) => settle(() => session.snapshot(file)),
  };
}

/** Runs `fn`, turning a synchronous throw into a rejection. */
function settle<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** What the console holds for itself in a snapshot. */
function consoleOf(summary: SnapshotSummary): LeftOut {
  return { count: summary.consoleCount, size: summary.consoleSize };
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
      sessionCount: r.sessionCount,
    });
  }
  out.sort((a, b) => b.increase - a.increase || b.sizeDelta - a.sizeDelta);
  return out;
}

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
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
