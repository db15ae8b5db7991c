/**
 * `leak()`: the leak alarm's state in the console: what it suspects, each
 * watched floor with its trend and verdict, the open handles, how it gets
 * its samples, the last attribution, and what to run next.
 *
 * @module
 */

import {
  activeLeakAlarm,
  formatOrigin,
  type LeakAlarm,
  type LeakAttribution,
  WATCHES,
  type WatchKind,
  watchKinds,
} from "./leak_alarm.ts";
import { formatSite } from "./leak_attribution.ts";
import type { Assessment, LeakDetector } from "./leak_detector.ts";
import { availableMemory, estimateCapturePeak } from "./memory.ts";
import { type OpenHandles, openHandles } from "./process_handles.ts";
import {
  formatAmount,
  formatRate,
  formatSpan,
  renderTable,
  withInspect,
} from "./report.ts";

/** One watched floor in `leak()`. */
export interface WatchReport {
  /** Which. */
  kind: WatchKind;
  /** What it measures. */
  what: string;
  /** Bytes or a count. */
  unit: "bytes" | "count";
  /** The latest sample, if any. */
  now?: number;
  /** Its growth over the horizon judged, per second, once judged. */
  perSecond?: number;
  /** The horizon the figures describe, in seconds. */
  horizonSeconds: number;
  /** Samples in that horizon. */
  samples: number;
  /** The verdict, in words. */
  verdict: string;
  /** Whether it suspects a leak. */
  suspected: boolean;
  /** Since when (ISO time), if suspected. */
  since?: string;
  /** The latest samples, oldest first (up to 60). */
  recent: number[];
}

/** What `leak()` returns. */
export interface LeakReport {
  /** `"off"` (`--leak-alarm off`), `"watching"` or `"suspected"`. */
  state: "off" | "watching" | "suspected";
  /** What is suspected (empty when nothing is). */
  suspects?: WatchKind[];
  /** When the earliest current suspicion began (ISO time), if suspected. */
  since?: string;
  /** V8 heap used after the latest full GC, bytes. */
  floorBytes?: number;
  /** Growth of that floor over the window, bytes per second. */
  growthBytesPerSecond?: number;
  /** The window, in seconds. */
  windowSeconds?: number;
  /** Full-GC samples taken since start. */
  samples?: number;
  /** Every watched floor. */
  watches?: WatchReport[];
  /** Open handles now. */
  handles?: OpenHandles;
  /** How the alarm gets its samples. */
  gc?: {
    /** Full GCs the alarm ran itself. */
    forced: number;
    /** How long its latest one took, ms. */
    lastForcedMs: number;
    /** Longest wait for a full GC before it runs one, seconds. */
    spacingSeconds: number;
    /** Samples ignored (during or just after a heap capture). */
    ignored: number;
    /** Why the latest was ignored. */
    ignoredReason?: string;
  };
  /** The JS heap floor's history, oldest first: time (ISO) and bytes. */
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
    const handles = openHandles();
    const report: LeakReport = {
      state: "off",
      handles,
      next:
        "the leak alarm is off (--leak-alarm off); mem() and gc() show memory now, alloc.start() then alloc.top() where it is allocated",
    };
    return withInspect(
      report,
      () =>
        `leak alarm: off\nopen handles: ${
          formatHandles(handles)
        }\n${report.next}`,
    );
  }
  return reportOn(alarm);
}

function reportOn(alarm: LeakAlarm): LeakReport {
  const heap = alarm.detector;
  const suspects = alarm.suspects;
  const sinces = suspects.map((kind) => alarm.detectors[kind]!.since!);
  const assessment = heap.assessment;
  const report: LeakReport = {
    state: suspects.length > 0 ? "suspected" : "watching",
    suspects,
    ...(sinces.length > 0
      ? { since: new Date(Math.min(...sinces)).toISOString() }
      : {}),
    floorBytes: heap.history.at(-1)?.bytes,
    growthBytesPerSecond: assessment.judged ? assessment.perSecond : undefined,
    windowSeconds: alarm.options.windowSeconds,
    samples: alarm.samplesTotal,
    watches: watchKinds(alarm).map((kind) =>
      watchReport(kind, alarm.detectors[kind]!, alarm)
    ),
    handles: openHandles(),
    gc: {
      forced: alarm.forcedGcs,
      lastForcedMs: Math.round(alarm.lastForcedGcMs * 10) / 10,
      spacingSeconds: Math.round(alarm.gcSpacingMs() / 100) / 10,
      ignored: alarm.ignored.samples,
      ...(alarm.ignored.reason ? { ignoredReason: alarm.ignored.reason } : {}),
    },
    history: heap.history.map((s) => ({
      at: new Date(s.at).toISOString(),
      bytes: s.bytes,
    })),
    attribution: alarm.lastAttribution,
    next: nextStep(suspects, alarm),
  };
  return withInspect(report, () => render(report));
}

