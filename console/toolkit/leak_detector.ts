/**
 * The leak alarm's decision: when does a series of readings taken right
 * after full GCs (the "floor" of the JS heap, of external memory, of native
 * memory, or a count of open handles) grow steadily enough to call it a
 * leak, and when has it stopped. Pure logic over timestamps, no timers or
 * V8: the watcher in `leak_alarm.ts` feeds it.
 *
 * @module
 */

import { median, type Point, theilSen, type Trend } from "./trend.ts";

/** The thresholds. */
export interface DetectorOptions {
  /** How far back the main fit looks, in milliseconds. */
  windowMs: number;
  /** Least growth over one horizon, in the series' unit (bytes, handles). */
  minGrowth: number;
  /** Least growth over one horizon, as a share of the value at its start. */
  minGrowthRatio: number;
  /** Fewest samples in a horizon before any verdict (default 5). */
  minSamples?: number;
  /** Samples kept for the history (default 600). */
  historyLength?: number;
  /**
   * The slow-leak horizon, in windows (default 4; 1 turns it off): a leak
   * too slow to pass the thresholds over one window passes them over this
   * many, with the same rules.
   */
  longWindows?: number;
}

/** One observation, taken right after a full GC. */
export interface FloorSample {
  /** When, in milliseconds (any clock, the same for every sample). */
  at: number;
  /** The reading (bytes, or a count). */
  bytes: number;
}

/** Why a horizon is or is not judged a leak, in a few words. */
export type Verdict =
  | "too few samples"
  | "window not covered yet"
  | "growing"
  | "not growing"
  | "below the thresholds"
  | "not steady"
  | "one step, not a climb"
  | "stopped climbing";

/** What the latest evaluation found over one horizon. */
export interface Assessment {
  /** Whether the horizon had enough samples over enough time to judge. */
  judged: boolean;
  /** The horizon, in milliseconds. */
  horizonMs: number;
  /** Samples in the horizon. */
  samples: number;
  /** Time the samples span, in milliseconds. */
  spanMs: number;
  /** Theil–Sen growth rate over the horizon, units per second (`NaN` unjudged). */
  perSecond: number;
  /** The same over the horizon's later half. */
  recentPerSecond: number;
  /** Fitted value at the horizon's start. */
  then: number;
  /** Fitted value at the latest sample. */
  now: number;
  /** Projected growth over the whole horizon. */
  growth: number;
  /** Least growth over the horizon that counts as a leak. */
  needed: number;
  /** Share of sample pairs that rise, 0..1. */
  risingShare: number;
  /** The verdict. */
  verdict: Verdict;
}

/** A change of state. */
export type Transition = "tripped" | "cleared" | undefined;

/** Most points a fit uses: more are thinned to the lowest of each run. */
const MAX_FIT_POINTS = 64;

function unjudged(
  horizonMs: number,
  samples: number,
  spanMs: number,
  verdict: Verdict,
): Assessment {
  return {
    judged: false,
    horizonMs,
    samples,
    spanMs,
    perSecond: NaN,
    recentPerSecond: NaN,
    then: NaN,
    now: NaN,
    growth: NaN,
    needed: NaN,
    risingShare: NaN,
    verdict,
  };
}

/**
 * Decides, sample by sample, whether a floor leaks.
 *
 * Over each horizon (one window, and `longWindows` windows for slow leaks)
 * it trips when the Theil–Sen slope projects a growth of at least
 * `minGrowth` AND at least `minGrowthRatio` of the value at the horizon's
 * start, most sample pairs rise, the growth shows in each third of the
 * horizon (a climb, not one step such as the memory a heap capture leaves
 * behind), and the horizon's later half still climbs at half that pace or
 * more (a cache that filled up and went flat does not count), for a
 * quarter of the horizon in a row. It clears when no horizon's later half
 * climbs at half its threshold's pace any more (hysteresis, so it does not
 * flap).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LeakDetector } from "./leak_detector.ts";
 * const detector = new LeakDetector({
 *   windowMs: 60_000,
 *   minGrowth: 8 * 2 ** 20,
 *   minGrowthRatio: 0.1,
 * });
 * let change;
 * for (let s = 0; s <= 90; s += 5) {
 *   change = detector.add({ at: s * 1000, bytes: 20e6 + s * 500e3 }) ?? change;
 * }
 * assert.equal(change, "tripped");
 * assert.equal(detector.suspected, true);
 * assert.equal(detector.assessment.verdict, "growing");
 * ```
 */
