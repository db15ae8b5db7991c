/**
 * The `heap.*` helpers: census, growth, retaining paths, largest retainers,
 * retainer graphs and raw snapshots, each from a fresh heap snapshot that the
 * analysis worker parses and analyses.
 *
 * @module
 */

import { ensurePrivateDirectory, stateDirectory } from "../state_dir.ts";
import type {
  LargeObject,
  RetainingPath,
  SnapshotSummary,
} from "../heap/analysis.ts";
import type { ClassStats } from "../heap/census.ts";
import type { AnalysisClient } from "../heap/worker_client.ts";
import type { ProgressFn } from "../heap/progress.ts";
import { analysisClient, capture } from "./capture.ts";
import {
  formatBytes,
  formatCount,
  renderTable,
  withInspect,
} from "./report.ts";
import { exclusive } from "./inspector.ts";
import { heapObjectId } from "./inspector_handles.ts";

/** Options shared by the snapshot-based helpers. */
export interface SnapshotOptions {
  /**
   * Answer from the snapshot the worker analysed last instead of taking a
   * new one (faster; possibly stale). Default false.
   */
  reuse?: boolean;
}

/** Options for `heap.graph()`. */
export interface GraphOptions extends SnapshotOptions {
  /** Retainer hops to follow back from the target (default 4). */
  depth?: number;
  /** At most this many nodes (default 40). */
  maxNodes?: number;
}

