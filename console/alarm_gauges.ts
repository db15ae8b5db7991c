/**
 * The leak alarm's readings and its Prometheus gauges: what the alarm of
 * this process says now, as plain numbers, and the gauges that show it in a
 * prom-client registry. The registry and its `Gauge` class are the host's
 * own (this module imports no prom-client), so the gauges sit beside the
 * host's metrics on its `/metrics`.
 *
 * @module
 */

import type { LeakAlarmReadings } from "./toolkit/leak_alarm.ts";

export type { LeakAlarmReadings };

/**
 * The leak alarm's gauges: the reading each shows (`suspected` as 1 or 0)
 * and its help text.
 */
export const LEAK_ALARM_GAUGES: Readonly<
  Record<string, readonly [keyof LeakAlarmReadings, string]>
> = {
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

/**
 * Reads this process's alarm, if one runs (one V8 heap, one alarm). Its
 * module is loaded here, not at start-up: a literal specifier, so
 * `deno compile` embeds it.
 *
 * @returns The readings, or `undefined` while no alarm runs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentLeakAlarmReadings } from "./alarm_gauges.ts";
 * assert.equal(await currentLeakAlarmReadings(), undefined);
 * ```
 */
export async function currentLeakAlarmReadings(): Promise<
  LeakAlarmReadings | undefined
> {
  const { activeLeakAlarm } = await import("./toolkit/leak_alarm.ts");
  return activeLeakAlarm()?.readings();
}

/**
 * The part of prom-client's `Gauge` class the alarm's gauges use: pass the
 * class itself (`import { Gauge } from "prom-client"`).
 */
export interface GaugeClass<R> {
  /** Makes a gauge registered in `registers`, set by `collect` at each scrape. */
  new (configuration: {
    name: string;
    help: string;
    registers: R[];
    collect(this: { set(value: number): void }): Promise<void>;
  }): unknown;
}

/**
 * Adds the leak alarm's gauges ({@linkcode LEAK_ALARM_GAUGES}) to a
 * prom-client registry. At each scrape they read the alarm: `NaN` while none
 * runs (a 0 would read as an empty heap or a flat trend).
 *
 * @param registry The host's prom-client `Registry`.
 * @param Gauge The host's prom-client `Gauge` class.
 * @param read Where the readings come from; this process's alarm by default.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Gauge, Registry } from "prom-client";
 * import { addLeakAlarmGauges } from "./alarm_gauges.ts";
 * const registry = new Registry();
 * addLeakAlarmGauges(registry, Gauge);
 * assert.match(await registry.metrics(), /^leakwatch_leak_suspected nan$/im);
 * ```
 */
export function addLeakAlarmGauges<R>(
  registry: R,
  Gauge: GaugeClass<R>,
  read: () => Promise<LeakAlarmReadings | undefined> = currentLeakAlarmReadings,
): void {
  for (const [name, [reading, help]] of Object.entries(LEAK_ALARM_GAUGES)) {
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const readings = await read();
        this.set(readings === undefined ? NaN : Number(readings[reading]));
      },
    });
  }
}
