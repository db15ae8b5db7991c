import assert from "node:assert/strict";
import { median, theilSen } from "../../../console/toolkit/trend.ts";

Deno.test("`theilSen()` recovers an exact line", () => {
  const points = Array.from({ length: 20 }, (_, t) => ({ t, y: 5 + 3 * t }));
  const fit = theilSen(points)!;
  assert.equal(fit.slope, 3);
  assert.equal(fit.intercept, 5);
  assert.equal(fit.risingShare, 1);
  assert.equal(fit.points, 20);
});

Deno.test("`theilSen()` ignores outliers that sway least squares", () => {
  const points = Array.from({ length: 30 }, (_, t) => ({ t, y: 100 + t }));
  points[10]!.y = 1e9;
  points[20]!.y = -1e9;
  points[29]!.y = 5e8;
  const fit = theilSen(points)!;
  assert.ok(Math.abs(fit.slope - 1) < 0.05, String(fit.slope));
  assert.ok(Math.abs(fit.intercept - 100) < 2, String(fit.intercept));
});

Deno.test("`theilSen()` is order-independent and skips pairs with equal times", () => {
  const points = [
    { t: 3, y: 9 },
    { t: 0, y: 0 },
    { t: 3, y: 9 },
    { t: 1, y: 3 },
  ];
  assert.equal(theilSen(points)!.slope, 3);
});

Deno.test("`theilSen()` needs two distinct times", () => {
  assert.equal(theilSen([]), undefined);
  assert.equal(theilSen([{ t: 1, y: 1 }]), undefined);
  assert.equal(theilSen([{ t: 1, y: 1 }, { t: 1, y: 2 }]), undefined);
});

Deno.test("`theilSen()` reports a flat noisy series as flat", () => {
  let seed = 7;
  const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
  const points = Array.from({ length: 60 }, (_, t) => ({
    t,
    y: 50e6 + 1e6 * noise(),
  }));
  const fit = theilSen(points)!;
  assert.ok(Math.abs(fit.slope) < 20e3, String(fit.slope));
  assert.ok(fit.risingShare > 0.35 && fit.risingShare < 0.65);
});

Deno.test("`median()` handles odd, even and empty lists without sorting its input", () => {
  const values = [5, 1, 4];
  assert.equal(median(values), 4);
  assert.deepEqual(values, [5, 1, 4]);
  assert.equal(median([1, 2, 3, 10]), 2.5);
  assert.ok(Number.isNaN(median([])));
});
