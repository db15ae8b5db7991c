/**
 * The always-on leak alarm. Right after each full (mark-sweep/compact) GC
 * it reads five floors, each fed to its own {@linkcode LeakDetector}:
 *
 * - `heap`: V8 heap used (what JavaScript objects keep);
 * - `external`: V8's external memory (ArrayBuffer and typed-array backing
 *   stores, and what native code reports to V8);
 * - `native`: RSS less the V8 heap and the external memory (what the
 *   runtime and native libraries hold: zlib streams, sqlite, workers...);
 * - `resources`: Deno's open resources (files, sockets, fetch bodies...);
 * - `fds`: open file descriptors, only where `/proc/self/fd` is readable.
 *
 * It logs one line when one trips, then, for the memory floors, samples
 * allocations for a bounded time (inlining off, see `exact_frames.ts`) and
 * logs the top live allocation sites. One alarm per process (one V8 heap).
 *
 * `GCProfiler` hands its records over only at `stop()`, so the watcher
 * stops and restarts it once per poll. A service that allocates little may
 * go minutes without a full GC: when none came for a tenth of the window
 * (or `gcIntervalSeconds`, if shorter), the watcher runs one with V8's own
 * `gc()`, but never more often than keeps the time its own GCs take under
 * `gcBudget` of wall time (0.5%, measured on its GCs, not V8's). Samples
 * taken while the toolkit captures a heap (see `memory_disturbance.ts`)
 * are ignored, and the native floor is judged afresh after one.
 *
 * @module
 */

import v8 from "node:v8";
import {
  type Assessment,
  type FloorSample,
  LeakDetector,
  type Transition,
} from "./leak_detector.ts";
import {
  type AllocationSite,
  formatSite,
  type SamplingProfile,
} from "./leak_attribution.ts";
import { recentDisturbance } from "./memory_disturbance.ts";
import type { ResourceOrigin } from "./resource_origins.ts";
import { describeResource, openHandles } from "./process_handles.ts";
import { formatAmount, formatBytes, formatRate, formatSpan } from "./report.ts";

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
  /** Least growth of a memory floor over one window, in bytes. */
  minGrowthBytes: number;
  /** Least growth over one window, in percent of the floor at its start. */
  minGrowthPercent: number;
  /**
   * Longest time without a full GC before the alarm asks for one, in
   * seconds (a tenth of the window at most).
   */
  gcIntervalSeconds: number;
  /** How long the allocation sampling after a trip lasts, in seconds. */
  profileSeconds: number;
  /**
   * Average bytes between allocation samples (default: for a JS heap trip,
   * chosen from the heap's growth so that about 64 samples land on what
   * leaks, between 32 KiB and 256 KiB; for external or native memory, whose
   * JS objects are small, 8 KiB).
   */
  profileIntervalBytes?: number;
  /** Least growth of open resources or descriptors over one window (default 32). */
  minGrowthHandles?: number;
  /** The slow-leak horizon, in windows (default 4; 1 turns it off). */
  longWindows?: number;
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

/** What the alarm watches. */
export type WatchKind = "heap" | "external" | "native" | "resources" | "fds";

/** How a watch is measured and named. */
export interface WatchSpec {
  /** Bytes or a count. */
  unit: "bytes" | "count";
  /** What it measures, in a developer's words. */
  what: string;
  /** A short name for tables. */
  title: string;
}

/** The watches, in the order they are reported. */
export const WATCHES: Readonly<Record<WatchKind, WatchSpec>> = {
  heap: { unit: "bytes", what: "JS heap after full GC", title: "JS heap" },
  external: {
    unit: "bytes",
    what: "external memory after full GC (ArrayBuffers, typed arrays, Buffers)",
    title: "external (ArrayBuffers)",
  },
  native: {
    unit: "bytes",
    what:
      "native memory after full GC (RSS outside the JS heap and external memory)",
    title: "native (RSS − heap − external)",
  },
  resources: {
    unit: "count",
    what: "open Deno resources (files, sockets, fetch bodies...)",
    title: "Deno resources",
  },
  fds: {
    unit: "count",
    what: "open file descriptors",
    title: "file descriptors",
  },
};

