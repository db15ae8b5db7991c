/**
 * The leak alarm's readings and its Prometheus gauges: what the alarm of
 * this process says now, as plain numbers, and the gauges that show it in a
 * prom-client registry. The registry and its `Gauge` class are the host's
 * own (this module imports no prom-client), so the gauges sit beside the
 * host's metrics on its `/metrics`.
 *
 * @module
 */

import v8 from "node:v8";
import type { LeakAlarm } from "./toolkit/leak_alarm.ts";

/** What the leak alarm says now, as numbers a dashboard can show. */
export interface LeakAlarmReadings {
  /** V8 heap used after the latest full GC, bytes (`NaN` before the first). */
  floorBytes: number;
  /** Theil–Sen growth of that floor over the alarm's window (`NaN` until judged). */
  growthBytesPerSecond: number;
  /** Whether the alarm suspects a leak now. */
  suspected: boolean;
  /** Full-GC samples taken since start. */
  samples: number;
  /** V8's heap size limit (`--max-old-space-size`), bytes. */
  heapLimitBytes: number;
}

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
    "1 while the leak alarm suspects a leak, else 0.",
  ],
  leakwatch_heap_after_gc_samples: [
    "samples",
    "Full-GC samples the leak alarm has taken since start.",
  ],
  leakwatch_heap_limit_bytes: [
    "heapLimitBytes",
    "V8's heap size limit (--max-old-space-size), in bytes.",
  ],
};

/**
 * Reads a running alarm.
 *
 * @param alarm The alarm.
 * @returns Its readings now.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readLeakAlarm } from "./alarm_gauges.ts";
 * import { startLeakAlarm } from "./toolkit/leak_alarm.ts";
 * const alarm = startLeakAlarm({
 *   windowSeconds: 60,
 *   minGrowthBytes: 8 * 2 ** 20,
 *   minGrowthPercent: 10,
 *   gcIntervalSeconds: 10,
 *   profileSeconds: 30,
 * });
 * const readings = readLeakAlarm(alarm);
 * await alarm.stop();
 * assert.equal(readings.suspected, false);
 * assert.ok(readings.heapLimitBytes > 0);
 * ```
 */
export function readLeakAlarm(alarm: LeakAlarm): LeakAlarmReadings {
  return {
    floorBytes: alarm.latest?.bytes ?? NaN,
    growthBytesPerSecond: alarm.detector.assessment.bytesPerSecond,
    suspected: alarm.detector.suspected,
    samples: alarm.samplesTotal,
    heapLimitBytes: v8.getHeapStatistics().heap_size_limit,
  };
}

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
  const alarm = activeLeakAlarm();
  return alarm === undefined ? undefined : readLeakAlarm(alarm);
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
