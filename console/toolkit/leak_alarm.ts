/**
 * The always-on leak alarm: watches the V8 heap used right after each full
 * (mark-sweep/mark-compact) GC through `node:v8` `GCProfiler`, feeds a
 * {@linkcode LeakDetector}, logs one line when it trips, then samples
 * allocations at a coarse interval for a bounded time and logs the top live
 * allocation sites. One alarm per process (one V8 heap).
 *
 * `GCProfiler` hands its records over only at `stop()`, so the watcher
 * stops and restarts it once per poll. A service that allocates little, or
 * whose old generation is far from its limit, may go minutes without a full
 * GC: when none came for `gcIntervalSeconds`, the watcher asks for one
 * with V8's own `gc()` (the inspector as a fallback), but never more often than keeps the time spent in
 * those GCs under 0.5% (a big heap's slow GC is asked for less often).
 *
 * @module
 */

import v8 from "node:v8";
import {
  type FloorSample,
  LeakDetector,
  type Transition,
} from "./leak_detector.ts";
import {
  formatSite,
  type LeakSite,
  type ProfileNode,
  topSites,
} from "./leak_attribution.ts";
import { formatBytes } from "./report.ts";

/**
 * Posts to the inspector, which (with the toolkit's process-wide state
 * behind it) is loaded the first time the alarm needs it: a trip, or a
 * forced GC without `gc()`. A service that never trips does not pay for it
 * at start-up. A literal specifier, so `deno compile` embeds it.
 */
async function post<T = unknown>(
  method: string,
  params?: Record<string, unknown>,
): Promise<T> {
  const inspector = await import("./inspector.ts");
  return await inspector.post<T>(method, params);
}

/** The alarm's settings (the `--leak-alarm-*` flags). */
export interface LeakAlarmOptions {
  /** How far back the trend looks, in seconds. */
  windowSeconds: number;
  /** Least growth over one window, in bytes. */
  minGrowthBytes: number;
  /** Least growth over one window, in percent of the floor at its start. */
  minGrowthPercent: number;
  /**
   * Longest time without a full GC before the alarm asks for one, in
   * seconds (an eighth of the window at most).
   */
  gcIntervalSeconds: number;
  /** How long the allocation sampling after a trip lasts, in seconds. */
  profileSeconds: number;
  /** Average bytes between allocation samples (default 256 KiB: coarse and cheap). */
  profileIntervalBytes?: number;
  /**
   * Most share of wall time the full GCs the alarm asks for may take
   * (default 0.005): after a GC of `c` ms it waits at least `c / budget` ms.
   */
  gcBudget?: number;
  /** How often the GC records are collected, in milliseconds (default 1000). */
  pollMs?: number;
  /** Where the alarm's lines go (default `console.error`). */
  log?: (line: string) => void;
}

/** The allocation sites found after a trip. */
export interface LeakAttribution {
  /** When the sampling ended (epoch milliseconds). */
  at: number;
  /** How long it sampled, in seconds. */
  seconds: number;
  /** Top live sites, largest first. */
  sites: LeakSite[];
  /** All live sampled bytes. */
  totalBytes: number;
  /** Why there are no sites, when sampling could not run. */
  problem?: string;
}

/** Most GC time the watcher's own requests may cost by default, as a share of wall time. */
const FORCED_GC_BUDGET = 0.005;
/** GCProfiler's `cost` is in nanoseconds in Deno 2.9.6 (measured against wall time). */
const COST_UNIT_MS = 1e-6;
const FULL_GC = "MarkSweepCompact";

interface GcRecord {
  gcType: string;
  cost: number;
  afterGC: { heapStatistics: { usedHeapSize: number } };
}

let active: LeakAlarm | undefined;
let fullGc: (() => void) | null | undefined;

/**
 * V8's `gc()`, exposed in a context of its own: one ordinary full GC. The
 * inspector's `HeapProfiler.collectGarbage` is a low-memory collection
 * instead (several passes that also drop compiled code): asked for every
 * few seconds it cost the hit path ~6% req/s in a probe, `gc()` nothing
 * measurable. `node:vm` loads with the first GC asked for (a literal
 * specifier, so `deno compile` embeds it): a busy service, whose own full
 * GCs feed the alarm, never needs it.
 */