/** The allocation sites found after a trip. */
export interface LeakAttribution {
  /** When the sampling ended (epoch milliseconds). */
  at: number;
  /** What tripped. */
  watch: WatchKind;
  /** How long it sampled, in seconds. */
  seconds: number;
  /** Average bytes between samples. */
  intervalBytes: number;
  /** Whether inlining was off while sampling (false: sites may name callers). */
  exactFrames: boolean;
  /** Top live sites, largest first (memory trips). */
  sites: AllocationSite[];
  /**
   * Where the resources opened while it watched and still open were
   * opened, most first (resource and descriptor trips).
   */
  origins?: ResourceOrigin[];
  /** All live sampled bytes. */
  totalBytes: number;
  /** Why there are no sites, when sampling could not run. */
  problem?: string;
}

/** Every reading taken at one full GC. */
export interface FloorReadings {
  /** When (epoch milliseconds). */
  at: number;
  /** V8 heap used after the GC, bytes. */
  heap: number;
  /** V8 external memory after the GC, bytes. */
  external: number;
  /** Resident set size, bytes. */
  rss: number;
  /** RSS less the V8 heap's size and the external memory, bytes. */
  native: number;
  /** Open Deno resources. */
  resources: number;
  /** The same by type. */
  resourcesByType: Record<string, number>;
  /** Open file descriptors, null when unreadable. */
  fds: number | null;
  /** Their soft limit, null when unknown. */
  maxFds: number | null;
}

/**
 * The alarm's state as plain numbers, what `/metrics` shows: read it at
 * each scrape. `NaN` stands for "nothing to say yet" (no full GC seen, a
 * window not yet covered, a count that cannot be read), never 0.
 */
export interface LeakAlarmReadings {
  /** V8 heap used after the latest full GC, bytes. */
  floorBytes: number;
  /** Theil–Sen growth of that floor over the alarm's window, bytes/s. */
  growthBytesPerSecond: number;
  /** Whether the alarm suspects a leak of any kind now. */
  suspected: boolean;
  /** Full-GC samples taken since start. */
  samples: number;
  /** V8's heap size limit (`--max-old-space-size`), bytes. */
  heapLimitBytes: number;
  /** External memory (ArrayBuffers...) after the latest full GC, bytes. */
  externalFloorBytes: number;
  /** Its growth over the window, bytes/s. */
  externalGrowthBytesPerSecond: number;
  /** RSS right after the latest full GC, bytes. */
  rssFloorBytes: number;
  /** RSS less the V8 heap and external memory then, bytes. */
  nativeFloorBytes: number;
  /** Its growth over the window, bytes/s. */
  nativeGrowthBytesPerSecond: number;
  /** Open Deno resources at the latest sample. */
  openResources: number;
  /** Their growth over the window, per second. */
  openResourcesGrowthPerSecond: number;
  /** Open file descriptors (`NaN` unless `/proc/self/fd` is readable). */
  openFds: number;
  /** Whether the JS heap floor is suspected. */
  heapSuspected: boolean;
  /** Whether the external memory floor is suspected. */
  externalSuspected: boolean;
  /** Whether the native memory floor is suspected. */
  nativeSuspected: boolean;
  /** Whether open resources or descriptors are suspected. */
  handlesSuspected: boolean;
  /** Full GCs the alarm ran itself since start. */
  forcedGcs: number;
  /** Samples ignored (taken during or just after a heap capture). */
  ignoredSamples: number;
}

/** Most GC time the watcher's own requests may cost by default, as a share of wall time. */
const FORCED_GC_BUDGET = 0.005;
/** Samples asked for per window when V8 runs no full GC by itself. */
const SAMPLES_PER_WINDOW = 10;
const FULL_GC = "MarkSweepCompact";
const DEFAULT_MIN_GROWTH_HANDLES = 32;
/** Bounds of the adaptive sampling interval after a JS heap trip. */
const MIN_PROFILE_INTERVAL = 32 * 1024;
const MAX_PROFILE_INTERVAL = 256 * 1024;
/**
 * The interval after an external or native trip: what leaks there is held
 * by small JS objects (a Uint8Array, a zlib handle), a few hundred bytes
 * each. A service allocating 20 MB/s takes ~2 500 samples a second at it.
 */
const SMALL_HOLDERS_INTERVAL = 8 * 1024;

interface HeapStatistics {
  usedHeapSize: number;
  externalMemory?: number;
}

interface GcRecord {
  gcType: string;
  cost: number;
  afterGC: { heapStatistics: HeapStatistics };
}

