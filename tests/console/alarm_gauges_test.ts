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

Deno.test("`addLeakAlarmGauges()` shows the readings in the host's registry as they change", async () => {
  const registry = new Registry();
  new Gauge({
    name: "host_own_gauge",
    help: "The host's.",
    registers: [registry],
  })
    .set(3);
  let suspected = false;
  const readings = (): Promise<LeakAlarmReadings> =>
    Promise.resolve({
      floorBytes: 50e6,
      growthBytesPerSecond: suspected ? 250e3 : 12.5,
      suspected,
      samples: 7,
      heapLimitBytes: 4e9,
    });
  addLeakAlarmGauges(registry, Gauge, readings);
  let text = await registry.metrics();
  assert.equal(value(text, "host_own_gauge"), "3");
  assert.equal(value(text, "leakwatch_heap_after_gc_bytes"), "50000000");
  assert.equal(value(text, "leakwatch_heap_growth_bytes_per_second"), "12.5");
  assert.equal(value(text, "leakwatch_leak_suspected"), "0");
  assert.equal(value(text, "leakwatch_heap_after_gc_samples"), "7");
  assert.equal(value(text, "leakwatch_heap_limit_bytes"), "4000000000");
  assert.match(text, /^# TYPE leakwatch_leak_suspected gauge$/m);
  suspected = true;
  text = await registry.metrics();
  assert.equal(value(text, "leakwatch_leak_suspected"), "1");
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
