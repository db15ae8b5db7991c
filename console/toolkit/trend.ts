/**
 * A robust linear trend: the Theil–Sen estimator (median of pairwise
 * slopes), which one outlier cannot drag the way it drags least squares.
 *
 * @module
 */

/** One observation: a time in seconds and a value. */
export interface Point {
  /** Time, in seconds. */
  t: number;
  /** Value at that time. */
  y: number;
}

/** A fitted line and how consistently the points rise. */
export interface Trend {
  /** Median of the pairwise slopes, value units per second. */
  slope: number;
  /** Value of the line at `t = 0`. */
  intercept: number;
  /** Share of point pairs (distinct times) whose slope is positive, 0..1. */
  risingShare: number;
  /** Points fitted. */
  points: number;
}

/**
 * Fits a line with the Theil–Sen estimator: the slope is the median of the
 * slopes of every pair of points with distinct times, the intercept the
 * median of `y - slope * t`. Quadratic in the number of points: meant for
 * the few hundred samples of a window.
 *
 * @param points The observations, in any order.
 * @returns The fit, or `undefined` with fewer than two distinct times.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { theilSen } from "./trend.ts";
 * const fit = theilSen([
 *   { t: 0, y: 10 },
 *   { t: 1, y: 12 },
 *   { t: 2, y: 1000 }, // a spike
 *   { t: 3, y: 16 },
 *   { t: 4, y: 18 },
 * ]);
 * assert.equal(fit?.slope, 2);
 * assert.equal(fit?.intercept, 10);
 * ```
 */
export function theilSen(points: readonly Point[]): Trend | undefined {
  const slopes: number[] = [];
  let rising = 0;
  for (let i = 0; i < points.length; i++) {
    const a = points[i]!;
    for (let j = i + 1; j < points.length; j++) {
      const b = points[j]!;
      if (a.t === b.t) continue;
      const slope = (b.y - a.y) / (b.t - a.t);
      slopes.push(slope);
      if (slope > 0) rising++;
    }
  }
  if (slopes.length === 0) return undefined;
  const slope = median(slopes);
  const intercept = median(points.map((p) => p.y - slope * p.t));
  return {
    slope,
    intercept,
    risingShare: rising / slopes.length,
    points: points.length,
  };
}

/**
 * The median of a non-empty list (the mean of the two middle values for an
 * even count).
 *
 * @param values Numbers; not modified.
 * @returns Their median, `NaN` for an empty list.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { median } from "./trend.ts";
 * assert.equal(median([3, 1, 2]), 2);
 * assert.equal(median([4, 1, 3, 2]), 2.5);
 * ```
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[middle]!
    : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