let active: LeakAlarm | undefined;
let fullGc: (() => void) | null | undefined;
let loadingGc: Promise<unknown> | undefined;
/** The process's CPU time so far, in microseconds (user + system). */
let cpuMicros: () => number = () => 0;

/**
 * V8's `gc()`, exposed in a context of its own: one ordinary full GC. The
 * inspector's `HeapProfiler.collectGarbage` is a low-memory collection
 * instead (several passes that also drop compiled code): asked for every
 * few seconds it cost the hit path ~6% req/s in a probe, `gc()` nothing
 * measurable. `node:vm` loads with the first GC asked for (a literal
 * specifier, so `deno compile` embeds it): a busy service, whose own full
 * GCs feed the alarm, never needs it.
 */
function loadExposedGc(): void {
  loadingGc ??= (async () => {
    try {
      const { default: process } = await import("node:process");
      cpuMicros = () => {
        const { user, system } = process.cpuUsage();
        return user + system;
      };
      const { default: vm } = await import("node:vm");
      v8.setFlagsFromString("--expose-gc");
      const gc = vm.runInNewContext("gc");
      fullGc = typeof gc === "function" ? () => gc() : null;
    } catch {
      fullGc = null;
    }
  })();
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
 * assert.equal(alarm.readings().suspected, false);
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
  /** One detector per watch (no `fds` when descriptors cannot be counted). */
  readonly detectors: Readonly<Partial<Record<WatchKind, LeakDetector>>>;
  /** Full-GC samples taken since start. */
  samplesTotal = 0;
  /** Full GCs the alarm ran itself since start. */
  forcedGcs = 0;
  /** CPU time the alarm's latest own GC took, in ms. */
  lastForcedGcMs = 0;
  /** Samples ignored since start, and why the latest was. */
  ignored = { samples: 0, reason: "" };
  /** The latest attribution, if it ever tripped. */
  lastAttribution: LeakAttribution | undefined;
  /** Whether allocation sampling runs now (after a trip). */
  sampling = false;
  /** Why the alarm cannot ask for GCs or sample, if it cannot. */
  inspectorProblem: string | undefined;
  /** The readings at the latest sample. */
  latestReadings: FloorReadings | undefined;
  /** When the alarm started (epoch milliseconds). */
  readonly startedAt = Date.now();

  #profiler = new v8.GCProfiler();
  #poll: ReturnType<typeof setInterval>;
  #profileTimer: ReturnType<typeof setTimeout> | undefined;
  #lastFullGcAt = performance.now();
  #stopped = false;
  #rebaselineNative: string | undefined;
  #resourceHistory: Array<{ at: number; byType: Record<string, number> }> = [];
  #heapLimit = v8.getHeapStatistics().heap_size_limit;
  #log: (line: string) => void;

  /** @param options The settings. */
  constructor(options: LeakAlarmOptions) {
    this.options = options;
    const windowMs = options.windowSeconds * 1000;
    const bytes = {
      windowMs,
      minGrowth: options.minGrowthBytes,
      minGrowthRatio: options.minGrowthPercent / 100,
      longWindows: options.longWindows ?? 4,
    };
    const handles = {
      ...bytes,
      minGrowth: options.minGrowthHandles ?? DEFAULT_MIN_GROWTH_HANDLES,
    };
    this.detectors = {
      heap: new LeakDetector(bytes),
      external: new LeakDetector(bytes),
      native: new LeakDetector(bytes),
      resources: new LeakDetector(handles),
      ...(openHandles().fds === null ? {} : { fds: new LeakDetector(handles) }),
    };
    this.#log = options.log ?? ((line) => console.error(line));
    this.#profiler.start();
    this.#poll = setInterval(() => this.#collect(), options.pollMs ?? 1000);
    // The alarm watches; it never keeps the process alive.
    Deno.unrefTimer(this.#poll);
  }

  /** The JS heap's detector. */
  get detector(): LeakDetector {
    return this.detectors.heap!;
  }

  /** The latest JS heap floor sample, if any. */
  get latest(): FloorSample | undefined {
    return this.detector.history.at(-1);
  }

  /** The watches that suspect a leak now. */
  get suspects(): WatchKind[] {
    return watchKinds(this).filter((kind) => this.detectors[kind]!.suspected);
  }

  /**
   * The alarm's state as plain numbers (see {@linkcode LeakAlarmReadings}).
   *
   * @returns A fresh object.
   */
  readings(): LeakAlarmReadings {
    const d = this.detectors;
    const r = this.latestReadings;
    const rate = (kind: WatchKind) => {
      const a = d[kind]?.assessment;
      return a?.judged ? a.perSecond : NaN;
    };
    return {
      floorBytes: r?.heap ?? NaN,
      growthBytesPerSecond: rate("heap"),
      suspected: this.suspects.length > 0,
      samples: this.samplesTotal,
      heapLimitBytes: this.#heapLimit,
      externalFloorBytes: r?.external ?? NaN,
      externalGrowthBytesPerSecond: rate("external"),
      rssFloorBytes: r?.rss ?? NaN,
      nativeFloorBytes: r?.native ?? NaN,
      nativeGrowthBytesPerSecond: rate("native"),
      openResources: r?.resources ?? NaN,
      openResourcesGrowthPerSecond: rate("resources"),
      openFds: r?.fds ?? NaN,
      heapSuspected: d.heap!.suspected,
      externalSuspected: d.external!.suspected,
      nativeSuspected: d.native!.suspected,
      handlesSuspected: d.resources!.suspected || (d.fds?.suspected ?? false),
      forcedGcs: this.forcedGcs,
      ignoredSamples: this.ignored.samples,
    };
  }

  /**
   * How often the alarm asks for a full GC when V8 runs none, in ms: a
   * tenth of the window (or `gcIntervalSeconds`), stretched so its own GCs
   * stay within the time budget.
   *
   * @returns Milliseconds.
   */
  gcSpacingMs(): number {
    const interval = Math.min(
      this.options.gcIntervalSeconds,
      this.options.windowSeconds / SAMPLES_PER_WINDOW,
    );
    return Math.max(
      interval * 1000,
      this.lastForcedGcMs / (this.options.gcBudget ?? FORCED_GC_BUDGET),
    );
  }

  /** Stops watching, and the allocation sampling if it runs. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (active === this) active = undefined;
    clearInterval(this.#poll);
    this.#profiler.stop();
    this.#stopTracing?.();
    if (this.#profileTimer !== undefined) clearTimeout(this.#profileTimer);
    if (this.sampling) {
      this.sampling = false;
      await this.#endSampling();
    }
  }

  #records(): GcRecord[] {
    const records = (this.#profiler.stop() as { statistics?: GcRecord[] })
      ?.statistics ?? [];
    this.#profiler.start();
    return records;
  }

  #collect(): void {
    let full = lastFullGc(this.#records());
    const now = performance.now();
    if (full === undefined && now - this.#lastFullGcAt >= this.gcSpacingMs()) {
      full = this.#forceFullGc();
    }
    if (full === undefined) return;
    this.#lastFullGcAt = performance.now();
    this.samplesTotal++;
    const usage = Deno.memoryUsage();
    const handles = openHandles();
    const after = full.afterGC.heapStatistics;
    const external = after.externalMemory ?? usage.external;
    const readings: FloorReadings = {
      at: Date.now(),
      heap: after.usedHeapSize,
      external,
      rss: usage.rss,
      native: Math.max(0, usage.rss - usage.heapTotal - usage.external),
      resources: handles.resources,
      resourcesByType: handles.byType,
      fds: handles.fds,
      maxFds: handles.maxFds,
    };
    this.latestReadings = readings;
    const disturbance = recentDisturbance(
      2 * (this.options.pollMs ?? 1000) + 1000,
    );
    if (disturbance !== undefined) {
      this.ignored = {
        samples: this.ignored.samples + 1,
        reason: disturbance.reason,
      };
      this.#rebaselineNative = disturbance.reason;
      return;
    }
    if (this.#rebaselineNative !== undefined) {
      // The allocator keeps what a capture used: RSS stays higher for good.
      this.detectors.native!.rebaseline(
        readings.at,
        `after a ${this.#rebaselineNative}`,
      );
      this.#rebaselineNative = undefined;
    }
    this.#resourceHistory.push({ at: readings.at, byType: handles.byType });
    if (this.#resourceHistory.length > 600) this.#resourceHistory.shift();
    const values: Record<WatchKind, number | null> = {
      heap: readings.heap,
      external: readings.external,
      native: readings.native,
      resources: readings.resources,
      fds: readings.fds,
    };
    for (const kind of watchKinds(this)) {
      const value = values[kind];
      if (value === null) continue;
      const change = this.detectors[kind]!.add({
        at: readings.at,
        bytes: value,
      });
      this.#react(kind, change);
    }
  }

  /**
   * Runs one full GC now if `gc()` is ready, and returns its record;
   * without `gc()`, asks the inspector for one (its record comes with the
   * next poll).
   */
  #forceFullGc(): GcRecord | undefined {
    if (fullGc === undefined) {
      // The next poll runs it, once node:vm is loaded.
      loadExposedGc();
      return undefined;
    }
    if (fullGc === null) {
      this.#fallBackToInspector();
      return undefined;
    }
    // Whatever GCs ran since the last poll are in this batch, ours last.
    // Its cost is the CPU it took (V8's helper threads included), bounded
    // by wall time: on a busy machine, waiting for a core costs the
    // service nothing.
    const started = performance.now();
    const cpu = cpuMicros();
    fullGc();
    const wall = performance.now() - started;
    const cpuMs = (cpuMicros() - cpu) / 1000;
    this.lastForcedGcMs = Math.min(wall, cpuMs);
    this.forcedGcs++;
    return lastFullGc(this.#records());
  }

  #inspectorGc: Promise<unknown> | undefined;

  #fallBackToInspector(): void {
    if (this.inspectorProblem !== undefined || this.#inspectorGc) return;
    this.forcedGcs++;
    const started = performance.now();
    this.#inspectorGc = post("HeapProfiler.collectGarbage").then(() => {
      this.lastForcedGcMs = performance.now() - started;
    }, (error: Error) => {
      this.inspectorProblem = error.message;
      this.#log(
        `leak alarm: cannot ask for full GCs (${error.message}); it now waits for the ones V8 runs by itself`,
      );
    }).finally(() => {
      this.#inspectorGc = undefined;
      this.#lastFullGcAt = performance.now();
    });
  }

  #react(kind: WatchKind, change: Transition): void {
    if (change === undefined) return;
    const spec = WATCHES[kind];
    const a = this.detectors[kind]!.assessment;
    if (change === "cleared") {
      this.#log(
        `leak alarm cleared: ${spec.what} no longer growing (${
          formatRate(a.recentPerSecond, spec.unit)
        } lately), ${
          formatAmount(a.now, spec.unit)
        } now; the alarm keeps watching`,
      );
      return;
    }
    const measured = `leak alarm: ${spec.what} growing ${
      formatRate(a.perSecond, spec.unit)
    } over the last ${formatSpan(a.horizonMs)} (${a.samples} samples): ${
      formatAmount(a.then, spec.unit)
    } then, ${formatAmount(a.now, spec.unit)} now`;
    if (spec.unit === "count") {
      this.#log(`${measured}; ${this.#handleNews(kind, a)}`);
      return;
    }
    if (this.sampling) {
      this.#log(
        `${measured}; allocation sampling already runs (started by an earlier trip), its sites follow`,
      );
      return;
    }
    const holders = kind === "heap"
      ? "to name the sites"
      : "to name the code that keeps the JS objects holding it";
    this.#log(
      `${measured}; sampling allocations for ${this.options.profileSeconds} s ${holders}`,
    );
    this.#attribute(kind);
  }

  /** What grew among the handles, and what the alarm does about it. */
  #handleNews(kind: WatchKind, a: Assessment): string {
    if (kind === "fds" && !this.detectors.resources!.suspected) {
      return "Deno resources did not grow with them: descriptors opened outside Deno's API (node:fs, node:net, native libraries) and never closed; the alarm keeps watching, leak() shows the counts";
    }
    const now = this.#resourceHistory.at(-1)?.byType ?? {};
    const start = Date.now() - a.horizonMs;
    const then = this.#resourceHistory.find((h) => h.at >= start)?.byType ??
      {};
    const deltas = Object.entries(now)
      .map(([type, n]) => [type, n - (then[type] ?? 0)] as const)
      .filter(([, delta]) => delta > 0)
      .sort((x, y) => y[1] - x[1]);
    // Connections come and go meanwhile: a type that gained a tenth of
    // what the first one did is not what grows.
    const grown = deltas
      .filter(([, delta]) => delta >= deltas[0]![1] / 10)
      .slice(0, 3)
      .map(([type, delta]) => `${type} +${delta} (${describeResource(type)})`);
    const next = this.#tracing
      ? "the alarm already watches where resources are opened, its report follows"
      : `watching for ${this.options.profileSeconds} s where they are opened to name the code`;
    if (!this.#tracing) this.#traceOrigins(kind);
    return `${
      grown.length > 0 ? `growing: ${grown.join(", ")}` : "no type stands out"
    }; ${next}`;
  }

  #tracing = false;

  /** Records for a while where resources are opened, then logs the sites still holding them. */
  async #traceOrigins(kind: WatchKind): Promise<void> {
    this.#tracing = true;
    const seconds = this.options.profileSeconds;
    let origins: ResourceOrigin[];
    try {
      const { traceResourceOrigins } = await import("./resource_origins.ts");
      const trace = traceResourceOrigins();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, seconds * 1000);
        Deno.unrefTimer(timer);
        this.#stopTracing = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      origins = await trace.finish(5);
    } catch (error) {
      this.#log(
        `leak alarm: cannot tell where resources are opened (${
          (error as Error).message
        }); the alarm keeps watching`,
      );
      return;
    } finally {
      this.#stopTracing = undefined;
      this.#tracing = false;
    }
    if (this.#stopped) return;
    this.lastAttribution = {
      at: Date.now(),
      watch: kind,
      seconds,
      intervalBytes: 0,
      exactFrames: true,
      sites: [],
      totalBytes: 0,
      origins,
    };
    const list = origins.map((o, i) => `${i + 1}) ${formatOrigin(o)}`).join(
      "; ",
    );
    this.#log(
      `leak alarm: resources opened in the last ${seconds} s and still open, by the code that opened them: ${
        list ||
        "none through the Deno functions it watches (Deno.open, Deno.connect...): the runtime opened them itself (Deno.serve's connections), or the code calls those functions through a reference of its own"
      }; leak() shows them again, the alarm keeps watching`,
    );
  }

  #stopTracing: (() => void) | undefined;

  /** The sampling interval: ~64 samples on what the heap floor gains meanwhile. */
  #profileInterval(kind: WatchKind): number {
    if (this.options.profileIntervalBytes !== undefined) {
      return this.options.profileIntervalBytes;
    }
    if (kind !== "heap") return SMALL_HOLDERS_INTERVAL;
    const a = this.detectors.heap!.assessment;
    const growth = a.judged && a.perSecond > 0
      ? a.perSecond * this.options.profileSeconds
      : 0;
    const target = growth / 64;
    let interval = MIN_PROFILE_INTERVAL;
    while (interval * 2 <= Math.min(target, MAX_PROFILE_INTERVAL)) {
      interval *= 2;
    }
    return interval;
  }

  #attribute(kind: WatchKind): void {
    const seconds = this.options.profileSeconds;
    const interval = this.#profileInterval(kind);
    this.sampling = true;
    this.#startSampling(interval).then((exact) => {
      if (this.#stopped) return this.#endSampling();
      const timer = setTimeout(() => {
        this.#profileTimer = undefined;
        this.#finishAttribution(kind, seconds, interval, exact);
      }, seconds * 1000);
      Deno.unrefTimer(timer);
      this.#profileTimer = timer;
    }).catch((error: Error) => {
      this.sampling = false;
      this.#endSampling();
      this.#recordAttribution({
        at: Date.now(),
        watch: kind,
        seconds: 0,
        intervalBytes: interval,
        exactFrames: false,
        sites: [],
        totalBytes: 0,
        problem:
          `allocation sampling could not start (${error.message}); if a console runs alloc.start(), alloc.top() shows the sites`,
      });
    });
  }

  #releaseFrames: (() => Promise<void>) | undefined;

  async #startSampling(interval: number): Promise<boolean> {
    const { holdExactFrames } = await import("./exact_frames.ts");
    const frames = await holdExactFrames();
    this.#releaseFrames = frames.release;
    await post("HeapProfiler.startSampling", {
      samplingInterval: interval,
      includeObjectsCollectedByMajorGC: false,
      includeObjectsCollectedByMinorGC: false,
    });
    return frames.exact;
  }

  async #endSampling(): Promise<void> {
    await post("HeapProfiler.stopSampling").catch(() => {});
    const release = this.#releaseFrames;
    this.#releaseFrames = undefined;
    await release?.();
  }

  async #finishAttribution(
    kind: WatchKind,
    seconds: number,
    interval: number,
    exact: boolean,
  ): Promise<void> {
    const base = { watch: kind, seconds, intervalBytes: interval };
    try {
      const { profile } = await post<{ profile: SamplingProfile }>(
        "HeapProfiler.getSamplingProfile",
      );
      const { rankSites, unnamedScripts } = await import(
        "./leak_attribution.ts"
      );
      const { scriptUrls } = await import("./exact_frames.ts");
      const urls = await scriptUrls(unnamedScripts(profile.head)).catch(() =>
        new Map<string, string>()
      );
      const { sites, total } = await rankSites(profile, {
        n: 5,
        scriptUrls: urls,
      });
      this.#recordAttribution({
        at: Date.now(),
        ...base,
        exactFrames: exact,
        sites,
        totalBytes: total,
      });
    } catch (error) {
      this.#recordAttribution({
        at: Date.now(),
        ...base,
        exactFrames: exact,
        sites: [],
        totalBytes: 0,
        problem: `allocation sampling failed (${
          (error as Error).message
        }); alloc.start() then alloc.top() in a console names the sites`,
      });
    } finally {
      this.sampling = false;
      await this.#endSampling();
    }
  }

  #recordAttribution(attribution: LeakAttribution): void {
    if (this.#stopped) return;
    this.lastAttribution = attribution;
    if (attribution.problem !== undefined) {
      this.#log(
        `leak alarm: no allocation sites: ${attribution.problem}; the alarm keeps watching`,
      );
      return;
    }
    const list = attribution.sites.map((site, i) =>
      `${i + 1}) ${formatSite(site)}`
    ).join("; ");
    const note = attribution.watch === "heap"
      ? ""
      : " (sizes are the JS objects' own; the memory they hold outside the JS heap is not counted)";
    this.#log(
      `leak alarm: top live allocation sites after ${attribution.seconds} s of sampling every ${
        formatBytes(attribution.intervalBytes)
      } (${formatBytes(attribution.totalBytes)} sampled${note}): ${
        list || "none sampled"
      }; leak() shows them again, the alarm keeps watching`,
    );
  }
}

