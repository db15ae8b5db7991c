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
  const { Counter, Gauge, Registry } = await import("prom-client");
  const registry = new Registry();
  const registers = [registry];
  const memory = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  memory(
    "process_resident_memory_bytes",
    "Resident memory size in bytes.",
    () => Deno.memoryUsage().rss,
  );
  memory(
    "deno_heap_used_bytes",
    "V8 heap used in bytes.",
    () => Deno.memoryUsage().heapUsed,
  );
  memory(
    "deno_heap_total_bytes",
    "V8 heap allocated in bytes.",
    () => Deno.memoryUsage().heapTotal,
  );
  memory(
    "deno_external_memory_bytes",
    "Memory of C++ objects bound to JavaScript objects, in bytes.",
    () => Deno.memoryUsage().external,
  );
  memory(
    "users_cache_entries",
    "Users held in the cache.",
    () => source.cache.size,
  );
  const total = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  total(
    "users_cache_hits_total",
    "User lookups answered from the cache.",
    () => source.stats.hits,
  );
  total(
    "users_cache_misses_total",
    "User lookups that went to the database.",
    () => source.stats.misses,
  );
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
  return registry;
}