export class LeakDetector {
  /** The thresholds in force. */
  readonly options: Readonly<Required<DetectorOptions>>;
  #samples: FloorSample[] = [];
  #suspected = false;
  #since: number | undefined;
  #trippedBy: number | undefined;
  #pendingSince: Map<number, number> = new Map();
  #assessments: Assessment[];
  #rebaselined: { at: number; reason: string } | undefined;

  /**
   * @param options The thresholds.
   * @throws {RangeError} On a non-positive window or negative thresholds.
   */
  constructor(options: DetectorOptions) {
    const full = {
      minSamples: 5,
      historyLength: 600,
      longWindows: 4,
      ...options,
    };
    if (!(full.windowMs > 0)) {
      throw new RangeError(
        `Window must be positive: received "${full.windowMs}"`,
      );
    }
    if (!(full.minGrowth >= 0) || !(full.minGrowthRatio >= 0)) {
      throw new RangeError("Growth thresholds must not be negative");
    }
    if (!Number.isInteger(full.minSamples) || full.minSamples < 3) {
      throw new RangeError(
        `Fewest samples must be an integer of at least 3: received "${full.minSamples}"`,
      );
    }
    if (!(full.longWindows >= 1)) {
      throw new RangeError(
        `The slow-leak horizon must be at least one window: received "${full.longWindows}"`,
      );
    }
    if (!Number.isInteger(full.historyLength) || full.historyLength < 10) {
      throw new RangeError(
        `History must keep at least 10 samples: received "${full.historyLength}"`,
      );
    }
    this.options = full;
    this.#assessments = this.horizons.map((h) =>
      unjudged(h, 0, 0, "too few samples")
    );
  }

  /** The horizons judged, in milliseconds, shortest first. */
  get horizons(): number[] {
    const { windowMs, longWindows } = this.options;
    return longWindows > 1 ? [windowMs, windowMs * longWindows] : [windowMs];
  }

  /** Whether a leak is suspected now. */
  get suspected(): boolean {
    return this.#suspected;
  }

  /** When the current suspicion started (the sample's `at`), if suspected. */
  get since(): number | undefined {
    return this.#since;
  }

  /**
   * The assessment that speaks for the detector: while suspected, the
   * horizon that tripped; otherwise the shortest judged one (the shortest
   * when none is).
   */
  get assessment(): Assessment {
    const all = this.#assessments;
    if (this.#suspected) {
      const tripped = all.find((a) => a.horizonMs === this.#trippedBy);
      if (tripped?.judged) return tripped;
    }
    return all.find((a) => a.judged) ?? all[0]!;
  }

  /** The latest assessment of every horizon, shortest first. */
  get assessments(): readonly Assessment[] {
    return this.#assessments;
  }

  /** The samples kept, oldest first (up to `historyLength`). */
  get history(): readonly FloorSample[] {
    return this.#samples;
  }

  /** When and why the history was last dropped, if it was. */
  get rebaselined(): { at: number; reason: string } | undefined {
    return this.#rebaselined;
  }

  /**
   * Drops the history, so that what comes next is judged on its own: after
   * something that moved the floor once and for good (RSS after a heap
   * capture). A suspicion stands until the new samples judge it.
   *
   * @param at When (the samples' clock).
   * @param reason Why, for the report.
   */
  rebaseline(at: number, reason: string): void {
    this.#samples = [];
    this.#pendingSince.clear();
    this.#assessments = this.horizons.map((h) =>
      unjudged(h, 0, 0, "too few samples")
    );
    this.#rebaselined = { at, reason };
  }

  /**
   * Records a sample and re-evaluates. Samples must come in time order; an
   * older one is ignored.
   *
   * @param sample The new observation.
   * @returns `"tripped"` or `"cleared"` when the state changed.
   */
  add(sample: FloorSample): Transition {
    const latest = this.#samples.at(-1);
    if (
      !Number.isFinite(sample.at) || !Number.isFinite(sample.bytes) ||
      (latest !== undefined && sample.at < latest.at)
    ) {
      return undefined;
    }
    this.#samples.push(sample);
    const keepFrom = Math.max(
      0,
      this.#samples.length - this.options.historyLength,
    );
    if (keepFrom > 0) this.#samples.splice(0, keepFrom);
    return this.#evaluate(sample.at);
  }

  #evaluate(now: number): Transition {
    this.#assessments = this.horizons.map((h) => this.#judge(h, now));
    if (!this.#suspected) {
      for (const a of this.#assessments) {
        if (a.verdict !== "growing") {
          this.#pendingSince.delete(a.horizonMs);
          continue;
        }
        // It must keep growing for a quarter horizon: the tail of a burst
        // (a bounded cache filling up) passes the test for a while only.
        const since = this.#pendingSince.get(a.horizonMs) ?? now;
        this.#pendingSince.set(a.horizonMs, since);
        if (now - since < a.horizonMs / 4) continue;
        this.#pendingSince.clear();
        this.#suspected = true;
        this.#since = now;
        this.#trippedBy = a.horizonMs;
        return "tripped";
      }
      return undefined;
    }
    const judged = this.#assessments.filter((a) => a.judged);
    const stillClimbing = judged.some((a) =>
      a.recentPerSecond * a.horizonMs / 1000 >= a.needed / 2
    );
    if (judged.length > 0 && !stillClimbing) {
      this.#suspected = false;
      this.#since = undefined;
      this.#trippedBy = undefined;
      return "cleared";
    }
    return undefined;
  }

  #judge(horizonMs: number, now: number): Assessment {
    const { minSamples, minGrowth, minGrowthRatio } = this.options;
    const inHorizon = this.#samples.filter((s) => s.at >= now - horizonMs);
    const spanMs = inHorizon.length > 0 ? now - inHorizon[0]!.at : 0;
    // Judge only a horizon mostly covered by samples: a young process's
    // first seconds (start-up, warm-up) are not a trend.
    if (inHorizon.length < minSamples) {
      return unjudged(horizonMs, inHorizon.length, spanMs, "too few samples");
    }
    if (spanMs < horizonMs * 0.75) {
      return unjudged(
        horizonMs,
        inHorizon.length,
        spanMs,
        "window not covered yet",
      );
    }
    const points = thin(inHorizon.map((s) => ({
      t: (s.at - now) / 1000,
      y: s.bytes,
    })));
    const fit = theilSen(points)!;
    const recentPoints = points.filter((p) => p.t >= -horizonMs / 2000);
    const recent: Trend | undefined = recentPoints.length >= 3
      ? theilSen(recentPoints)
      : undefined;
    const seconds = horizonMs / 1000;
    const then = fit.intercept - fit.slope * seconds;
    const growth = fit.slope * seconds;
    const recentSlope = recent?.slope ?? fit.slope;
    const needed = Math.max(minGrowth, minGrowthRatio * then);
    const verdict: Verdict = growth <= 0
      ? "not growing"
      : growth < needed || !(needed > 0)
      ? "below the thresholds"
      : fit.risingShare < 0.6
      ? "not steady"
      : !climbsInEachThird(points)
      ? "one step, not a climb"
      : recentSlope * seconds < needed / 2
      ? "stopped climbing"
      : "growing";
    return {
      judged: true,
      horizonMs,
      samples: inHorizon.length,
      spanMs,
      perSecond: fit.slope,
      recentPerSecond: recentSlope,
      then,
      now: fit.intercept,
      growth,
      needed,
      risingShare: fit.risingShare,
      verdict,
    };
  }
}