/**
 * The watches an alarm runs, in report order (`fds` only where descriptors
 * can be counted).
 *
 * @param alarm The alarm.
 * @returns The kinds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startLeakAlarm, watchKinds } from "./leak_alarm.ts";
 * const alarm = startLeakAlarm({
 *   windowSeconds: 60,
 *   minGrowthBytes: 8 * 2 ** 20,
 *   minGrowthPercent: 10,
 *   gcIntervalSeconds: 10,
 *   profileSeconds: 30,
 * });
 * assert.deepEqual(watchKinds(alarm).slice(0, 4), ["heap", "external", "native", "resources"]);
 * await alarm.stop();
 * ```
 */
export function watchKinds(alarm: LeakAlarm): WatchKind[] {
  return (Object.keys(WATCHES) as WatchKind[]).filter((kind) =>
    alarm.detectors[kind] !== undefined
  );
}

/**
 * One resource origin as a log or table line.
 *
 * @param origin The origin.
 * @returns e.g. `180 fsFile still open from renderGreeting lib/greeting.ts:14 (Deno.openSync, via app.ts:81 › greeting.ts:14)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatOrigin } from "./leak_alarm.ts";
 * assert.equal(
 *   formatOrigin({
 *     function: "render", file: "lib/a.ts", line: 3, origin: "service",
 *     opener: "Deno.openSync", types: ["fsFile"], open: 9, opened: 10,
 *     path: "b.ts:9 › a.ts:3",
 *   }),
 *   "9 of 10 fsFile still open from render lib/a.ts:3 (Deno.openSync, via b.ts:9 › a.ts:3)",
 * );
 * ```
 */
export function formatOrigin(origin: ResourceOrigin): string {
  const place = origin.origin === "console session"
    ? `${origin.file}:${origin.line} (console session)`
    : `${origin.file}:${origin.line}`;
  const via = origin.path.includes(" › ") ? `, via ${origin.path}` : "";
  return `${origin.open} of ${origin.opened} ${
    origin.types.join(", ")
  } still open from ${origin.function} ${place} (${origin.opener}${via})`;
}

function lastFullGc(records: readonly GcRecord[]): GcRecord | undefined {
  // The last full GC of the batch: a forced collection may run several
  // passes, and the last one left the true floor.
  for (let i = records.length - 1; i >= 0; i--) {
    if (records[i]!.gcType === FULL_GC) return records[i];
  }
  return undefined;
}
