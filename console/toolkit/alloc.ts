/**
 * `alloc.start()`, `alloc.top()`, `alloc.stop()`: live bytes by allocation
 * site from V8's sampling heap profiler, like tracemalloc's "top 10 lines".
 *
 * @module
 */

import {
  formatBytes,
  formatCount,
  renderTable,
  withInspect,
} from "./report.ts";
import { post } from "./inspector.ts";

/** Options for `alloc.start()`. */
export interface AllocStartOptions {
  /** Average bytes between samples (default 32768; smaller is slower). */
  interval?: number;
}

/** What `alloc.start()` returns. */
export interface AllocStatus {
  /** Whether sampling runs now. */
  running: boolean;
  /** Sampling interval in bytes. */
  interval: number;
  /** True when it was already running (nothing changed). */
  alreadyRunning: boolean;
}

/**
 * One allocation site in `alloc.top()`. V8's sampling profiler attributes
 * bytes to functions, not lines: the position is where the allocating
 * function is defined, in the JavaScript Deno runs (types stripped, so a
 * TypeScript file's line can differ by a few).
 */
export interface AllocSite {
  /**
   * Function name, or `(anonymous)`; a native function is shown after the
   * script function that called it (`fetchUser › join`), at that caller's
   * position.
   */
  function: string;
  /** Script URL or path. */
  file: string;
  /** 1-based line of the function's definition. */
  line: number;
  /** 1-based column of the function's definition. */
  column: number;
  /** Estimated live bytes allocated here. */
  bytes: number;
  /** Samples taken here. */
  samples: number;
  /** Share of all sampled live bytes, 0..1. */
  share: number;
}

/** The allocation helpers. */
export interface AllocHelpers {
  /**
   * Starts sampling allocations (process-wide; it slows allocation, so it is
   * opt-in).
   *
   * @param options Sampling interval.
   * @returns Whether it runs now.
   */
  start(options?: AllocStartOptions): Promise<AllocStatus>;
  /**
   * Live bytes by allocation site, largest first.
   *
   * @param n Rows (default 10).
   * @returns Sites.
   */
  top(n?: number): Promise<AllocSite[]>;
  /**
   * Stops sampling.
   *
   * @param n Rows of the final report (default 10).
   * @returns The final top sites.
   */
  stop(n?: number): Promise<AllocSite[]>;
}

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  callFrame: CallFrame;
  selfSize: number;
  id: number;
  children: ProfileNode[];
}

interface SamplingProfile {
  head: ProfileNode;
  samples?: Array<{ size: number; nodeId: number }>;
}

const DEFAULT_INTERVAL = 32768;
let running: { interval: number } | undefined;

/**
 * Makes the allocation helpers. Sampling state is process-wide: one V8
 * isolate has one sampling profiler.
 *
 * @returns `start`, `top` and `stop`.
 */
export function createAlloc(): AllocHelpers {
  return { start, top, stop };
}

/** Stops sampling if it runs (for shutdown). */
export async function stopSampling(): Promise<void> {
  if (!running) return;
  running = undefined;
  await post("HeapProfiler.stopSampling");
}

async function start(options: AllocStartOptions = {}): Promise<AllocStatus> {
  const interval = options.interval ?? DEFAULT_INTERVAL;
  if (!Number.isInteger(interval) || interval < 1) {
    throw new RangeError(
      `alloc.start() interval must be a positive integer, got "${interval}"`,
    );
  }
  let status: AllocStatus;
  if (running) {
    status = {
      running: true,
      interval: running.interval,
      alreadyRunning: true,
    };
  } else {
    await post("HeapProfiler.startSampling", {
      samplingInterval: interval,
      includeObjectsCollectedByMajorGC: false,
      includeObjectsCollectedByMinorGC: false,
    });
    running = { interval };
    status = { running: true, interval, alreadyRunning: false };
  }
  return withInspect(
    status,
    () =>
      status.alreadyRunning
        ? `allocation sampling already running (every ~${
          formatBytes(status.interval)
        })`
        : `allocation sampling started (every ~${
          formatBytes(status.interval)
        }); alloc.top() to see sites, alloc.stop() when done`,
  );
}

async function top(n = 10): Promise<AllocSite[]> {
  if (!running) {
    throw new Error(
      "Allocation sampling is off: call alloc.start() first (it slows allocation, so it is opt-in)",
    );
  }
  const { profile } = await post<{ profile: SamplingProfile }>(
    "HeapProfiler.getSamplingProfile",
  );
  return report(profile, n);
}

async function stop(n = 10): Promise<AllocSite[]> {
  if (!running) {
    return withInspect([], () => "allocation sampling was not running");
  }
  const { profile } = await post<{ profile: SamplingProfile }>(
    "HeapProfiler.getSamplingProfile",
  );
  running = undefined;
  await post("HeapProfiler.stopSampling");
  return report(profile, n);
}

function report(profile: SamplingProfile, n: number): AllocSite[] {
  const samplesByNode = new Map<number, number>();
  for (const s of profile.samples ?? []) {
    samplesByNode.set(s.nodeId, (samplesByNode.get(s.nodeId) ?? 0) + 1);
  }
  const sites = new Map<string, AllocSite>();
  let total = 0;
  // A native frame (Array.prototype.join, Map.prototype.set...) is charged
  // to the nearest script frame that called it: "fetchUser › join".
  const stack: [ProfileNode, CallFrame | undefined][] = [[
    profile.head,
    undefined,
  ]];
  while (stack.length > 0) {
    const [node, caller] = stack.pop()!;
    const own = node.callFrame;
    const native = own.url === "" && caller !== undefined;
    const frame = native ? caller : own;
    for (const child of node.children) {
      stack.push([child, own.url === "" ? caller : own]);
    }
    if (node.selfSize === 0) continue;
    total += node.selfSize;
    const name = (native ? `${caller.functionName || "(anonymous)"} › ` : "") +
      (own.functionName || "(anonymous)");
    const key = `${name}\0${frame.url}\0${frame.lineNumber}`;
    let site = sites.get(key);
    if (!site) {
      site = {
        function: name,
        file: frame.url.replace(/^file:\/\//, ""),
        line: frame.lineNumber + 1,
        column: frame.columnNumber + 1,
        bytes: 0,
        samples: 0,
        share: 0,
      };
      sites.set(key, site);
    }
    site.bytes += node.selfSize;
    site.samples += samplesByNode.get(node.id) ?? 0;
  }
  const rows = [...sites.values()].sort((a, b) => b.bytes - a.bytes).slice(
    0,
    n,
  );
  for (const row of rows) row.share = total > 0 ? row.bytes / total : 0;
  return withInspect(rows, () => {
    if (rows.length === 0) return "no live sampled allocations yet";
    return renderTable(rows, [
      { title: "live", cell: (r) => formatBytes(r.bytes), right: true },
      {
        title: "share",
        cell: (r) => `${(r.share * 100).toFixed(1)}%`,
        right: true,
      },
      { title: "samples", cell: (r) => formatCount(r.samples), right: true },
      { title: "function", cell: (r) => r.function },
      {
        title: "defined at",
        cell: (r) => r.file ? `${r.file}:${r.line}:${r.column}` : "(native)",
      },
    ]) + `\n(total sampled live: ${formatBytes(total)})`;
  });
}
