/**
 * Process memory: the `mem()` report, how much memory the process may still
 * use (cgroup limit or MemAvailable), and whether a heap snapshot fits.
 *
 * @module
 */

import {
  type CaptureMode,
  captureMode,
  COST_MODELS,
  estimatePauseMs,
  estimateSnapshotPeak,
  type HeapShape,
  type LastPause,
  scaledShape,
  sizedShape,
  smallObjectHeap,
} from "./capture_cost.ts";
import {
  formatBytes,
  formatCount,
  renderTable,
  withInspect,
} from "./report.ts";
import {
  captureStats,
  lastShape,
  linkedTarget,
  memoryFigures,
} from "./toolkit_state.ts";
import { type OpenHandles, openHandles } from "./process_handles.ts";

/** Fixed V8 heap headroom added to the V8-heap estimate. */
const V8_CAPTURE_MARGIN = 4 * 1024 * 1024;

/**
 * What V8 adds to the old generation in `heap_size_limit` on 64-bit builds
 * (the young generation's reserve): 96 MiB in Deno 2.9.6, whatever
 * `--max-old-space-size` is (4 → 100 MiB, 64 → 160 MiB, 1024 → 1120 MiB).
 */
const YOUNG_GENERATION_RESERVE = 96 * 1024 * 1024;

/**
 * Environment variable giving the process's memory limit (bytes, or with a
 * K/M/G suffix), e.g. the container's limit. Deno 2.9 lets only
 * `--allow-all` read `/sys/fs/cgroup` and `/proc`, so with scoped
 * permissions this is how the toolkit learns about a cgroup limit. Tests set
 * it tiny to prove the refusal.
 */
export const MEMORY_LIMIT_ENV = "LEAK_TOOLKIT_MEMORY_LIMIT";

/** What `mem()` returns. */
export interface MemReport {
  /** Resident set size in bytes. */
  rss: number;
  /** V8 heap in use. */
  heapUsed: number;
  /** V8 heap reserved. */
  heapTotal: number;
  /** Memory held outside the V8 heap by JS objects (includes array buffers). */
  external: number;
  /** Array buffer bytes, or null: Deno counts them inside `external` only. */
  arrayBuffers: number | null;
  /** Memory the process may still take, or null when it cannot be read. */
  available: number | null;
  /** Where `available` comes from. */
  availableSource: string;
  /** Where a capture runs now: `"fork"` (a child) or `"in-process"`. */
  captureMode: CaptureMode;
  /**
   * Estimated peak memory of a heap snapshot right now: the service's RSS
   * growth in-process, the child's in fork mode.
   */
  snapshotEstimate: number;
  /** Estimated pause of the service for a capture now, ms. */
  capturePauseEstimate: number;
  /** What the estimate comes from: `"last snapshot"`, `"heap size"`. */
  estimateSource: HeapShape["source"];
  /** V8's limit for the heap's old generation (`--max-old-space-size`). */
  heapLimit: number;
  /** Estimated V8 heap a snapshot would need right now (live heap included). */
  snapshotHeapEstimate: number;
  /** RSS around this process's last capture, or null before the first. */
  lastCapture: LastCaptureMemory | null;
  /** Capture children that hung, were capped or crashed since start. */
  captureFailures: number;
  /**
   * Open Deno resources by type, and file descriptors where readable; null
   * in an attached session (the target's are not readable from here).
   */
  handles: OpenHandles | null;
}

/** RSS before and after the last capture. */
export interface LastCaptureMemory {
  /** RSS just before it. */
  rssBefore: number;
  /** RSS once its garbage was collected. */
  rssAfter: number;
  /** Whether freed memory was handed back (`malloc_trim`, needs --allow-ffi). */
  trimmed: boolean;
  /** Where it ran. */
  mode: CaptureMode;
  /** What the admission check expected it to need, bytes. */
  estimate: number;
  /** What it took at its peak, measured, bytes (null when unknown). */
  peak: number | null;
  /** How long it paused the service, ms. */
  pauseMs: number;
}

