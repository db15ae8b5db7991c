/**
 * Process memory: the `mem()` report, how much memory the process may still
 * use (cgroup limit or MemAvailable), and whether a heap snapshot fits.
 *
 * @module
 */

import { getHeapStatistics } from "node:v8";
import { formatBytes, renderTable, withInspect } from "./report.ts";
import { captureStats } from "./toolkit_state.ts";
import { type OpenHandles, openHandles } from "./process_handles.ts";

/**
 * Peak RSS growth of a snapshot-based helper, as a multiple of heap used.
 * Measured on Deno 2.9.6 (x86_64 Linux, bench/heap_bench.ts): 32–35× for
 * `heap.snapshot()` (V8's snapshot generator plus Deno's inspector buffering,
 * before the first chunk reaches JS), up to 38× for `heap.top()` and the
 * other analyses (the worker's arrays come on top, as the allocator keeps
 * the capture's peak). 42 leaves ~10% headroom. Heaps dominated by a few huge
 * arrays of small integers snapshot far cheaper: the estimate errs on the
 * safe side.
 */
export const CAPTURE_MEMORY_FACTOR = 42;

/** Fixed headroom added to every estimate. */
const CAPTURE_MARGIN = 64 * 1024 * 1024;

/**
 * Peak growth of the V8 heap itself during a capture, as a multiple of heap
 * used. In-process, Deno delivers all of a snapshot's chunk messages at the
 * end of the capture, so the heap holds the snapshot text about twice (the
 * messages and their chunks) on top of the live heap, and the text is
 * 2.2–2.6× heap used (Deno 2.9.6, measured under
 * `--max-old-space-size=64`: 10.7 MiB used captured, 11.4 MiB used died of
 * "Reached heap limit"). 1 + 2 × 2.6 ≈ 6.2, rounded up to 6.5.
 */
export const V8_CAPTURE_FACTOR = 6.5;

/** Fixed V8 heap headroom added to the estimate. */
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
  /** Estimated peak RSS growth of a heap snapshot right now. */
  snapshotEstimate: number;
  /** V8's limit for the heap's old generation (`--max-old-space-size`). */
  heapLimit: number;
  /** Estimated V8 heap a snapshot would need right now (live heap included). */
  snapshotHeapEstimate: number;
  /** RSS around this process's last capture, or null before the first. */
  lastCapture: LastCaptureMemory | null;
  /** Open Deno resources by type, and file descriptors where readable. */
  handles: OpenHandles;
}

