import assert from "node:assert/strict";
import { Gauge, Registry } from "prom-client";
import {
  addLeakAlarmGauges,
  currentLeakAlarmReadings,
  type LeakAlarmReadings,
} from "../../console/alarm_gauges.ts";
import { startLeakAlarm } from "../../console/mod.ts";

function value(text: string, name: string): string | undefined {
  return text.match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1];
}

/** Readings of an alarm with nothing to say yet, with `overrides`. */
function readings(overrides: Partial<LeakAlarmReadings>): LeakAlarmReadings {
  return {
    floorBytes: NaN,
    growthBytesPerSecond: NaN,
    suspected: false,
    samples: 0,
    heapLimitBytes: 4e9,
    externalFloorBytes: NaN,
    externalGrowthBytesPerSecond: NaN,
    rssFloorBytes: NaN,
    nativeFloorBytes: NaN,
    nativeGrowthBytesPerSecond: NaN,
    openResources: NaN,
    openResourcesGrowthPerSecond: NaN,
    openFds: NaN,
    heapSuspected: false,
    externalSuspected: false,
    nativeSuspected: false,
    handlesSuspected: false,
    forcedGcs: 0,
    ignoredSamples: 0,
    ...overrides,
  };
}

Deno.test("`addLeakAlarmGauges()` shows the readings in the host's registry as they change", async () => {
  const registry = new Registry();
  new Gauge({
    name: "host_own_gauge",
    help: "The host's.",
    registers: [registry],
  })
    .set(3);
  let suspected = false;
  const current = (): Promise<LeakAlarmReadings> =>
    Promise.resolve(readings({
      floorBytes: 50e6,
      growthBytesPerSecond: suspected ? 250e3 : 12.5,
      suspected,
      samples: 7,
      externalFloorBytes: 3e6,
      externalGrowthBytesPerSecond: suspected ? 9e5 : 0,
      rssFloorBytes: 9e7,
      nativeFloorBytes: 4e7,
      nativeGrowthBytesPerSecond: -12,
      openResources: 17,
      openResourcesGrowthPerSecond: 0.5,
      externalSuspected: suspected,
      forcedGcs: 4,
      ignoredSamples: 2,
    }));
  addLeakAlarmGauges(registry, Gauge, current);
  let text = await registry.metrics();
  assert.equal(value(text, "host_own_gauge"), "3");
  assert.equal(value(text, "leakwatch_heap_after_gc_bytes"), "50000000");
  assert.equal(value(text, "leakwatch_heap_growth_bytes_per_second"), "12.5");
  assert.equal(value(text, "leakwatch_leak_suspected"), "0");
  assert.equal(value(text, "leakwatch_heap_after_gc_samples"), "7");
  assert.equal(value(text, "leakwatch_heap_limit_bytes"), "4000000000");
  assert.match(text, /^# TYPE leakwatch_leak_suspected gauge$/m);
  assert.equal(value(text, "leakwatch_external_after_gc_bytes"), "3000000");
  assert.equal(value(text, "leakwatch_rss_after_gc_bytes"), "90000000");
  assert.equal(value(text, "leakwatch_native_after_gc_bytes"), "40000000");
  assert.equal(value(text, "leakwatch_native_growth_bytes_per_second"), "-12");
  assert.equal(value(text, "leakwatch_open_resources"), "17");
  assert.equal(
    value(text, "leakwatch_open_resources_growth_per_second"),
    "0.5",
  );
  assert.equal(value(text, "leakwatch_external_leak_suspected"), "0");
  assert.equal(value(text, "leakwatch_forced_gcs"), "4");
  assert.equal(value(text, "leakwatch_ignored_samples"), "2");
  suspected = true;
  text = await registry.metrics();
  assert.equal(value(text, "leakwatch_leak_suspected"), "1");
  assert.equal(value(text, "leakwatch_external_leak_suspected"), "1");
  assert.equal(value(text, "leakwatch_heap_leak_suspected"), "0");
  assert.equal(
    value(text, "leakwatch_external_growth_bytes_per_second"),
    "900000",
  );
  assert.equal(value(text, "leakwatch_heap_growth_bytes_per_second"), "250000");
});

Deno.test("`addLeakAlarmGauges()` reads this process's alarm: NaN while none runs, numbers once one does", async () => {
  const registry = new Registry();
  addLeakAlarmGauges(registry, Gauge);
  assert.equal(await currentLeakAlarmReadings(), undefined);
  assert.match(
    value(await registry.metrics(), "leakwatch_heap_limit_bytes")!,
    /^nan$/i,
  );
  const alarm = await startLeakAlarm();
  try {
    const text = await registry.metrics();
    assert.ok(Number(value(text, "leakwatch_heap_limit_bytes")) > 1e6);
    assert.equal(value(text, "leakwatch_leak_suspected"), "0");
    assert.equal(value(text, "leakwatch_heap_after_gc_samples"), "0");
  } finally {
    await alarm.stop();
  }
  assert.match(
    value(await registry.metrics(), "leakwatch_leak_suspected")!,
    /^nan$/i,
  );
});
