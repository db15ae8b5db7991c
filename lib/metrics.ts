/**
 * Request counting and the Prometheus exposition of `/metrics`.
 *
 * Counting is plain arithmetic on the hot path; `prom-client` (the
 * reference Prometheus client for JavaScript) is imported on the first
 * scrape only, so start-up does not pay its ~30 ms import.
 *
 * @module
 */

import { logWriteFailures, openHandles } from "../console/process.ts";
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

type Registry = import("prom-client").Registry;

/**
 * prom-client default metrics that do not work under Deno with scoped
 * permissions, left out rather than shown as a false 0: the `/proc` readers
 * (Deno lets only `--allow-all` read `/proc/self`), the handle and request
 * counts (Deno's `process._getActiveHandles()` is always empty) and the GC
 * histogram (Deno emits no `gc` performance entries). Resident memory comes
 * from `Deno.memoryUsage()` instead. The descriptor counts
 * (`process_open_fds`, `process_max_fds`) stay where `/proc/self/fd` can be
 * read (under `--allow-all`).
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
 * prom-client default metrics replaced by ours: its CPU counters count from
 * the moment they were created, ours read the process's whole CPU time, so
 * they never restart below an earlier value.
 */
const REPLACED_DEFAULT_METRICS: readonly string[] = [
  "process_cpu_user_seconds_total",
  "process_cpu_system_seconds_total",
  "process_cpu_seconds_total",
];

/** prom-client's descriptor counts, which work where `/proc/self/fd` is readable. */
const FD_METRICS: readonly string[] = ["process_open_fds", "process_max_fds"];

/**
 * A service's `/metrics`: the process's metrics (prom-client's defaults,
 * memory, CPU, the leak alarm, dropped log lines) and the service's own
 * (its cache and request counters).
 *
 * Registries are built once and kept: the process's on the first scrape of
 * any service, this service's on its first scrape, however many scrapes
 * arrive at once. (Building one per scrape leaks: prom-client's default
 * metrics start an event-loop monitor that nothing stops, 10–16 MB of
 * native memory each, and restart their counters at zero.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RequestStats, ServiceMetrics } from "./metrics.ts";
 * const requests = new RequestStats();
 * const metrics = new ServiceMetrics({
 *   cache: new Map(),
 *   stats: { hits: 3, misses: 1 },
 *   requests,
 * });
 * requests.record("/healthz", 200);
 * const text = await metrics.render();
 * assert.match(text, /^users_cache_hits_total 3$/m);
 * assert.match(text, /^http_requests_total\{route="\/healthz",status="200"\} 1$/m);
 * ```
 */
export class ServiceMetrics {
  #source: MetricsSource;
  #registry: Promise<Registry> | undefined;

  /** @param source The cache, its counters and the request counts. */
  constructor(source: MetricsSource) {
    this.#source = source;
  }

  /**
   * Renders the metrics in the Prometheus text format.
   *
   * @returns The exposition text.
   */
  async render(): Promise<string> {
    // A turn of the event loop first: a render takes 2-3 ms of CPU, and
    // without a pause Deno's HTTP server answers ~60 of one client's
    // pipelined scrapes back to back while every other request waits.
    await new Promise((resolve) => setTimeout(resolve, 0));
    this.#registry ??= buildServiceRegistry(this.#source).catch((error) => {
      // A failed build (prom-client could not load) is retried next time.
      this.#registry = undefined;
      throw error;
    });
    return await (await this.#registry).metrics();
  }
}

/**
 * Renders the metrics of `source` in the Prometheus text format, with a
 * registry built for this one call: for a one-off rendering (a test, a
 * script). A server keeps one {@linkcode ServiceMetrics} instead.
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
export function renderMetrics(source: MetricsSource): Promise<string> {
  return new ServiceMetrics(source).render();
}

/** prom-client, loaded with the first scrape (its import costs ~30 ms). */
type PromClient = typeof import("prom-client");

/** The process's registry, built once for every service of the process. */
let processRegistry: Promise<Registry> | undefined;