async function exposedGc(): Promise<(() => void) | null> {
  if (fullGc !== undefined) return fullGc;
  try {
    const { default: vm } = await import("node:vm");
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc");
    fullGc = typeof gc === "function" ? () => gc() : null;
  } catch {
    fullGc = null;
  }
  return fullGc;
}

/**
 * The running alarm, if the service started one.
 *
 * @returns The alarm, or `undefined` when it is off.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { activeLeakAlarm } from "./leak_alarm.ts";
 * assert.equal(activeLeakAlarm(), undefined);
 * ```
 */
export function activeLeakAlarm(): LeakAlarm | undefined {
  return active;
}

/**
 * Starts the process's leak alarm (stopping any previous one).
 *
 * @param options The settings.
 * @returns The running alarm; call `stop()` at shutdown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { activeLeakAlarm, startLeakAlarm } from "./leak_alarm.ts";
 * const alarm = startLeakAlarm({
 *   windowSeconds: 60,
 *   minGrowthBytes: 8 * 2 ** 20,
 *   minGrowthPercent: 10,
 *   gcIntervalSeconds: 10,
 *   profileSeconds: 30,
 * });
 * assert.equal(activeLeakAlarm(), alarm);
 * await alarm.stop();
 * assert.equal(activeLeakAlarm(), undefined);
 * ```
 */
export function startLeakAlarm(options: LeakAlarmOptions): LeakAlarm {
  active?.stop();
  const alarm = new LeakAlarm(options);
  active = alarm;
  return alarm;
}

/** A running leak alarm; see {@linkcode startLeakAlarm}. */
export class LeakAlarm {
  /** The settings in force. */
  readonly options: Readonly<LeakAlarmOptions>;
  /** The trip/clear logic and the floor's history. */
  readonly detector: LeakDetector;
  /** Full-GC samples taken since start. */
  samplesTotal = 0;
  /** Full GCs the alarm asked for since start. */
  forcedGcs = 0;
  /** The latest attribution, if it ever tripped. */
  lastAttribution: LeakAttribution | undefined;
  /** Whether allocation sampling runs now (after a trip). */
  sampling = false;
  /** Why the alarm cannot ask for GCs or sample, if it cannot. */
  inspectorProblem: string | undefined;
  /** When the alarm started (epoch milliseconds). */
  readonly startedAt = Date.now();

  #profiler = new v8.GCProfiler();
  #poll: ReturnType<typeof setInterval>;
  #profileTimer: ReturnType<typeof setTimeout> | undefined;
  #lastFullGcAt = performance.now();
  #lastFullGcMs = 0;
  #forcing = false;
  #stopped = false;
  #log: (line: string) => void;