/**
 * At most {@link MAX_FIT_POINTS} points: each run of consecutive points
 * keeps its lowest, the floor's best estimate. Keeps the fit cheap when
 * full GCs come every second.
 */
function thin(points: Point[]): Point[] {
  if (points.length <= MAX_FIT_POINTS) return points;
  const run = Math.ceil(points.length / MAX_FIT_POINTS);
  const kept: Point[] = [];
  for (let i = 0; i < points.length; i += run) {
    let low = points[i]!;
    for (let j = i + 1; j < Math.min(i + run, points.length); j++) {
      if (points[j]!.y < low.y) low = points[j]!;
    }
    kept.push(low);
  }
  return kept;
}

/**
 * Whether the rise shows in each third of the span: the median of each
 * third is above the one before by at least a fifth of the whole rise. A
 * steady climb (or a staircase of several steps) passes; one step, however
 * large, leaves one third flat.
 */
function climbsInEachThird(points: readonly Point[]): boolean {
  const first = points[0]!.t;
  const span = points.at(-1)!.t - first;
  if (!(span > 0)) return false;
  const thirds: number[][] = [[], [], []];
  for (const p of points) {
    thirds[Math.min(2, Math.floor(((p.t - first) / span) * 3))]!.push(p.y);
  }
  if (thirds.some((t) => t.length === 0)) return false;
  const [a, b, c] = thirds.map(median) as [number, number, number];
  const rise = c - a;
  return rise > 0 && b - a >= rise / 5 && c - b >= rise / 5;
}
