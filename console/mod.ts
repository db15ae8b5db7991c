/**
 * leakwatch's live console, for any Deno program: one call opens a
 * token-protected REPL inside the running process, where the objects you
 * choose are in scope by name beside a leak toolkit (`mem()`, `gc()`,
 * `heap.leaks()`, `alloc.top()`, ...). The leak alarm and its Prometheus
 * gauges are separate, opt-in.
 *
 * ```ts
 * import { startConsole } from "./mod.ts";
 *
 * const seen: string[] = [];
 * const live = await startConsole({ seen }, { announce: false });
 * // ... the service runs; `deno task console --pid <pid>` connects ...
 * await live.close();
 * ```
 *
 * Permissions, signals and every option: `docs/embedding.md`.
 *
 * @module
 */

export {
  type ConsoleHandle,
  type ConsoleOptions,
  startConsole,
} from "./start_console.ts";
export { type ConsoleEndpoint, describeEndpoint } from "./discovery.ts";
export { ConsoleConfigError } from "./server/listener.ts";
export {
  type LeakAlarmHandle,
  type LeakAlarmSettings,
  startLeakAlarm,
} from "./alarm.ts";
export { LEAK_ALARM_DEFAULTS, type LeakAlarmConfig } from "./config.ts";
export {
  addLeakAlarmGauges,
  type GaugeClass,
  LEAK_ALARM_GAUGES,
  type LeakAlarmReadings,
} from "./alarm_gauges.ts";