/** Room in V8's own heap, from `v8.getHeapStatistics()`. */
export interface HeapRoom {
  /** The old generation's limit: `heap_size_limit` less the young reserve. */
  limit: number;
  /** Heap used now. */
  used: number;
}

/** How much memory is left and who says so. */
export interface MemoryBudget {
  /** Bytes, or null when no source could be read. */
  available: number | null;
  /** `"cgroup v2"`, `"cgroup v1"`, `"/proc/meminfo"`, the env override... */
  source: string;
  /** Why nothing could be read, when `available` is null. */
  problem?: string;
}

/**
 * Reports memory use, in human units when printed.
 *
 * @example
 * ```ts ignore
 * mem(); // rss 80.1 MiB, heap used 36.0 MiB / 40.0 MiB, ...
 * ```
 *
 * @returns Raw bytes, rendered as a small table.
 */
export function mem(): MemReport {
  // This process's figures, or an attached target's (toolkit_state.ts).
  const usage = memoryFigures();
  const budget = availableMemory();
  const estimate = estimateCapture();
  const report: MemReport = {
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    heapTotal: usage.heapTotal,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
    available: budget.available,
    availableSource: budget.source,
    captureMode: estimate.mode,
    snapshotEstimate: estimate.need,
    capturePauseEstimate: estimatePauseMs(
      estimate.shape,
      estimate.mode,
      usage.rss,
      lastPause(),
    ),
    estimateSource: estimate.shape.source,
    heapLimit: heapRoom().limit,
    snapshotHeapEstimate: estimate.heapNeed,
    lastCapture: lastCaptureMemory(),
    captureFailures: captureStats().childFailures,
    handles: linkedTarget() ? null : openHandles(),
  };
  return withInspect(report, () => {
    const rows: Array<[string, string, string]> = [
      ["resident (rss)", formatBytes(report.rss), ""],
      ["heap used", formatBytes(report.heapUsed), ""],
      ["heap total", formatBytes(report.heapTotal), ""],
      ["external", formatBytes(report.external), "includes array buffers"],
      report.arrayBuffers === null
        ? ["array buffers", "n/a", "Deno does not report them apart"]
        : ["array buffers", formatBytes(report.arrayBuffers), ""],
      [
        "available",
        report.available === null ? "unknown" : formatBytes(report.available),
        budget.problem ?? report.availableSource,
      ],
      captureModeRow(report),
      [
        "snapshot would need",
        formatBytes(report.snapshotEstimate),
        `${
          report.captureMode === "fork"
            ? "in the child (capped there)"
            : "on top of rss, at the peak"
        }; from the ${report.estimateSource}${
          report.captureMode === "fork" && report.estimateSource === "heap size"
            ? " (a guess: Maps and Sets may need several times it; the first child may take the memory available)"
            : ""
        }`,
      ],
      [
        "V8 heap limit",
        formatBytes(report.heapLimit),
        `a snapshot needs ~${
          formatBytes(report.snapshotHeapEstimate)
        } of it, live heap included`,
      ],
    ];
    if (report.captureFailures > 0) {
      rows.push([
        "failed capture children",
        String(report.captureFailures),
        "hung, capped or crashed (each retried once); the service carried on",
      ]);
    }
    const handles = report.handles;
    if (handles !== null) {
      rows.push([
        "open Deno resources",
        String(handles.resources),
        Object.entries(handles.byType).sort((a, b) => b[1] - a[1])
          .map(([type, n]) => `${type} ${n}`).join(", "),
      ], [
        "open file descriptors",
        handles.fds === null ? "unknown" : String(handles.fds),
        handles.fds === null
          ? handles.fdsProblem ?? ""
          : handles.maxFds === null
          ? ""
          : `of ${handles.maxFds} allowed`,
      ]);
    }
    const last = report.lastCapture;
    if (last) {
      rows.push(
        [
          "last capture",
          last.peak === null ? "peak n/a" : formatBytes(last.peak),
          `${last.mode}, estimated ${formatBytes(last.estimate)}, paused ${
            formatPause(last.pauseMs)
          }`,
        ],
        ["rss before last capture", formatBytes(last.rssBefore), ""],
        [
          "rss after last capture",
          formatBytes(last.rssAfter),
          last.mode === "fork"
            ? "the snapshot and its analysis stayed in the child"
            : last.trimmed
            ? "after a GC and malloc_trim"
            : "after a GC; freed native memory stays in rss (start with deno task start:fork to return it)",
        ],
      );
    }
    return renderTable(rows, [
      { title: "memory", cell: (r) => r[0] },
      { title: "size", cell: (r) => r[1], right: true },
      { title: "note", cell: (r) => r[2] },
    ]);
  });
}