  /** @param options The settings. */
  constructor(options: LeakAlarmOptions) {
    this.options = options;
    this.detector = new LeakDetector({
      windowMs: options.windowSeconds * 1000,
      minGrowthBytes: options.minGrowthBytes,
      minGrowthRatio: options.minGrowthPercent / 100,
    });
    this.#log = options.log ?? ((line) => console.error(line));
    this.#profiler.start();
    this.#poll = setInterval(() => this.#collect(), options.pollMs ?? 1000);
    // The alarm watches; it never keeps the process alive.
    Deno.unrefTimer(this.#poll);
  }

  /** The latest floor sample, if any. */
  get latest(): FloorSample | undefined {
    return this.detector.history.at(-1);
  }

  /** Stops watching, and the allocation sampling if it runs. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (active === this) active = undefined;
    clearInterval(this.#poll);
    this.#profiler.stop();
    if (this.#profileTimer !== undefined) clearTimeout(this.#profileTimer);
    if (this.sampling) {
      this.sampling = false;
      await post("HeapProfiler.stopSampling").catch(() => {});
    }
  }

  #collect(): void {
    const records = (this.#profiler.stop() as { statistics?: GcRecord[] })
      ?.statistics ?? [];
    this.#profiler.start();
    let floor: number | undefined;
    for (const record of records) {
      if (record.gcType !== FULL_GC) continue;
      // The last full GC of the batch: a forced collection runs several
      // passes, and the last one left the true floor.
      floor = record.afterGC.heapStatistics.usedHeapSize;
      this.#lastFullGcMs = record.cost * COST_UNIT_MS;
    }
    const now = performance.now();
    if (floor !== undefined) {
      this.#lastFullGcAt = now;
      this.samplesTotal++;
      this.#react(this.detector.add({ at: Date.now(), bytes: floor }));
      return;
    }
    const quiet = now - this.#lastFullGcAt;
    // At least ~8 samples per window, whatever the interval says, unless
    // the GC-time budget forbids it.
    const interval = Math.min(
      this.options.gcIntervalSeconds,
      this.options.windowSeconds / 8,
    );
    const spacing = Math.max(
      interval * 1000,
      this.#lastFullGcMs / (this.options.gcBudget ?? FORCED_GC_BUDGET),
    );
    if (quiet >= spacing) this.#forceFullGc();
  }

  #forceFullGc(): void {
    if (this.#forcing || this.inspectorProblem !== undefined) return;
    this.#forcing = true;
    this.#askForFullGc().finally(() => {
      this.#forcing = false;
      // The next poll reads this GC's record.
      this.#lastFullGcAt = performance.now();
    });
  }

  async #askForFullGc(): Promise<void> {
    const gc = await exposedGc();
    if (this.#stopped) return;
    this.forcedGcs++;
    if (gc !== null) {
      gc();
      return;
    }
    await post("HeapProfiler.collectGarbage").catch((error: Error) => {
      this.inspectorProblem = error.message;
      this.#log(
        `leak alarm: cannot ask for full GCs (${error.message}); it now waits for the ones V8 runs by itself`,
      );
    });
  }

  #react(change: Transition): void {
    if (change === "tripped") {
      const a = this.detector.assessment;
      this.#log(
        `leak alarm: heap after full GC growing ${
          formatBytes(a.bytesPerSecond)
        }/s over the last ${this.options.windowSeconds} s (${a.samples} samples): floor ${
          formatBytes(a.floorThen)
        } then, ${
          formatBytes(a.floorNow)
        } now; sampling allocations for ${this.options.profileSeconds} s to name the sites`,
      );
      this.#attribute();
    } else if (change === "cleared") {
      const a = this.detector.assessment;
      this.#log(
        `leak alarm cleared: heap after full GC no longer growing (${
          formatBytes(a.recentBytesPerSecond)
        }/s lately), floor ${formatBytes(a.floorNow)}`,
      );
    }
  }

  #attribute(): void {
    if (this.sampling) return;
    const seconds = this.options.profileSeconds;
    const interval = this.options.profileIntervalBytes ?? 256 * 1024;
    this.sampling = true;
    post("HeapProfiler.startSampling", {
      samplingInterval: interval,
      includeObjectsCollectedByMajorGC: false,
      includeObjectsCollectedByMinorGC: false,
    }).then(() => {
      if (this.#stopped) {
        return post("HeapProfiler.stopSampling").then(() => {});
      }
      const timer = setTimeout(() => {
        this.#profileTimer = undefined;
        this.#finishAttribution(seconds);
      }, seconds * 1000);
      Deno.unrefTimer(timer);
      this.#profileTimer = timer;
    }).catch((error: Error) => {
      this.sampling = false;
      this.#recordAttribution({
        at: Date.now(),
        seconds: 0,
        sites: [],
        totalBytes: 0,
        problem:
          `allocation sampling could not start (${error.message}); if a console runs alloc.start(), see alloc.top()`,
      });
    });
  }

  async #finishAttribution(seconds: number): Promise<void> {
    try {
      const { profile } = await post<{ profile: { head: ProfileNode } }>(
        "HeapProfiler.getSamplingProfile",
      );
      const { sites, total } = await topSites(profile.head, 5);
      this.#recordAttribution({
        at: Date.now(),
        seconds,
        sites,
        totalBytes: total,
      });
    } catch (error) {
      this.#recordAttribution({
        at: Date.now(),
        seconds,
        sites: [],
        totalBytes: 0,
        problem: `allocation sampling failed (${(error as Error).message})`,
      });
    } finally {
      this.sampling = false;
      await post("HeapProfiler.stopSampling").catch(() => {});
    }
  }

  #recordAttribution(attribution: LeakAttribution): void {
    if (this.#stopped) return;
    this.lastAttribution = attribution;
    if (attribution.problem !== undefined) {
      this.#log(`leak alarm: no allocation sites: ${attribution.problem}`);
      return;
    }
    const list = attribution.sites.map((site, i) =>
      `${i + 1}) ${formatSite(site)}`
    ).join("; ");
    this.#log(
      `leak alarm: top live allocation sites after ${attribution.seconds} s of sampling (${
        formatBytes(attribution.totalBytes)
      } sampled): ${list || "none sampled"}`,
    );
  }
}
