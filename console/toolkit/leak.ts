/**
 * `leak()`: the leak alarm's state in the console: suspected or not, the
 * heap-after-GC floor's history as a small chart, the last attribution, and
 * what to run next.
 *
 * @module
 */

import {
  activeLeakAlarm,
  type LeakAlarm,
  type LeakAttribution,
} from "./leak_alarm.ts";
import { formatSite } from "./leak_attribution.ts";
import type { FloorSample } from "./leak_detector.ts";
import { availableMemory, estimateCapturePeak } from "./memory.ts";
import { formatBytes, withInspect } from "./report.ts";

/** What `leak()` returns. */
export interface LeakReport {
  /** `"off"` (`--leak-alarm off`), `"watching"` or `"suspected"`. */
  state: "off" | "watching" | "suspected";
  /** When the current suspicion began (ISO time), if suspected. */
  since?: string;
  /** V8 heap used after the latest full GC, bytes. */
  floorBytes?: number;
  /** Growth of that floor over the window, bytes per second. */
  growthBytesPerSecond?: number;
  /** The window, in seconds. */
  windowSeconds?: number;
  /** Full-GC samples taken since start. */
  samples?: number;
  /** The floor's history, oldest first: time (ISO) and bytes. */
  history?: Array<{ at: string; bytes: number }>;
  /** The latest attribution, if it ever tripped. */
  attribution?: LeakAttribution;
  /** What to run next. */
  next: string;
}

const BARS = "▁▂▃▄▅▆▇█";

/**
 * Draws values as a one-line bar chart.
 *
 * @param values Numbers, oldest first.
 * @param width Most bars (the latest values are kept).
 * @returns The chart, e.g. `▁▂▄█`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sparkline } from "./leak.ts";
 * assert.equal(sparkline([1, 2, 3, 4, 5, 6, 7, 8]), "▁▂▃▄▅▆▇█");
 * assert.equal(sparkline([5, 5]), "▁▁");
 * ```
 */
export function sparkline(values: readonly number[], width = 60): string {
  const shown = values.slice(-width);
  const low = Math.min(...shown);
  const high = Math.max(...shown);
  const range = high - low;
  return shown.map((v) =>
    BARS[range > 0 ? Math.round(((v - low) / range) * (BARS.length - 1)) : 0]
  ).join("");
}

/**
 * Reports the leak alarm's state, printed as a few lines.
 *
 * @returns The state; plain data when serialized.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { leak } from "./leak.ts";
 * assert.equal(leak().state, "off");
 * ```
 */
export function leak(): LeakReport {
  const alarm = activeLeakAlarm();
  if (alarm === undefined) {
    const report: LeakReport = {
      state: "off",
      next:
        "the leak alarm is off (--leak-alarm off); mem() and gc() show the heap now, alloc.start() then alloc.top() where it is allocated",
    };
    return withInspect(report, () => `leak alarm: off\n${report.next}`);
  }
  return reportOn(alarm);
}

function reportOn(alarm: LeakAlarm): LeakReport {
  const detector = alarm.detector;
  const assessment = detector.assessment;
  const history: readonly FloorSample[] = detector.history;
  const suspected = detector.suspected;
  const report: LeakReport = {
    state: suspected ? "suspected" : "watching",
    ...(detector.since !== undefined
      ? { since: new Date(detector.since).toISOString() }
      : {}),
    floorBytes: history.at(-1)?.bytes,
    growthBytesPerSecond: assessment.judged
      ? assessment.bytesPerSecond
      : undefined,
    windowSeconds: alarm.options.windowSeconds,
    samples: alarm.samplesTotal,
    history: history.map((s) => ({
      at: new Date(s.at).toISOString(),
      bytes: s.bytes,
    })),
    attribution: alarm.lastAttribution,
    next: nextStep(suspected, alarm),
  };
  return withInspect(report, () => render(report, alarm));
}

function nextStep(suspected: boolean, alarm: LeakAlarm): string {
  const heapUsed = Deno.memoryUsage().heapUsed;
  const need = estimateCapturePeak(heapUsed);
  const { available } = availableMemory();
  const fits = available !== null && need <= available;
  const sampling = alarm.sampling
    ? "allocation sampling runs now (see the log when it ends); "
    : "";
  if (!suspected) {
    return `${sampling}nothing suspected; heap.growth() twice, a while apart, compares types without waiting for the alarm`;
  }
  if (fits) {
    return `${sampling}dig deeper: heap.leaks() (a capture needs ~${
      formatBytes(need)
    } of the ${
      formatBytes(available!)
    } left), or heap.largest() for what holds the most`;
  }
  return `${sampling}the heap is too large to capture here (~${
    formatBytes(need)
  } needed${
    available === null ? "" : `, ${formatBytes(available)} left`
  }): alloc.start({ interval: 262144 }) then alloc.top() names the sites without a snapshot`;
}

function render(report: LeakReport, alarm: LeakAlarm): string {
  const lines: string[] = [];
  const window = `${alarm.options.windowSeconds} s`;
  const growth = report.growthBytesPerSecond;
  if (report.state === "suspected") {
    lines.push(
      `leak alarm: LEAK SUSPECTED since ${report.since}: heap after full GC growing ${
        formatBytes(growth ?? NaN)
      }/s over the last ${window}`,
    );
  } else {
    lines.push(
      `leak alarm: watching, nothing suspected (${
        growth === undefined
          ? `not enough samples yet for a ${window} trend`
          : `${formatBytes(growth)}/s over the last ${window}`
      })`,
    );
  }
  const values = (report.history ?? []).map((s) => s.bytes);
  if (values.length > 0) {
    const shown = values.slice(-60);
    lines.push(
      `heap after full GC, last ${shown.length} of ${report.samples} samples: ${
        formatBytes(Math.min(...shown))
      } ${sparkline(shown)} ${formatBytes(Math.max(...shown))} (now ${
        formatBytes(values.at(-1)!)
      })`,
    );
  } else {
    lines.push("no full GC seen yet");
  }
  const attribution = report.attribution;
  if (attribution !== undefined) {
    const when = new Date(attribution.at).toISOString();
    if (attribution.problem !== undefined) {
      lines.push(`last attribution (${when}): ${attribution.problem}`);
    } else {
      lines.push(
        `last attribution (${when}, ${attribution.seconds} s of sampling, ${
          formatBytes(attribution.totalBytes)
        } live sampled):`,
      );
      for (const site of attribution.sites) {
        lines.push(`  ${formatSite(site)}`);
      }
    }
  }
  lines.push(report.next);
  return lines.join("\n");
}