/** RSS before and after the last capture. */
export interface LastCaptureMemory {
  /** RSS just before it. */
  rssBefore: number;
  /** RSS once its garbage was collected. */
  rssAfter: number;
  /** Whether freed memory was handed back (`malloc_trim`, needs --allow-ffi). */
  trimmed: boolean;
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
  const usage = Deno.memoryUsage();
  const budget = availableMemory();
  const report: MemReport = {
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    heapTotal: usage.heapTotal,
    external: usage.external,
    arrayBuffers: null,
    available: budget.available,
    availableSource: budget.source,
    snapshotEstimate: estimateCapturePeak(usage.heapUsed),
    heapLimit: heapRoom().limit,
    snapshotHeapEstimate: estimateCaptureHeap(usage.heapUsed),
    lastCapture: lastCaptureMemory(),
    handles: openHandles(),
  };
  return withInspect(report, () => {
    const rows: Array<[string, string, string]> = [
      ["resident (rss)", formatBytes(report.rss), ""],
      ["heap used", formatBytes(report.heapUsed), ""],
      ["heap total", formatBytes(report.heapTotal), ""],
      ["external", formatBytes(report.external), "includes array buffers"],
      ["array buffers", "n/a", "Deno does not report them apart"],
      [
        "available",
        report.available === null ? "unknown" : formatBytes(report.available),
        budget.problem ?? report.availableSource,
      ],
      [
        "snapshot would need",
        formatBytes(report.snapshotEstimate),
        `~${CAPTURE_MEMORY_FACTOR}× heap used, of memory`,
      ],
      [
        "V8 heap limit",
        formatBytes(report.heapLimit),
        `a snapshot needs ~${
          formatBytes(report.snapshotHeapEstimate)
        } of it (~${V8_CAPTURE_FACTOR}× heap used)`,
      ],
    ];
    const handles = report.handles;
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
    const last = report.lastCapture;
    if (last) {
      rows.push(
        ["rss before last capture", formatBytes(last.rssBefore), ""],
        [
          "rss after last capture",
          formatBytes(last.rssAfter),
          last.trimmed
            ? "after a GC and malloc_trim"
            : "after a GC; freed native memory stays in rss (start with --allow-ffi=<libc.so.6> to return it)",
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

function lastCaptureMemory(): LastCaptureMemory | null {
  const stats = captureStats();
  if (stats.rssAfter === 0) return null;
  return {
    rssBefore: stats.rssBefore,
    rssAfter: stats.rssAfter,
    trimmed: stats.trimmed,
  };
}

/**
 * Estimates the peak extra RSS a heap snapshot would take.
 *
 * @param heapUsed Current V8 heap used, in bytes.
 * @returns Bytes.
 */
export function estimateCapturePeak(heapUsed: number): number {
  return Math.ceil(heapUsed * CAPTURE_MEMORY_FACTOR + CAPTURE_MARGIN);
}

/**
 * Estimates the V8 heap a capture needs at its peak, the live heap included.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { estimateCaptureHeap, V8_CAPTURE_FACTOR } from "./memory.ts";
 * assert.ok(estimateCaptureHeap(2 ** 20) > V8_CAPTURE_FACTOR * 2 ** 20);
 * ```
 *
 * @param heapUsed Current V8 heap used, in bytes.
 * @returns Bytes.
 */
export function estimateCaptureHeap(heapUsed: number): number {
  return Math.ceil(heapUsed * V8_CAPTURE_FACTOR + V8_CAPTURE_MARGIN);
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
  const stats = getHeapStatistics();
  // A build that reserves less than measured: count half, to err safe.
  const limit = stats.heap_size_limit > YOUNG_GENERATION_RESERVE
    ? stats.heap_size_limit - YOUNG_GENERATION_RESERVE
    : stats.heap_size_limit / 2;
  return { limit, used: stats.used_heap_size };
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
      Math.max(0, limit - Deno.memoryUsage().rss),
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
 * @returns The estimate, when it fits.
 */
export function ensureCaptureFits(
  what: string,
  room: HeapRoom = heapRoom(),
): number {
  const heapUsed = room.used;
  const cheaper =
    "cheaper alternatives: count(Ctor) counts live instances without a snapshot; alloc.start() then alloc.top() shows allocation sites";
  const heapNeed = estimateCaptureHeap(heapUsed);
  if (heapNeed > room.limit) {
    throw new RangeError(
      `Refusing ${what}: a heap snapshot needs about ${
        formatBytes(heapNeed)
      } of V8 heap (${V8_CAPTURE_FACTOR}× the ${
        formatBytes(heapUsed)
      } used) but V8's heap limit is ${
        formatBytes(room.limit)
      } (set by --max-old-space-size); V8 would abort the process. Restart with a larger --v8-flags=--max-old-space-size, or use the ${cheaper}`,
    );
  }
  const need = estimateCapturePeak(heapUsed);
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
      `Refusing ${what}: a heap snapshot needs about ${
        formatBytes(need)
      } (${CAPTURE_MEMORY_FACTOR}× the ${
        formatBytes(heapUsed)
      } heap) but only ${
        formatBytes(budget.available)
      } is available (${budget.source}); ${cheaper}`,
    );
  }
  return need;
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
  const self = readText("/proc/self/cgroup", problems);
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
