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
import { post, sampling, setSampling } from "./toolkit_state.ts";
import { isConsoleCode, isDeveloperCode } from "./console_code.ts";
import { mapToSource } from "./source_positions.ts";

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
 * function is defined, mapped to the `.ts` source through Deno's source maps.
 */
export interface AllocSite {
  /**
   * Function name, or `(anonymous)`; a native function is shown after the
   * script function that called it (`fetchUser › join`), at that caller's
   * position.
   */
  function: string;
  /** Source path, relative to the working directory when under it. */
  file: string;
  /** 1-based line of the function's definition in `file`. */
  line: number;
  /** 1-based column of the function's definition in `file`. */
  column: number;
  /** Whether the position went through a source map (false: emitted code). */
  mapped: boolean;
  /** Estimated live bytes allocated here. */
  bytes: number;
  /** Samples taken here. */
  samples: number;
  /** Share of all sampled live bytes, 0..1. */
  share: number;
}

/** Options of `alloc.top()` and `alloc.stop()`. */
export interface AllocTopOptions {
  /**
   * Include the console's own allocations (console, toolkit, evaluator and
   * what they call: acorn, sucrase, the inspector). Default false.
   */
  all?: boolean;
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
   * Live bytes by allocation site, largest first, without the console's own
   * allocations unless `{ all: true }`.
   *
   * @param n Rows (default 10), or the options.
   * @param options `all`: include the console's own allocations.
   * @returns Sites.
   */
  top(
    n?: number | AllocTopOptions,
    options?: AllocTopOptions,
  ): Promise<AllocSite[]>;
  /**
   * Stops sampling.
   *
   * @param n Rows of the final report (default 10), or the options.
   * @param options `all`: include the console's own allocations.
   * @returns The final top sites.
   */
  stop(
    n?: number | AllocTopOptions,
    options?: AllocTopOptions,
  ): Promise<AllocSite[]>;
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

/**
 * Makes the allocation helpers. Sampling state is process-wide: one V8
 * isolate has one sampling profiler.
 *
 * @returns `start`, `top` and `stop`.
 */
export function createAlloc(): AllocHelpers {
  return { start, top, stop };
}

async function start(options: AllocStartOptions = {}): Promise<AllocStatus> {
  const interval = options.interval ?? DEFAULT_INTERVAL;
  if (!Number.isInteger(interval) || interval < 1) {
    throw new RangeError(
      `alloc.start() interval must be a positive integer, got "${interval}"`,
    );
  }
  let status: AllocStatus;
  const running = sampling();
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
    setSampling({ interval });
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

function top(
  n?: number | AllocTopOptions,
  options?: AllocTopOptions,
): Promise<AllocSite[]> {
  return sampledSites("alloc.top()", n, options, { stopSampling: false });
}

function stop(
  n?: number | AllocTopOptions,
  options?: AllocTopOptions,
): Promise<AllocSite[]> {
  return sampledSites("alloc.stop()", n, options, { stopSampling: true });
}

/**
 * The sites of the running sampler's profile, for `alloc.top()` and
 * `alloc.stop()`; with `stopSampling` sampling ends once the profile is
 * taken. Apart from that they differ only when sampling is off: `top` has
 * nothing to show (an error), `stop` nothing to do (no rows).
 */
async function sampledSites(
  what: string,
  n: number | AllocTopOptions | undefined,
  options: AllocTopOptions | undefined,
  { stopSampling }: { stopSampling: boolean },
): Promise<AllocSite[]> {
  const request = topRequest(what, n, options);
  if (!sampling()) {
    if (stopSampling) {
      return withInspect([], () => "allocation sampling was not running");
    }
    throw new Error(
      "Allocation sampling is off: call alloc.start() first (it slows allocation, so it is opt-in)",
    );
  }
  const { profile } = await post<{ profile: SamplingProfile }>(
    "HeapProfiler.getSamplingProfile",
  );
  if (stopSampling) {
    setSampling(undefined);
    await post("HeapProfiler.stopSampling");
  }
  return await report(profile, request);
}

interface TopRequest {
  n: number;
  all: boolean;
}

function topRequest(
  what: string,
  n: number | AllocTopOptions | undefined,
  options: AllocTopOptions | undefined,
): TopRequest {
  if (typeof n === "object" && n !== null && options === undefined) {
    options = n;
    n = undefined;
  }
  const rows = n ?? 10;
  if (typeof rows !== "number" || !Number.isInteger(rows) || rows < 1) {
    throw new RangeError(
      `${what} row count must be a positive integer, got "${String(rows)}"`,
    );
  }
  if (options !== undefined && (typeof options !== "object" || !options)) {
    throw new TypeError(
      `${what} options must be an object like { all: true }, got "${
        String(options)
      }"`,
    );
  }
  return { n: rows, all: options?.all === true };
}

/** A site before its position is mapped. */
interface RawSite {
  function: string;
  frame: CallFrame;
  bytes: number;
  samples: number;
}

async function report(
  profile: SamplingProfile,
  request: TopRequest,
): Promise<AllocSite[]> {
  const samplesByNode = new Map<number, number>();
  for (const s of profile.samples ?? []) {
    samplesByNode.set(s.nodeId, (samplesByNode.get(s.nodeId) ?? 0) + 1);
  }
  const sites = new Map<string, RawSite>();
  let total = 0;
  let hidden = 0;
  // A native frame (Array.prototype.join, Map.prototype.set...) is charged
  // to the nearest script frame that called it: "fetchUser › join". The
  // nearest frame of the developer's code (not the runtime's, not an npm
  // package's) decides whether the console owns the allocation: acorn,
  // sucrase and the inspector count as the console's when it calls them.
  const stack: [ProfileNode, CallFrame | undefined, boolean][] = [[
    profile.head,
    undefined,
    false,
  ]];
  while (stack.length > 0) {
    const [node, caller, consoleOwned] = stack.pop()!;
    const own = node.callFrame;
    const native = own.url === "" && caller !== undefined;
    const frame = native ? caller : own;
    const owned = isDeveloperCode(own.url)
      ? isConsoleCode(own.url)
      : consoleOwned;
    for (const child of node.children) {
      stack.push([child, own.url === "" ? caller : own, owned]);
    }
    if (node.selfSize === 0) continue;
    total += node.selfSize;
    if (owned && !request.all) {
      hidden += node.selfSize;
      continue;
    }
    const name = (native ? `${caller.functionName || "(anonymous)"} › ` : "") +
      (own.functionName || "(anonymous)");
    const key =
      `${name}\0${frame.url}\0${frame.lineNumber}\0${frame.columnNumber}`;
    let site = sites.get(key);
    if (!site) {
      site = { function: name, frame, bytes: 0, samples: 0 };
      sites.set(key, site);
    }
    site.bytes += node.selfSize;
    site.samples += samplesByNode.get(node.id) ?? 0;
  }
  const chosen = [...sites.values()].sort((a, b) => b.bytes - a.bytes).slice(
    0,
    request.n,
  );
  const rows: AllocSite[] = [];
  for (const site of chosen) {
    const position = site.frame.url === "" ? undefined : await mapToSource(
      site.frame.url,
      site.frame.lineNumber,
      site.frame.columnNumber,
    );
    rows.push({
      function: site.function,
      file: position?.file ?? "",
      line: position?.line ?? 0,
      column: position?.column ?? 0,
      mapped: position?.mapped ?? false,
      bytes: site.bytes,
      samples: site.samples,
      share: total > 0 ? site.bytes / total : 0,
    });
  }
  return withInspect(rows, () => {
    const note = hidden > 0
      ? `; ${
        formatBytes(hidden)
      } of the console's own left out, alloc.top({ all: true }) shows it`
      : "";
    if (rows.length === 0) return `no live sampled allocations yet${note}`;
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
    ]) + `\n(total sampled live: ${formatBytes(total)}${note})`;
  });
}