async function buildServiceRegistry(source: MetricsSource): Promise<Registry> {
  processRegistry ??= buildProcessRegistry().catch((error) => {
    processRegistry = undefined;
    throw error;
  });
  const shared = await processRegistry;
  const client = await import("prom-client");
  const registry = new client.Registry();
  addServiceMetrics(client, registry, source);
  return client.Registry.merge([registry, shared]);
}

/** The cache gauge and the cache and request counters of one service. */
function addServiceMetrics(
  { Counter, Gauge }: PromClient,
  registry: Registry,
  source: MetricsSource,
): void {
  const registers = [registry];
  new Gauge({
    name: "users_cache_entries",
    help: "Users held in the cache.",
    registers,
    collect() {
      this.set(source.cache.size);
    },
  });
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
}

/**
 * prom-client's defaults that work under Deno, and the gauges and
 * counters of {@linkcode PROCESS_GAUGES} and {@linkcode PROCESS_COUNTERS}.
 */
async function buildProcessRegistry(): Promise<Registry> {
  const client = await import("prom-client");
  const { default: process } = await import("node:process");
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const fdsReadable = openHandles().fds !== null;
  for (
    const name of [...UNSUPPORTED_DEFAULT_METRICS, ...REPLACED_DEFAULT_METRICS]
  ) {
    if (fdsReadable && FD_METRICS.includes(name)) continue;
    registry.removeSingleMetric(name);
  }
  const { addLeakAlarmGauges } = await import("../console/mod.ts");
  addLeakAlarmGauges(registry, client.Gauge);
  const registers = [registry];
  for (const [name, [help, read]] of Object.entries(PROCESS_GAUGES)) {
    new client.Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  }
  const counters = processCounters(process.cpuUsage.bind(process));
  for (const [name, [help, read]] of Object.entries(counters)) {
    new client.Counter({
      name,
      help,
      registers,
      collect() {
        // Totals kept by the process itself: monotonic whenever read.
        this.reset();
        this.inc(read());
      },
    });
  }
  return registry;
}

/** A process-wide gauge or counter: its help and how to read it at a scrape. */
type Reading = [help: string, read: () => number];

/** The cache's counters, read from its stats at each scrape. */
const CACHE_COUNTERS: Record<string, [keyof CacheStats, string]> = {
  users_cache_hits_total: ["hits", "User lookups answered from the cache."],
  users_cache_misses_total: [
    "misses",
    "User lookups that went to the database.",
  ],
};

/**
 * Gauges read at each scrape, process-wide (one V8 heap, one process):
 * add a row to put another on `/metrics`.
 */
const PROCESS_GAUGES: Record<string, Reading> = {
  process_resident_memory_bytes: [
    "Resident memory size in bytes.",
    () => Deno.memoryUsage().rss,
  ],
  deno_heap_used_bytes: [
    "V8 heap used in bytes.",
    () => Deno.memoryUsage().heapUsed,
  ],
  deno_heap_total_bytes: [
    "V8 heap allocated in bytes.",
    () => Deno.memoryUsage().heapTotal,
  ],
  deno_external_memory_bytes: [
    "Memory of C++ objects bound to JavaScript objects, in bytes.",
    () => Deno.memoryUsage().external,
  ],
};

/** Counters read at each scrape from totals the process keeps. */
function processCounters(
  cpuUsage: () => { user: number; system: number },
): Record<string, Reading> {
  return {
    process_cpu_user_seconds_total: [
      "Total user CPU time spent in seconds.",
      () => cpuUsage().user / 1e6,
    ],
    process_cpu_system_seconds_total: [
      "Total system CPU time spent in seconds.",
      () => cpuUsage().system / 1e6,
    ],
    process_cpu_seconds_total: [
      "Total user and system CPU time spent in seconds.",
      () => {
        const { user, system } = cpuUsage();
        return (user + system) / 1e6;
      },
    ],
    leakwatch_log_lines_dropped_total: [
      "Log lines the service could not write (stderr or stdout closed or broken).",
      () => {
        const { stdout, stderr } = logWriteFailures();
        return stdout + stderr;
      },
    ],
  };
}
