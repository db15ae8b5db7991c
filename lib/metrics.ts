/**
 * Request counting and the Prometheus exposition of `/metrics`.
 *
 * Counting is plain arithmetic on the hot path; `prom-client` (the
 * reference Prometheus client for JavaScript) is imported on the first
 * scrape only, so start-up does not pay its ~30 ms import.
 *
 * @module
 */

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

/**
 * prom-client default metrics that do not work under Deno with scoped
 * permissions, left out rather than shown as a false 0: the `/proc` readers
 * (Deno lets only `--allow-all` read `/proc/self`), the handle and request
 * counts (Deno's `process._getActiveHandles()` is always empty) and the GC
 * histogram (Deno emits no `gc` performance entries). Resident memory comes
 * from `Deno.memoryUsage()` instead.
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
  const { addLeakAlarmGauges } = await import("../console/mod.ts");
  const registry = new Registry();
  const registers = [registry];
  addLeakAlarmGauges(registry, Gauge);
  const defaults = new Registry();
  collectDefaultMetrics({ register: defaults });
  for (const name of UNSUPPORTED_DEFAULT_METRICS) {
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