/** The `mem()` line saying where a capture runs and what it costs the service. */
function captureModeRow(report: MemReport): [string, string, string] {
  return [
    "capture mode",
    report.captureMode,
    captureCostText(
      report.captureMode,
      report.capturePauseEstimate,
      report.snapshotEstimate,
    ),
  ];
}

/**
 * What a capture costs the service in a mode, in one phrase (for `mem()`
 * and `help()`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { captureCostText } from "./memory.ts";
 * assert.match(captureCostText("fork", 12, 2 ** 30), /child.*12 ms/);
 * ```
 *
 * @param mode Where captures run.
 * @param pauseMs The expected pause, ms.
 * @param need The expected peak memory, bytes.
 * @returns The phrase.
 */
export function captureCostText(
  mode: CaptureMode,
  pauseMs: number,
  need: number,
): string {
  const pause = formatPause(pauseMs);
  return mode === "fork"
    ? `heap.* snapshot in a child process: the service pauses ~${pause} at most (fork(), and for a baseline one walk of its heap for V8's object ids) and its rss holds neither the snapshot nor its analysis; the child needs ~${
      formatBytes(need)
    }, capped`
    : `heap.* snapshot in the service: it pauses ~${pause} and its rss grows ~${
      formatBytes(need)
    } (deno task start:fork: a shorter pause, the memory in a child)`;
}

/**
 * What a capture would cost now, in one phrase (see {@linkcode captureCostText}).
 *
 * @returns The phrase.
 */
export function captureCostNow(): string {
  const estimate = estimateCapture();
  return captureCostText(
    estimate.mode,
    estimatePauseMs(
      estimate.shape,
      estimate.mode,
      memoryFigures().rss,
      lastPause(),
    ),
    estimate.need,
  );
}

/**
 * A duration as printed: ms below a second, else seconds.
 *
 * @param ms Milliseconds.
 * @returns E.g. `"24 ms"`, `"3.7 s"`.
 */