function watchReport(
  kind: WatchKind,
  detector: LeakDetector,
  alarm: LeakAlarm,
): WatchReport {
  const a = detector.assessment;
  const spec = WATCHES[kind];
  const history = detector.history;
  return {
    kind,
    what: spec.what,
    unit: spec.unit,
    ...(history.length > 0 ? { now: history.at(-1)!.bytes } : {}),
    ...(a.judged ? { perSecond: a.perSecond } : {}),
    horizonSeconds: a.horizonMs / 1000,
    samples: a.samples,
    verdict: verdictText(detector, a, alarm, spec.unit),
    suspected: detector.suspected,
    ...(detector.since !== undefined
      ? { since: new Date(detector.since).toISOString() }
      : {}),
    recent: history.slice(-60).map((s) => s.bytes),
  };
}

/** The verdict in words, with the figures behind it. */
function verdictText(
  detector: LeakDetector,
  a: Assessment,
  alarm: LeakAlarm,
  unit: "bytes" | "count",
): string {
  const over = formatSpan(a.horizonMs);
  const fresh = detector.rebaselined;
  const afresh = fresh !== undefined && detector.history.length > 0 &&
      detector.history[0]!.at >= fresh.at
    ? ` (judged afresh ${fresh.reason})`
    : "";
  if (!a.judged) {
    const needed = detector.options.minSamples;
    const spacing = formatSpan(alarm.gcSpacingMs());
    if (a.verdict === "too few samples") {
      return `not enough samples yet for a ${over} trend: ${a.samples} of ${needed}; a full GC at least every ${spacing}${afresh}`;
    }
    return `not enough history yet for a ${over} trend: ${
      formatSpan(a.spanMs)
    } of ${over} covered${afresh}`;
  }
  const prefix = detector.suspected ? "LEAK SUSPECTED: " : "";
  return `${prefix}${a.verdict} over ${over}${
    a.verdict === "below the thresholds"
      ? ` (${formatAmount(a.growth, unit)} gained, a leak gains ${
        formatAmount(a.needed, unit)
      })`
      : ""
  }${afresh}`;
}

function nextStep(suspects: WatchKind[], alarm: LeakAlarm): string {
  const sampling = alarm.sampling
    ? "allocation sampling runs now (its sites go to the log and show here when it ends); "
    : "";
  if (suspects.length === 0) {
    return `${sampling}nothing suspected, the alarm keeps watching; heap.growth() twice, a while apart, compares types without waiting for it`;
  }
  if (
    suspects.every((kind) => kind === "resources" || kind === "fds")
  ) {
    return `${sampling}open handles grow: find where the growing types are opened (see the resource counts) and close them; heap.leaks() names what still references them, if anything does`;
  }
  const heapUsed = Deno.memoryUsage().heapUsed;
  const need = estimateCapturePeak(heapUsed);
  const { available } = availableMemory();
  const fits = available !== null && need <= available;
  const outside =
    suspects.some((kind) => kind === "external" || kind === "native")
      ? " (the allocation sites name the JS objects that hold memory outside the heap)"
      : "";
  if (fits) {
    return `${sampling}dig deeper${outside}: heap.leaks() (a capture needs ~${
      formatAmount(need, "bytes")
    } of the ${
      formatAmount(available!, "bytes")
    } left), or heap.largest() for what holds the most`;
  }
  return `${sampling}the heap is too large to capture here (~${
    formatAmount(need, "bytes")
  } needed${
    available === null ? "" : `, ${formatAmount(available, "bytes")} left`
  }): alloc.start({ interval: 262144 }) then alloc.top() names the sites without a snapshot${outside}`;
}

