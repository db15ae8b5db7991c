/**
 * Request counting and the Prometheus exposition of `/metrics`.
 *
 * Counting is plain arithmetic on the hot path; `prom-client` (the
 * reference Prometheus client for JavaScript) is imported on the first
 * scrape only, so start-up does not pay its ~30 ms import.
 *
 * @module
 */

import type { LeakAlarmReadings } from "../console/toolkit/leak_alarm.ts";
import { openHandles } from "../console/toolkit/process_handles.ts";
import type { CacheStats } from "./users.ts";

/** One route and status's request count. */
export interface RequestCounter {
  /** Requests counted. */
  count: number;
}

/** Requests counted by route pattern and status. */
export class RequestStats {
  #counters = new Map<string, RequestCounter>();

  /**
   * The counter of one route and status, made on first use. Hot paths keep
   * it and increment `count` themselves.
   *
   * @param route The matched route pattern, e.g. `/users/:user_id`.
   * @param status The response status.
   * @returns The live counter.
   */
  counter(route: string, status: number): RequestCounter {
    const key = `${route} ${status}`;
    let counter = this.#counters.get(key);
    if (counter === undefined) {
      counter = { count: 0 };
      this.#counters.set(key, counter);
    }
    return counter;
  }

  /**
   * Counts one request.
   *
   * @param route The matched route pattern, e.g. `/users/:user_id`.
   * @param status The response status.
   */
  record(route: string, status: number): void {
    this.counter(route, status).count++;
  }

  /**
   * Lists the counts.
   *
   * @returns One entry per route and status seen.
   */
  entries(): { route: string; status: string; count: number }[] {
    return [...this.#counters].flatMap(([key, { count }]) => {
      if (count === 0) return [];
      const at = key.lastIndexOf(" ");
      return [{ route: key.slice(0, at), status: key.slice(at + 1), count }];
    });
  }
}

/** What `/metrics` reports on. */
export interface MetricsSource {
  /** The users cache. */
  cache: { readonly size: number };
  /** Its hit and miss counters. */
  stats: CacheStats;
  /** Requests by route and status. */
  requests: RequestStats;
}

/** The content type of the Prometheus text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Registry = { metrics(): Promise<string> };
const registries = new WeakMap<MetricsSource, Registry>();

export type { LeakAlarmReadings };

let leakAlarm: (() => LeakAlarmReadings) | undefined;

/**
 * Puts the leak alarm's gauges on `/metrics` (process-wide, as the alarm
 * is: one V8 heap), or takes them off with `undefined`.
 *
 * @param readings Reads the alarm's current state at each scrape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exposeLeakAlarm, RequestStats, renderMetrics } from "./metrics.ts";
 * exposeLeakAlarm(() => ({
 *   floorBytes: 123,
 *   growthBytesPerSecond: 4.5,
 *   suspected: true,
 *   samples: 6,
 *   heapLimitBytes: 2 ** 31,
 *   externalFloorBytes: 5e6,
 *   externalGrowthBytesPerSecond: 9e5,
 *   rssFloorBytes: 6e7,
 *   nativeFloorBytes: 3e7,
 *   nativeGrowthBytesPerSecond: 0,
 *   openResources: 5,
 *   openResourcesGrowthPerSecond: 0,
 *   openFds: NaN,
 *   heapSuspected: false,
 *   externalSuspected: true,
 *   nativeSuspected: false,
 *   handlesSuspected: false,
 *   forcedGcs: 3,
 *   ignoredSamples: 0,
 * }));
 * const text = await renderMetrics({
 *   cache: new Map(),
 *   stats: { hits: 0, misses: 0 },
 *   requests: new RequestStats(),
 * });
 * exposeLeakAlarm(undefined);
 * assert.match(text, /^leakwatch_leak_suspected 1$/m);
 * assert.match(text, /^leakwatch_heap_after_gc_bytes 123$/m);
 * assert.match(text, /^leakwatch_external_leak_suspected 1$/m);
 * ```
 */
