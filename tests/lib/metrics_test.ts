import assert from "node:assert/strict";
import {
  type MetricsSource,
  renderMetrics,
  RequestStats,
  UNSUPPORTED_DEFAULT_METRICS,
} from "../../lib/metrics.ts";
import { startLeakAlarm } from "../../console/mod.ts";
import { hasTool, promtool } from "../_tools.ts";

function source(): MetricsSource {
  return {
    cache: new Map(),
    stats: { hits: 0, misses: 0 },
    requests: new RequestStats(),
  };
}

function value(text: string, name: string): string | undefined {
  return text.match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1];
}

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
    // A real alarm, just started: NaN floor and growth beside numbers.
    const alarm = await startLeakAlarm();
    let text;
    try {
      text = await renderMetrics(source());
    } finally {
      await alarm.stop();
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