/** Open handles in one line. */
function formatHandles(handles: OpenHandles): string {
  const types = Object.entries(handles.byType)
    .sort((a, b) => b[1] - a[1])
    .map(([type, n]) => `${type} ${n}`)
    .join(", ");
  const fds = handles.fds === null
    ? `file descriptors unknown (${handles.fdsProblem})`
    : `${handles.fds} file descriptors${
      handles.maxFds === null ? "" : ` of ${handles.maxFds} allowed`
    }`;
  return `${handles.resources} Deno resources (${types}); ${fds}`;
}

function render(report: LeakReport): string {
  const lines: string[] = [];
  const watches = report.watches ?? [];
  if (report.state === "suspected") {
    const what = watches.filter((w) => w.suspected).map((w) =>
      `${w.what} growing ${formatRate(w.perSecond ?? NaN, w.unit)} over ${
        formatSpan(w.horizonSeconds * 1000)
      }`
    ).join("; ");
    lines.push(`leak alarm: LEAK SUSPECTED since ${report.since}: ${what}`);
  } else {
    const heap = watches.find((w) => w.kind === "heap");
    lines.push(
      `leak alarm: watching, nothing suspected (${
        heap?.perSecond === undefined
          ? `not enough samples yet for a ${report.windowSeconds} s trend`
          : `JS heap ${formatRate(heap.perSecond, "bytes")} over the last ${
            formatSpan(heap.horizonSeconds * 1000)
          }`
      })`,
    );
  }
  lines.push(renderTable(watches, [
    { title: "watched", cell: (w) => WATCHES[w.kind].title },
    {
      title: "now",
      cell: (w) => w.now === undefined ? "-" : formatAmount(w.now, w.unit),
      right: true,
    },
    {
      title: "last samples",
      cell: (w) =>
        w.recent.length > 0
          ? `${sparkline(w.recent, 30)} (${w.recent.length})`
          : "none yet",
    },
    {
      title: "growth",
      cell: (w) =>
        w.perSecond === undefined ? "-" : formatRate(w.perSecond, w.unit),
      right: true,
    },
    { title: "verdict", cell: (w) => w.verdict },
  ]));
  const handles = report.handles!;
  lines.push(`open handles: ${formatHandles(handles)}`);
  const gc = report.gc!;
  lines.push(
    `samples: ${report.samples} full GCs seen, ${gc.forced} run by the alarm${
      gc.forced > 0 ? ` (the latest took ${gc.lastForcedMs} ms)` : ""
    }; it runs one when V8 ran none for ${gc.spacingSeconds} s${
      gc.ignored > 0
        ? `; ${gc.ignored} ignored (taken during or just after a ${gc.ignoredReason})`
        : ""
    }`,
  );
  const attribution = report.attribution;
  if (attribution !== undefined) {
    const when = new Date(attribution.at).toISOString();
    if (attribution.problem !== undefined) {
      lines.push(`last attribution (${when}): ${attribution.problem}`);
    } else if (attribution.origins !== undefined) {
      lines.push(
        `last attribution (${when}, after the ${
          WATCHES[attribution.watch].title
        } tripped; resources opened in ${attribution.seconds} s and still open):`,
      );
      for (const origin of attribution.origins) {
        lines.push(`  ${formatOrigin(origin)}`);
      }
      if (attribution.origins.length === 0) lines.push("  none seen");
    } else {
      lines.push(
        `last attribution (${when}, after the ${
          WATCHES[attribution.watch].title
        } tripped; ${attribution.seconds} s of sampling, ${
          formatAmount(attribution.totalBytes, "bytes")
        } live sampled${
          attribution.exactFrames
            ? ""
            : ", inlined functions show as their callers"
        }):`,
      );
      for (const site of attribution.sites) {
        lines.push(`  ${formatSite(site)}`);
      }
      if (attribution.sites.length === 0) lines.push("  none sampled");
    }
  }
  lines.push(report.next);
  return lines.join("\n");
}