export function exposeLeakAlarm(
  readings: (() => LeakAlarmReadings) | undefined,
): void {
  leakAlarm = readings;
}

/**
 * prom-client default metrics that do not work under Deno with scoped
 * permissions, left out rather than shown as a false 0: the `/proc` readers
 * (Deno lets only `--allow-all` read `/proc/self`), the handle and request
 * counts (Deno's `process._getActiveHandles()` is always empty) and the GC
 * histogram (Deno emits no `gc` performance entries). Resident memory comes
 * from `Deno.memoryUsage()` instead. The descriptor counts stay where
 * `/proc/self/fd` can be read (under `--allow-all`).
 */
export const UNSUPPORTED_DEFAULT_METRICS: readonly string[] = [
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_heap_bytes",
  "process_open_fds",
  "process_max_fds",
  "nodejs_active_handles",
  "nodejs_active_handles_total",
  "nodejs_active_requests",
  "nodejs_active_requests_total",
  "nodejs_gc_duration_seconds",
];

/**
 * Renders the metrics in the Prometheus text format.
 *
 * @param source The cache, its counters and the request counts.
 * @returns The exposition text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RequestStats, renderMetrics } from "./metrics.ts";
 * const text = await renderMetrics({
 *   cache: new Map(),
 *   stats: { hits: 0, misses: 0 },
 *   requests: new RequestStats(),
 * });
 * assert.ok(text.includes("users_cache_entries 0"));
 * ```
 */
export async function renderMetrics(source: MetricsSource): Promise<string> {
  let registry = registries.get(source);
  if (registry === undefined) {
    registry = await createRegistry(source);
    registries.set(source, registry);
  }
  return await registry.metrics();
}

async function createRegistry(source: MetricsSource): Promise<Registry> {
  const { Counter, Gauge, Registry, collectDefaultMetrics } = await import(
    "prom-client"
  );
  const registry = new Registry();
  const registers = [registry];
  addLeakAlarmGauges(Gauge, registers);
  const defaults = new Registry();
  collectDefaultMetrics({ register: defaults });
  const fdsReadable = openHandles().fds !== null;
  for (const name of UNSUPPORTED_DEFAULT_METRICS) {
    if (fdsReadable && FD_METRICS.includes(name)) continue;
    defaults.removeSingleMetric(name);
  }
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  for (const [name, [field, help]] of Object.entries(MEMORY_GAUGES)) {
    gauge(name, help, () => Deno.memoryUsage()[field]);
  }
  gauge(
    "users_cache_entries",
    "Users held in the cache.",
    () => source.cache.size,
  );
  for (const [name, [stat, help]] of Object.entries(CACHE_COUNTERS)) {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(source.stats[stat]);
      },
    });
  }
  new Counter({
    name: "http_requests_total",
    help: "HTTP requests by route pattern and status.",
    labelNames: ["route", "status"],
    registers,
    collect() {
      this.reset();
      for (const { count, ...labels } of source.requests.entries()) {
        this.inc(labels, count);
      }
    },
  });
  return Registry.merge([registry, defaults]);
}

function addLeakAlarmGauges(
  Gauge: typeof import("prom-client").Gauge,
  registers: import("prom-client").Registry[],
): void {
  for (const [name, [reading, help]] of Object.entries(LEAK_ALARM_GAUGES)) {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        // NaN while the alarm is off or has nothing to say yet: a 0 would
        // read as an empty heap or a flat trend.
        this.set(
          leakAlarm === undefined ? NaN : Number(leakAlarm()[reading]),
        );
      },
    });
  }
}

/** Gauges read from `Deno.memoryUsage()` at each scrape: field and help. */
const MEMORY_GAUGES: Record<string, [keyof Deno.MemoryUsage, string]> = {
  process_resident_memory_bytes: ["rss", "Resident memory size in bytes."],
  deno_heap_used_bytes: ["heapUsed", "V8 heap used in bytes."],
  deno_heap_total_bytes: ["heapTotal", "V8 heap allocated in bytes."],
  deno_external_memory_bytes: [
    "external",
    "Memory of C++ objects bound to JavaScript objects, in bytes.",
  ],
};

