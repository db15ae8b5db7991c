import assert from "node:assert/strict";
import {
  exposeLeakAlarm,
  type LeakAlarmReadings,
  type MetricsSource,
  renderMetrics,
  RequestStats,
  UNSUPPORTED_DEFAULT_METRICS,
} from "../../lib/metrics.ts";
import { hasTool, promtool } from "../_tools.ts";

function source(): MetricsSource {
  return {
    cache: new Map(),
    stats: { hits: 0, misses: 0 },
    requests: new RequestStats(),
  };
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

function value(text: string, name: string): string | undefined {
  return text.match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1];
}

Deno.test("`renderMetrics()` reports the leak alarm's gauges as it changes", async () => {
  const metrics = source();
  let suspected = false;
  exposeLeakAlarm(() =>
    readings({
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
    })
  );
  try {
    let text = await renderMetrics(metrics);
    assert.equal(value(text, "leakwatch_heap_after_gc_bytes"), "50000000");
    assert.equal(value(text, "leakwatch_heap_growth_bytes_per_second"), "12.5");
    assert.equal(value(text, "leakwatch_leak_suspected"), "0");
    assert.equal(value(text, "leakwatch_heap_after_gc_samples"), "7");
    assert.equal(value(text, "leakwatch_heap_limit_bytes"), "4000000000");
    assert.match(text, /^# TYPE leakwatch_leak_suspected gauge$/m);
    assert.equal(value(text, "leakwatch_external_after_gc_bytes"), "3000000");
    assert.equal(value(text, "leakwatch_rss_after_gc_bytes"), "90000000");
    assert.equal(value(text, "leakwatch_native_after_gc_bytes"), "40000000");
    assert.equal(
      value(text, "leakwatch_native_growth_bytes_per_second"),
      "-12",
    );
    assert.equal(value(text, "leakwatch_open_resources"), "17");
    assert.equal(
      value(text, "leakwatch_open_resources_growth_per_second"),
      "0.5",
    );
    assert.equal(value(text, "leakwatch_external_leak_suspected"), "0");
    assert.equal(value(text, "leakwatch_forced_gcs"), "4");
    assert.equal(value(text, "leakwatch_ignored_samples"), "2");
    suspected = true;
    text = await renderMetrics(metrics);
    assert.equal(value(text, "leakwatch_leak_suspected"), "1");
    assert.equal(value(text, "leakwatch_external_leak_suspected"), "1");
    assert.equal(value(text, "leakwatch_heap_leak_suspected"), "0");
    assert.equal(
      value(text, "leakwatch_external_growth_bytes_per_second"),
      "900000",
    );
    assert.equal(
      value(text, "leakwatch_heap_growth_bytes_per_second"),
      "250000",
    );
  } finally {
    exposeLeakAlarm(undefined);
  }
});

Deno.test("`renderMetrics()` shows NaN, not 0, for the floor while the alarm is off", async () => {
  const text = await renderMetrics(source());
  assert.match(value(text, "leakwatch_heap_after_gc_bytes")!, /^nan$/i);
  assert.match(
    value(text, "leakwatch_heap_growth_bytes_per_second")!,
    /^nan$/i,
  );
});

Deno.test("`renderMetrics()` includes the default metrics that work under Deno and leaves out the rest", async () => {
  const text = await renderMetrics(source());
  for (
    const name of [
      "process_cpu_seconds_total",
      "process_start_time_seconds",
      "nodejs_heap_size_used_bytes",
      "nodejs_eventloop_lag_p99_seconds",
      "nodejs_version_info",
    ]
  ) {
    assert.match(text, new RegExp(`^${name}[ {]`, "m"), name);
  }
  assert.ok(Number(value(text, "process_cpu_seconds_total")) > 0);
  assert.ok(Number(value(text, "nodejs_heap_size_used_bytes")) > 1e6);
  for (const name of UNSUPPORTED_DEFAULT_METRICS) {
    if (name === "process_resident_memory_bytes") continue;
    assert.doesNotMatch(text, new RegExp(`^(# TYPE )?${name}[ {]`, "m"), name);
  }
  // Resident memory once, ours, from Deno.memoryUsage(), and not 0.
  assert.equal(
    text.match(/^# TYPE process_resident_memory_bytes /gm)?.length,
    1,
  );
  assert.ok(Number(value(text, "process_resident_memory_bytes")) > 1e6);
});

Deno.test({
  name: "`renderMetrics()` output passes `promtool check metrics`",
  ignore: !hasTool("promtool"),
  async fn() {
    exposeLeakAlarm(() => readings({}));
    let text;
    try {
      text = await renderMetrics(source());
    } finally {
      exposeLeakAlarm(undefined);
    }
    const { text: report } = await promtool(["check", "metrics"], {
      input: text,
    });
    // Lint remarks about prom-client's own names are fine; a parse error is not.
    assert.doesNotMatch(
      report,
      /error parsing|text format parsing error/i,
      report,
    );
    assert.doesNotMatch(report, /leakwatch_/, report);
  },
});