export function formatPause(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function lastCaptureMemory(): LastCaptureMemory | null {
  const stats = captureStats();
  if (stats.rssAfter === 0 || stats.lastMode === null) return null;
  return {
    rssBefore: stats.rssBefore,
    rssAfter: stats.rssAfter,
    trimmed: stats.trimmed,
    mode: stats.lastMode,
    estimate: stats.lastEstimate,
    peak: stats.lastPeak,
    pauseMs: stats.lastPauseMs,
  };
}

function lastPause(): LastPause | undefined {
  const stats = captureStats();
  const shape = lastShape();
  if (stats.lastMode === null || shape === undefined) return undefined;
  return {
    mode: stats.lastMode,
    pauseMs: stats.lastPauseMs,
    nodes: shape.nodes,
  };
}

/** What a capture would cost, and what the estimate stands on. */
export interface CaptureEstimate {
  /** Where it would run. */
  mode: CaptureMode;
  /** The heap's expected shape. */
  shape: HeapShape;
  /** Peak memory, bytes: the service's growth in-process, the child's in fork mode. */
  need: number;
  /** V8 heap the service needs meanwhile (live heap included), bytes. */
  heapNeed: number;
  /** Memory left, when known. */
  available: number | null;
}

/**
 * The estimate of a capture now, without probing: the last snapshot's
 * shape scaled by the heap's growth, or the heap's size alone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { estimateCapture } from "./memory.ts";
 * const estimate = estimateCapture();
 * assert.equal(estimate.mode, "in-process");
 * assert.ok(estimate.need > estimate.heapNeed);
 * ```
 *
 * @param shape The heap's shape (default: from the last snapshot or the
 * heap's size).
 * @param mode Where it would run (default: this process's mode).
 * @returns The estimate.
 */
export function estimateCapture(
  shape: HeapShape = currentShape(),
  // An attached target captures itself, in its own process.
  mode: CaptureMode = linkedTarget() ? "in-process" : captureMode(),
): CaptureEstimate {
  const model = estimateSnapshotPeak(shape, COST_MODELS[mode]);
  const reused = mode === "in-process" ? retainedByLastCapture() : 0;
  return {
    mode,
    shape,
    // What was left over is reused, never all of it (measured: 42–90%).
    need: Math.max(Math.ceil(model / 4), model - reused),
    heapNeed: estimateCaptureHeap(shape, mode),
    available: null,
  };
}

/**
 * Memory an in-process capture left in the allocator (RSS after it, GC'd,
 * less RSS before), which the next one reuses before it grows the process:
 * 0 when it was handed back (`malloc_trim`).
 */
function retainedByLastCapture(): number {
  const stats = captureStats();
  if (stats.lastMode !== "in-process" || stats.trimmed) return 0;
  return Math.max(0, stats.rssAfter - stats.rssBefore);
}

/**
 * Estimates the peak memory a heap snapshot would take now (see
 * {@linkcode estimateCapture}).
 *
 * @param heapUsed The heap the estimate scales to (default: the heap
 * outside large objects now).
 * @returns Bytes.
 */
export function estimateCapturePeak(heapUsed?: number): number {
  return estimateCapture(currentShape(heapUsed)).need;
}

/**
 * Estimates the V8 heap a capture needs at its peak, the live heap
 * included: in-process the inspector's chunk messages and their chunks
 * hold the text twice; a child's text is read back once by the service.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { estimateCaptureHeap } from "./memory.ts";
 * const shape = { nodes: 0, indexNames: 0, chars: 2 ** 20, source: "heap size" } as const;
 * assert.ok(estimateCaptureHeap(shape, "in-process") > estimateCaptureHeap(shape, "fork"));
 * ```
 *
 * @param shape The expected shape (its text size).
 * @param mode Where the capture runs.
 * @param used V8 heap used now (default: this process's, or the attached target's).
 * @returns Bytes.
 */
export function estimateCaptureHeap(
  shape: HeapShape,
  mode: CaptureMode,
  used = memoryFigures().heapUsed,
): number {
  const copies = mode === "in-process" ? 2 : 1;
  return Math.ceil(used + copies * shape.chars + V8_CAPTURE_MARGIN);
}

/** The heap's shape now, from the last snapshot when there was one. */
function currentShape(
  // An attached target's heap, else this process's outside large objects.
  heapUsed = linkedTarget() ? memoryFigures().heapUsed : smallObjectHeap(),
): HeapShape {
  const last = lastShape();
  return last ? scaledShape(last, heapUsed) : sizedShape(heapUsed);
}

/**
 * V8's own heap limit and use: a capture that would pass it aborts the
 * process ("Reached heap limit"), whatever the system's memory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { heapRoom } from "./memory.ts";
 * const room = heapRoom();
 * assert.ok(room.limit > room.used && room.used > 0);
 * ```
 *
 * @returns The old generation's limit and the heap used.
 */
export function heapRoom(): HeapRoom {
  const { heapSizeLimit, heapUsed } = memoryFigures();
  // A build that reserves less than measured: count half, to err safe.
  const limit = heapSizeLimit > YOUNG_GENERATION_RESERVE
    ? heapSizeLimit - YOUNG_GENERATION_RESERVE
    : heapSizeLimit / 2;
  return { limit, used: heapUsed };
}

/**
 * How much more memory this process may take: the smallest of the cgroup's
 * limit minus its usage (v2 or v1), MemAvailable, and the limit in
 * {@link MEMORY_LIMIT_ENV} minus the current RSS. The cgroup and
 * `/proc/meminfo` are read only when permitted (in Deno 2.9 that takes
 * `--allow-all`); otherwise `Deno.systemMemoryInfo()` (`--allow-sys`) gives
 * MemAvailable.
 *
 * @returns The budget and its source.
 */
export function availableMemory(): MemoryBudget {
  const candidates: Array<[number, string]> = [];
  const problems: string[] = [];
  const limit = readLimitEnv();
  if (limit !== undefined) {
    candidates.push([
      Math.max(0, limit - memoryFigures().rss),
      `${MEMORY_LIMIT_ENV} minus rss`,
    ]);
  }
  const cgroup = cgroupHeadroom(problems);
  if (cgroup) candidates.push(cgroup);
  const meminfo = readText("/proc/meminfo", problems);
  const match = meminfo?.match(/^MemAvailable:\s+(\d+)\s*kB/m);
  if (match) candidates.push([Number(match[1]) * 1024, "/proc/meminfo"]);
  else {
    const sys = Deno.permissions.querySync({
      name: "sys",
      kind: "systemMemoryInfo",
    });
    if (sys.state === "granted") {
      candidates.push([Deno.systemMemoryInfo().available, "MemAvailable"]);
    } else problems.push("no --allow-sys for systemMemoryInfo");
  }
  if (candidates.length === 0) {
    return {
      available: null,
      source: "none",
      problem: `cannot read memory limits (${problems.join("; ")})`,
    };
  }
  candidates.sort((a, b) => a[0] - b[0]);
  const [available, source] = candidates[0]!;
  return { available, source };
}

/**
 * Throws unless a heap snapshot's estimated peak fits, both in the memory
 * left to the process and in V8's own heap limit (`--max-old-space-size`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ensureCaptureFits } from "./memory.ts";
 * // A heap 1/5 of V8's limit cannot be captured in-process.
 * assert.throws(
 *   () => ensureCaptureFits("heap.top()", { limit: 100 * 2 ** 20, used: 20 * 2 ** 20 }),
 *   /V8's heap limit/,
 * );
 * ```
 *
 * @param what The operation, for the message (e.g. `"heap.top()"`).
 * @param room V8's heap limit and use (default: this process's).
 * @param at The heap's expected shape and the mode (default: from the last
 * snapshot or the heap's size, this process's mode).
 * @returns The estimate, when it fits.
 */
export function ensureCaptureFits(
  what: string,
  room: HeapRoom = heapRoom(),
  at: { shape?: HeapShape; mode?: CaptureMode } = {},
): CaptureEstimate {
  const mode = at.mode ?? captureMode();
  const shape = at.shape ?? currentShape(room.used);
  const estimate = estimateCapture(shape, mode);
  const heapNeed = estimateCaptureHeap(shape, mode, room.used);
  const cheaper =
    "cheaper alternatives: count(Ctor) counts live instances without a snapshot; alloc.start() then alloc.top() shows allocation sites";
  if (heapNeed > room.limit) {
    throw new RangeError(
      `Refusing ${what}: a heap snapshot needs about ${
        formatBytes(heapNeed)
      } of V8 heap (the ${formatBytes(room.used)} used and ${
        mode === "in-process" ? "twice " : ""
      }its ~${formatBytes(shape.chars)} of text) but V8's heap limit is ${
        formatBytes(room.limit)
      } (set by --max-old-space-size); V8 would abort the process. Restart with a larger --v8-flags=--max-old-space-size, or use the ${cheaper}`,
    );
  }
  const need = estimate.need;
  const budget = availableMemory();
  if (budget.available === null) {
    throw new RangeError(
      `Refusing ${what}: a heap snapshot needs about ${
        formatBytes(need)
      } and the memory left is unknown (${budget.problem}); run with --allow-sys, or set ${MEMORY_LIMIT_ENV} with --allow-env=${MEMORY_LIMIT_ENV}; ${cheaper}`,
    );
  }
  if (need > budget.available) {
    throw new RangeError(
      `Refusing ${what}: a heap snapshot ${
        mode === "fork" ? "in a child " : ""
      }needs about ${formatBytes(need)} (${formatCount(shape.nodes)} nodes, ${
        formatCount(shape.indexNames)
      } index names, from the ${shape.source}) but only ${
        formatBytes(budget.available)
      } is available (${budget.source}); ${cheaper}`,
    );
  }
  return { ...estimate, heapNeed, available: budget.available };
}

/**
 * Parses a size such as `"512M"`, `"2G"` or `"1048576"`.
 *
 * @example
 * ```ts
 * import { parseSize } from "./memory.ts";
 * if (parseSize("2K") !== 2048) throw new Error("unexpected");
 * ```
 *
 * @param text The size.
 * @returns Bytes, or undefined when it does not parse.
 */
export function parseSize(text: string): number | undefined {
  const match = text.trim().match(/^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i);
  if (!match) return undefined;
  const scale = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[
    match[2]!.toLowerCase() as "" | "k" | "m" | "g" | "t"
  ];
  return Math.floor(Number(match[1]) * scale);
}

function readLimitEnv(): number | undefined {
  const state = Deno.permissions.querySync({
    name: "env",
    variable: MEMORY_LIMIT_ENV,
  }).state;
  if (state !== "granted") return undefined;
  const text = Deno.env.get(MEMORY_LIMIT_ENV);
  return text === undefined ? undefined : parseSize(text);
}

function cgroupHeadroom(problems: string[]): [number, string] | undefined {
  const pid = linkedTarget()?.pid;
  const self = readText(`/proc/${pid ?? "self"}/cgroup`, problems);
  if (self === undefined) return undefined;
  const v2 = self.match(/^0::(.*)$/m)?.[1]?.trim();
  const v1 = self.match(/^\d+:(?:[^:]*,)?memory(?:,[^:]*)?:(.*)$/m)?.[1]
    ?.trim();
  if (v1 !== undefined) {
    const found = cgroupFiles(
      "/sys/fs/cgroup/memory",
      v1,
      "memory.limit_in_bytes",
      "memory.usage_in_bytes",
      problems,
    );
    if (found) return [found, "cgroup v1"];
  }
  if (v2 !== undefined) {
    const found = cgroupFiles(
      "/sys/fs/cgroup",
      v2,
      "memory.max",
      "memory.current",
      problems,
    );
    if (found) return [found, "cgroup v2"];
  }
  return undefined;
}

function cgroupFiles(
  mount: string,
  path: string,
  limitFile: string,
  usageFile: string,
  problems: string[],
): number | undefined {
  // Inside a cgroup namespace the process's own group is the mount root.
  for (const dir of [`${mount}${path === "/" ? "" : path}`, mount]) {
    const limitText = readText(`${dir}/${limitFile}`, problems, true);
    if (limitText === undefined) continue;
    const limit = Number(limitText.trim());
    if (
      limitText.trim() === "max" || !Number.isFinite(limit) || limit >= 2 ** 60
    ) {
      return undefined;
    }
    const usage = Number(readText(`${dir}/${usageFile}`, problems)?.trim());
    return Number.isFinite(usage) ? Math.max(0, limit - usage) : limit;
  }
  return undefined;
}

function readText(
  path: string,
  problems: string[],
  quietIfMissing = false,
): string | undefined {
  // Query first: reading without permission could prompt on a terminal.
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") {
    return undefined;
  }
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    const err = error as Error;
    if (err.name === "NotCapable") {
      // Deno 2.9 reserves /proc and /sys for --allow-all.
      return undefined;
    }
    if (!quietIfMissing) {
      problems.push(`${path}: ${err.name}`);
    }
    return undefined;
  }
}