/** One row of `heap.growth()`. */
export interface GrowthRow {
  /** Class name. */
  type: string;
  /** Instances now. */
  count: number;
  /** Instances more than at this session's previous call. */
  increase: number;
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
   * @param options Reuse the last snapshot.
   * @returns Rows, most instances first.
   */
  top(n?: number, options?: SnapshotOptions): Promise<TypeRow[]>;
  /**
   * Types whose count rose since this session's previous call; the first
   * call sets the baseline.
   *
   * @param n Rows (default 10).
   * @param options Reuse the last snapshot.
   * @returns Rows, largest increase first.
   */
  growth(n?: number, options?: SnapshotOptions): Promise<GrowthRow[]>;
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
   * Objects retaining the most memory, with their paths.
   *
   * @param n Rows (default 10).
   * @param options Reuse the last snapshot.
   * @returns Rows, largest first.
   */
  largest(n?: number, options?: SnapshotOptions): Promise<LargeObject[]>;
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

/**
 * Makes the heap helpers of one console session (its own growth baseline).
 *
 * @param progress Receives capture, parse and analysis progress.
 * @returns The helpers.
 */
export function createHeap(progress: ProgressFn): HeapHelpers {
  let baseline: Map<string, number> | undefined;

  const analysed = <T>(
    what: string,
    options: SnapshotOptions | undefined,
    fn: (client: AnalysisClient) => Promise<T>,
  ): Promise<T> =>
    exclusive(async () => {
      const client = analysisClient();
      client.preflight();
      if (!options?.reuse || !client.hasSnapshot) {
        const { chunks } = await capture(what, progress);
        await client.load(chunks, progress);
      }
      return await fn(client);
    });

  return {
    top(n = 10, options) {
      checkCount("heap.top()", n);
      return analysed("heap.top()", options, async (client) => {
        const stats = await client.query<ClassStats[]>({ kind: "top", n });
        const rows: TypeRow[] = stats.map((s) => ({
          type: s.name,
          count: s.count,
          shallowSize: s.shallowSize,
          retainedSize: s.retainedSize,
        }));
        return withInspect(rows, () => typeTable(rows));
      });
    },

    growth(n = 10, options) {
      checkCount("heap.growth()", n);
      return analysed("heap.growth()", options, async (client) => {
        const counts = await client.query<Record<string, number>>({
          kind: "counts",
        });
        const now = new Map(Object.entries(counts));
        if (!baseline) {
          baseline = now;
          let objects = 0;
          for (const c of now.values()) objects += c;
          return withInspect(
            [] as GrowthRow[],
            () =>
              `baseline set: ${formatCount(objects)} objects of ${
                formatCount(now.size)
              } types; call heap.growth() again to see what grew`,
          );
        }
        const rows: GrowthRow[] = [];
        for (const [type, count] of now) {
          const before = baseline.get(type) ?? 0;
          if (count > before) {
            rows.push({ type, count, increase: count - before });
          }
        }
        baseline = now;
        rows.sort((a, b) => b.increase - a.increase);
        const shown = rows.slice(0, n);
        return withInspect(
          shown,
          () =>
            shown.length === 0
              ? "no type grew since the last call"
              : renderTable(
                shown,
                [
                  { title: "type", cell: (r) => r.type },
                  {
                    title: "count",
                    cell: (r) => formatCount(r.count),
                    right: true,
                  },
                  {
                    title: "increase",
                    cell: (r) => `+${formatCount(r.increase)}`,
                    right: true,
                  },
                ],
              ),
        );
      });
    },

    path(target, options) {
      const handle = holdWeakly("heap.path()", target);
      return analysed("heap.path()", options, async (client) => {
        const key = await targetKey(handle);
        const path = await client.query<RetainingPath | null>({
          kind: "path",
          target: key,
        });
        if (!path) throw notFound(handle);
        return withInspect(path, () => renderPath(path));
      });
    },

    largest(n = 10, options) {
      checkCount("heap.largest()", n);
      return analysed("heap.largest()", options, async (client) => {
        const rows = await client.query<LargeObject[]>({ kind: "largest", n });
        return withInspect(rows, () =>
          renderTable(rows, [
            {
              title: "retained",
              cell: (r) => formatBytes(r.retainedSize),
              right: true,
            },
            {
              title: "self",
              cell: (r) => formatBytes(r.selfSize),
              right: true,
            },
            { title: "object", cell: (r) => r.label },
            { title: "held by", cell: (r) => r.path },
          ]));
      });
    },

    async graph(target, file, options = {}) {
      const handle = holdWeakly("heap.graph()", target);
      const files = await graphFiles(file);
      return await analysed("heap.graph()", options, async (client) => {
        const key = await targetKey(handle);
        const found = await client.query<
          { target: { label: string }; dot: string } | null
        >({
          kind: "graph",
          target: key,
          depth: options.depth,
          maxNodes: options.maxNodes,
        });
        if (!found) throw notFound(handle);
        await Deno.writeTextFile(files.dot, found.dot);
        let imageFile: string | null = null;
        let note: string | null = null;
        if (files.image) {
          note = await renderImage(found.dot, files.image, files.format!);
          if (note === null) imageFile = files.image;
        }
        const report: GraphReport = {
          target: found.target.label,
          dotFile: files.dot,
          imageFile,
          note,
          dot: found.dot,
        };
        return withInspect(report, () =>
          [
            `retainers of ${report.target}`,
            `  DOT:   ${report.dotFile}`,
            imageFile ? `  image: ${imageFile}` : `  image: none (${note})`,
          ].join("\n"));
      });
    },

    async snapshot(file) {
      const path = file ?? await tempFile("deno-heap-", ".heapsnapshot");
      ensureWritable("heap.snapshot()", path);
      return await exclusive(async () => {
        analysisClient().preflight();
        const taken = await capture("heap.snapshot()", progress);
        const written = await analysisClient().write(
          taken.chunks,
          path,
          progress,
        );
        const report: SnapshotReport = {
          path: written.path,
          bytes: written.bytes,
          pauseMs: Math.round(taken.pauseMs),
        };
        return withInspect(
          report,
          () =>
            `wrote ${
              formatBytes(report.bytes)
            } to ${report.path} (process paused ${report.pauseMs} ms); open it in Chrome DevTools › Memory › Load profile`,
        );
      });
    },
  };
}

/**
 * Renders a retaining path edge by edge.
 *
 * @param path The path.
 * @returns Lines of text.
 */
export function renderPath(path: RetainingPath): string {
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
  for (const [i, step] of path.steps.entries()) {
    if (i === 0) lines.push(`  ${step.node.label}`);
    else {
      const alias = step.alias ? ` (also ${step.alias})` : "";
      lines.push(`    --${step.edge}--> ${step.node.label}${alias}`);
    }
  }
  return lines.join("\n");
}

function typeTable(rows: TypeRow[]): string {
  return renderTable(rows, [
    { title: "type", cell: (r) => r.type },
    { title: "count", cell: (r) => formatCount(r.count), right: true },
    { title: "shallow", cell: (r) => formatBytes(r.shallowSize), right: true },
    {
      title: "retained",
      cell: (r) => formatBytes(r.retainedSize),
      right: true,
    },
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
  return typeof target === "string"
    ? new RangeError(`No live object of type "${target}" in the heap`)
    : new RangeError("The target object is not in the heap snapshot");
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

export type { LargeObject, RetainingPath, SnapshotSummary };