/** The cache's counters, read from its stats at each scrape. */
const CACHE_COUNTERS: Record<string, [keyof CacheStats, string]> = {
  users_cache_hits_total: ["hits", "User lookups answered from the cache."],
  users_cache_misses_total: [
    "misses",
    "User lookups that went to the database.",
  ],
};

/** prom-client's descriptor counts, which work where `/proc/self/fd` is readable. */
const FD_METRICS = ["process_open_fds", "process_max_fds"];

/** The leak alarm's gauges: the reading each shows (`suspected` as 1 or 0) and help. */
const LEAK_ALARM_GAUGES: Record<string, [keyof LeakAlarmReadings, string]> = {
  leakwatch_heap_after_gc_bytes: [
    "floorBytes",
    "V8 heap used right after the latest full (mark-sweep) GC, in bytes.",
  ],
  leakwatch_heap_growth_bytes_per_second: [
    "growthBytesPerSecond",
    "Growth of the heap after full GCs over the leak alarm's window (Theil-Sen slope), in bytes per second.",
  ],
  leakwatch_leak_suspected: [
    "suspected",
    "1 while the leak alarm suspects a leak of any kind (JS heap, external, native memory, open handles), else 0.",
  ],
  leakwatch_heap_after_gc_samples: [
    "samples",
    "Full-GC samples the leak alarm has taken since start.",
  ],
  leakwatch_heap_limit_bytes: [
    "heapLimitBytes",
    "V8's heap size limit (--max-old-space-size), in bytes.",
  ],
  leakwatch_external_after_gc_bytes: [
    "externalFloorBytes",
    "V8 external memory (ArrayBuffer and typed-array backing stores) right after the latest full GC, in bytes.",
  ],
  leakwatch_external_growth_bytes_per_second: [
    "externalGrowthBytesPerSecond",
    "Growth of the external memory after full GCs over the leak alarm's window (Theil-Sen slope), in bytes per second.",
  ],
  leakwatch_rss_after_gc_bytes: [
    "rssFloorBytes",
    "Resident memory right after the latest full GC, in bytes.",
  ],
  leakwatch_native_after_gc_bytes: [
    "nativeFloorBytes",
    "Resident memory outside the V8 heap and its external memory right after the latest full GC (native code: the runtime, zlib, sqlite...), in bytes.",
  ],
  leakwatch_native_growth_bytes_per_second: [
    "nativeGrowthBytesPerSecond",
    "Growth of that native memory over the leak alarm's window (Theil-Sen slope), in bytes per second.",
  ],
  leakwatch_open_resources: [
    "openResources",
    "Open Deno resources (files, sockets, fetch bodies, child processes...) at the leak alarm's latest sample.",
  ],
  leakwatch_open_resources_growth_per_second: [
    "openResourcesGrowthPerSecond",
    "Growth of the open Deno resources over the leak alarm's window (Theil-Sen slope), per second.",
  ],
  leakwatch_heap_leak_suspected: [
    "heapSuspected",
    "1 while the leak alarm suspects the JS heap, else 0.",
  ],
  leakwatch_external_leak_suspected: [
    "externalSuspected",
    "1 while the leak alarm suspects external memory (ArrayBuffers), else 0.",
  ],
  leakwatch_native_leak_suspected: [
    "nativeSuspected",
    "1 while the leak alarm suspects native memory, else 0.",
  ],
  leakwatch_handle_leak_suspected: [
    "handlesSuspected",
    "1 while the leak alarm suspects open resources or file descriptors, else 0.",
  ],
  leakwatch_forced_gcs: [
    "forcedGcs",
    "Full GCs the leak alarm ran itself since start (when V8 ran none for a tenth of its window).",
  ],
  leakwatch_ignored_samples: [
    "ignoredSamples",
    "Samples the leak alarm ignored since start (taken during or just after a heap capture).",
  ],
};
