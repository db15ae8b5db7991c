/**
 * The leak alarm for any program: started with defaults that fit a
 * service, read as plain numbers, stopped again. Its module (`node:v8`
 * `GCProfiler`, the detector) loads when the alarm starts, not when this
 * one is imported.
 *
 * @module
 */

import type { LeakAlarmReadings } from "./alarm_gauges.ts";
import { type LeakAlarmConfig, leakAlarmConfig } from "./config.ts";

/** Options for {@linkcode startLeakAlarm}; every one has a default. */
export interface LeakAlarmSettings extends Partial<LeakAlarmConfig> {
  /** Where the alarm's lines go (a trip, its allocation sites); stderr by default. */
  log?: (line: string) => void;
}

/** A running leak alarm. */
export interface LeakAlarmHandle {
  /** The settings in force, defaults filled in. */
  readonly settings: Readonly<LeakAlarmConfig>;
  /** Whether it suspects a leak now. */
  readonly suspected: boolean;
  /**
   * What it says now, as numbers (the gauges' readings).
   *
   * @returns The readings.
   */
  readings(): LeakAlarmReadings;
  /** Stops watching, and the allocation sampling after a trip if it runs. */
  stop(): Promise<void>;
}

/**
 * Starts this process's leak alarm: it watches the JS heap, the external
 * memory (ArrayBuffers) and the native memory left after each full GC, and
 * the open Deno resources and file descriptors; it logs one line when one
 * keeps growing (`leak alarm: JS heap after full GC growing ...`), then
 * for memory samples allocations for a while and logs the top live
 * allocation sites by the innermost frame of your code (`file.ts:line`),
 * for handles the lines that opened the ones still open. One alarm per
 * process: starting another stops the first. It never keeps the process
 * alive (`docs/alarm.md`).
 *
 * @param settings Thresholds and window; defaults in `LEAK_ALARM_DEFAULTS`.
 * @returns The running alarm.
 * @throws {RangeError} On a setting out of bounds (nothing is started).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startLeakAlarm } from "./alarm.ts";
 * const alarm = await startLeakAlarm({ windowSeconds: 120 });
 * assert.equal(alarm.settings.windowSeconds, 120);
 * assert.equal(alarm.readings().suspected, false);
 * await alarm.stop();
 * ```
 */
export async function startLeakAlarm(
  settings: LeakAlarmSettings = {},
): Promise<LeakAlarmHandle> {
  const { log, ...thresholds } = settings;
  const config = leakAlarmConfig(thresholds);
  if (log !== undefined && typeof log !== "function") {
    throw new TypeError("The leak alarm's log must be a function");
  }
  // A literal specifier, so `deno compile` embeds it.
  const { startLeakAlarm } = await import("./toolkit/leak_alarm.ts");
  const alarm = startLeakAlarm({ ...config, log });
  return {
    settings: Object.freeze(config),
    get suspected() {
      return alarm.suspects.length > 0;
    },
    readings: () => alarm.readings(),
    stop: () => alarm.stop(),
  };
}
