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
import { holdExactFrames, scriptUrls } from "./exact_frames.ts";
import {
  type AllocationSite,
  rankSites,
  type SamplingProfile,
  unnamedScripts,
} from "./leak_attribution.ts";

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
 * One allocation site in `alloc.top()`: the innermost function of the
 * developer's own code on the allocation's stack (a console snippet's
 * function is marked as the console session's), what it called to allocate
 * after `›`, and the developer frames that led there. V8's sampling
 * profiler attributes bytes to functions, not lines: positions are where
 * functions are defined, mapped to the `.ts` source.
 */
export type AllocSite = AllocationSite;

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

const DEFAULT_INTERVAL = 32768;

/** Ends the exact frames `alloc.start()` holds. */
let releaseFrames: (() => Promise<void>) | undefined;

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
    // Inlining off while sampling, so sites name the allocating function.
    const frames = await holdExactFrames();
    try {
      await post("HeapProfiler.startSampling", {
        samplingInterval: interval,
        includeObjectsCollectedByMajorGC: false,
        includeObjectsCollectedByMinorGC: false,
      });
    } catch (error) {
      await frames.release();
      throw error;
    }
    releaseFrames = frames.release;
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
  // Console snippets are known by script id only, while frames are exact.
  const urls = await scriptUrls(unnamedScripts(profile.head)).catch(() =>
    new Map<string, string>()
  );
  if (stopSampling) {
    setSampling(undefined);
    try {
      await post("HeapProfiler.stopSampling");
    } finally {
      const release = releaseFrames;
      releaseFrames = undefined;
      await release?.();
    }
  }
  return await report(profile, request, urls);
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

async function report(
  profile: SamplingProfile,
  request: TopRequest,
  scriptUrls: ReadonlyMap<string, string>,
): Promise<AllocSite[]> {
  const { sites: rows, total, hidden } = await rankSites(profile, {
    n: request.n,
    all: request.all,
    scriptUrls,
  });
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
        cell: (r) =>
          r.file === ""
            ? "(native)"
            : `${r.file}:${r.line}:${r.column}${
              r.origin === "console session" ? " (console session)" : ""
            }`,
      },
      {
        title: "via",
        cell: (r) =>
          r.path.includes(" › ")
            ? r.path + (r.paths > 1 ? ` (+${r.paths - 1} more)` : "")
            : "",
      },
    ]) + `\n(total sampled live: ${formatBytes(total)}${note})`;
  });
}
