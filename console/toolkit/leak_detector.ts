/**
 * The leak alarm's decision: when does a series of heap-after-full-GC
 * samples (the "floor") grow steadily enough to call it a leak, and when
 * has it stopped. Pure logic over timestamps, no timers or V8: the watcher
 * in `leak_alarm.ts` feeds it.
 *
 * @module
 */

import { type Point, theilSen, type Trend } from "./trend.ts";

/** The thresholds. */
export interface DetectorOptions {
  /** How far back the fit looks, in milliseconds. */
  windowMs: number;
  /** Least growth over one window, in bytes. */
  minGrowthBytes: number;
  /** Least growth over one window, as a share of the floor at its start. */
  minGrowthRatio: number;
  /** Fewest samples in a window before any verdict (default 5). */
  minSamples?: number;
  /** Samples kept for the history (default 240). */
  historyLength?: number;
}

/** One heap-after-full-GC observation. */
export interface FloorSample {
  /** When, in milliseconds (any clock, the same for every sample). */
  at: number;
  /** V8 heap used right after a full GC, in bytes. */
  bytes: number;
}

/** What the latest evaluation found. */
export interface Assessment {
  /** Whether the window had enough samples over enough time to judge. */
  judged: boolean;
  /** Samples in the window. */
  samples: number;
  /** Theil–Sen growth rate over the window, bytes per second (`NaN` unjudged). */
  bytesPerSecond: number;
  /** The same over the window's later half. */
  recentBytesPerSecond: number;
  /** Fitted floor at the window's start, bytes. */
  floorThen: number;
  /** Fitted floor at the latest sample, bytes. */
  floorNow: number;
  /** Projected growth over one whole window, bytes. */
  growthPerWindow: number;
  /** Share of sample pairs that rise, 0..1. */
  risingShare: number;
}

/** A change of state. */
export type Transition = "tripped" | "cleared" | undefined;

const UNJUDGED: Assessment = {
  judged: false,
  samples: 0,
  bytesPerSecond: NaN,
  recentBytesPerSecond: NaN,
  floorThen: NaN,
  floorNow: NaN,
  growthPerWindow: NaN,
  risingShare: NaN,
};

/**
 * Decides, sample by sample, whether the post-GC floor leaks.
 *
 * It trips when, over the window, the Theil–Sen slope projects a growth of
 * at least `minGrowthBytes` AND at least `minGrowthRatio` of the floor at
 * the window's start, most sample pairs rise (a steady climb, not one
 * step), and the window's later half still climbs at half that pace or more
 * (a cache that filled up and went flat does not count), for a quarter of
 * a window in a row. It clears when the
 * later half no longer climbs at half the threshold's pace (hysteresis, so
 * it does not flap).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LeakDetector } from "./leak_detector.ts";
 * const detector = new LeakDetector({
 *   windowMs: 60_000,
 *   minGrowthBytes: 8 * 2 ** 20,
 *   minGrowthRatio: 0.1,
 * });
 * let change;
 * for (let s = 0; s <= 90; s += 5) {
 *   change = detector.add({ at: s * 1000, bytes: 20e6 + s * 500e3 }) ?? change;
 * }
 * assert.equal(change, "tripped");
 * assert.equal(detector.suspected, true);
 * ```
 */
export class LeakDetector {
  /** The thresholds in force. */
  readonly options: Readonly<Required<DetectorOptions>>;
  #samples: FloorSample[] = [];
  #suspected = false;
  #since: number | undefined;
  #pendingSince: number | undefined;
  #last: Assessment = UNJUDGED;

  /**
   * @param options The thresholds.
   * @throws {RangeError} On a non-positive window or negative thresholds.
   */
  constructor(options: DetectorOptions) {
    const full = { minSamples: 5, historyLength: 240, ...options };
    if (!(full.windowMs > 0)) {
      throw new RangeError(
        `Window must be positive: received "${full.windowMs}"`,
      );
    }
    if (!(full.minGrowthBytes >= 0) || !(full.minGrowthRatio >= 0)) {
      throw new RangeError("Growth thresholds must not be negative");
    }
    if (!Number.isInteger(full.minSamples) || full.minSamples < 3) {
      throw new RangeError(
        `Fewest samples must be an integer of at least 3: received "${full.minSamples}"`,
      );
    }
    this.options = full;
  }

  /** Whether a leak is suspected now. */
  get suspected(): boolean {
    return this.#suspected;
  }

  /** When the current suspicion started (the sample's `at`), if suspected. */
  get since(): number | undefined {
    return this.#since;
  }

  /** The latest assessment. */
  get assessment(): Assessment {
    return this.#last;
  }

  /** The samples kept, oldest first (up to `historyLength`). */
  get history(): readonly FloorSample[] {
    return this.#samples;
  }

  /**
   * Records a sample and re-evaluates. Samples must come in time order; an
   * older one is ignored.
   *
   * @param sample The new floor observation.
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
    const { windowMs, minSamples, minGrowthBytes, minGrowthRatio } =
      this.options;
    const window = this.#samples.filter((s) => s.at >= now - windowMs);
    const span = window.length > 0 ? now - window[0]!.at : 0;
    // Judge only a window mostly covered by samples: a young process's first
    // seconds (start-up, warm-up) are not a trend.
    if (window.length < minSamples || span < windowMs * 0.75) {
      this.#last = { ...UNJUDGED, samples: window.length };
      return undefined;
    }
    const toPoints = (samples: FloorSample[]): Point[] =>
      samples.map((s) => ({ t: (s.at - now) / 1000, y: s.bytes }));
    const fit = theilSen(toPoints(window))!;
    const recentSamples = window.filter((s) => s.at >= now - windowMs / 2);
    const recent: Trend | undefined = recentSamples.length >= 3
      ? theilSen(toPoints(recentSamples))
      : undefined;
    const seconds = windowMs / 1000;
    const floorNow = fit.intercept;
    const floorThen = fit.intercept - fit.slope * seconds;
    const growth = fit.slope * seconds;
    const recentGrowth = (recent?.slope ?? fit.slope) * seconds;
    const needed = Math.max(minGrowthBytes, minGrowthRatio * floorThen);
    this.#last = {
      judged: true,
      samples: window.length,
      bytesPerSecond: fit.slope,
      recentBytesPerSecond: recent?.slope ?? fit.slope,
      floorThen,
      floorNow,
      growthPerWindow: growth,
      risingShare: fit.risingShare,
    };
    if (!this.#suspected) {
      const growing = growth >= needed && needed > 0 &&
        fit.risingShare >= 0.6 && recentGrowth >= needed / 2;
      if (!growing) {
        this.#pendingSince = undefined;
        return undefined;
      }
      // It must keep growing for a quarter window: the tail of a burst (a
      // bounded cache filling up) passes the test for a few seconds only.
      this.#pendingSince ??= now;
      if (now - this.#pendingSince < windowMs / 4) return undefined;
      this.#pendingSince = undefined;
      this.#suspected = true;
      this.#since = now;
      return "tripped";
    }
    if (recentGrowth < needed / 2) {
      this.#suspected = false;
      this.#since = undefined;
      return "cleared";
    }
    return undefined;
  }
}
