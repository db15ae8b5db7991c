import assert from "node:assert/strict";
import {
  activeLeakAlarm,
  type LeakAlarm,
  startLeakAlarm,
} from "../../../console/toolkit/leak_alarm.ts";
import { leak } from "../../../console/toolkit/leak.ts";
import { closeToolkit } from "../../../console/toolkit/mod.ts";

const MiB = 2 ** 20;
const retained: string[][] = [];

/** Allocates about `bytes` of strings that stay reachable. */
function leakyAllocation(bytes: number): void {
  const batch: string[] = [];
  for (let i = 0; i < bytes / 64; i++) {
    batch.push(`${i}`.padStart(48, "x") + Math.random());
  }
  retained.push(batch);
}

async function until(
  what: string,
  condition: () => boolean,
  timeoutMs: number,
  step?: () => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out waiting for ${what}: ${
          Deno.inspect(activeLeakAlarm()?.detector.assessment)
        } ${activeLeakAlarm()?.samplesTotal} ${activeLeakAlarm()?.forcedGcs} ${activeLeakAlarm()?.inspectorProblem}`,
      );
    }
    step?.();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function fastAlarm(lines: string[]): LeakAlarm {
  return startLeakAlarm({
    windowSeconds: 6,
    minGrowthBytes: 2 * MiB,
    minGrowthPercent: 5,
    gcIntervalSeconds: 1,
    profileSeconds: 2,
    profileIntervalBytes: 16 * 1024,
    pollMs: 100,
    // Samples every second whatever the GC costs on a loaded test machine.
    gcBudget: 1,
    log: (line) => lines.push(line),
  });
}

Deno.test({
  name:
    "`startLeakAlarm()` trips on a growing heap, names the allocating function, and clears when it stops",
  sanitizeOps: false,
  async fn() {
    const lines: string[] = [];
    const alarm = fastAlarm(lines);
    try {
      assert.equal(leak().state, "watching");
      await until(
        "the trip",
        () => alarm.detector.suspected,
        60_000,
        () => leakyAllocation(128 * 1024),
      );
      assert.match(
        lines[0]!,
        /^leak alarm: JS heap after full GC growing \+[\d.]+ [KM]iB\/s over the last 6 s \(\d+ samples\): [\d.]+ MiB then, [\d.]+ MiB now; sampling allocations for 2 s to name the sites$/,
      );
      assert.equal(leak().state, "suspected");
      await until(
        "the attribution",
        () => alarm.lastAttribution !== undefined,
        30_000,
        () => leakyAllocation(128 * 1024),
      );
      const attribution = alarm.lastAttribution!;
      assert.equal(attribution.problem, undefined, attribution.problem);
      assert.ok(
        attribution.sites.some((site) =>
          site.function.startsWith("leakyAllocation") &&
          site.file.endsWith("tests/console/toolkit/leak_alarm_test.ts")
        ),
        lines.join("\n"),
      );
      assert.match(
        lines[1]!,
        /^leak alarm: top live allocation sites after 2 s of sampling every 16.0 KiB .*leakyAllocation.* tests\/console\/toolkit\/leak_alarm_test\.ts:\d+.*; leak\(\) shows them again, the alarm keeps watching$/,
      );
      const printed = Deno.inspect(leak());
      assert.match(printed, /LEAK SUSPECTED since/);
      assert.match(
        printed,
        /JS heap +[\d.]+ MiB +[▁▂▃▄▅▆▇█]+ \(\d+\) +\+[\d.]+ [KM]iB\/s +LEAK SUSPECTED: growing over 6 s/,
      );
      assert.match(
        printed,
        /last attribution .*after the JS heap tripped.*\n {2}.*leakyAllocation/,
      );
      assert.match(printed, /heap\.leaks\(\)|too large to capture/);
      const report = JSON.parse(JSON.stringify(leak()));
      assert.equal(report.state, "suspected");
      assert.ok(report.history.length >= 5);

      // The floor stops growing: the alarm clears.
      await until("the clear", () => !alarm.detector.suspected, 60_000);
      assert.match(
        lines.at(-1)!,
        /^leak alarm cleared: JS heap after full GC no longer growing \([+-][\d.]+ (B|KiB|MiB)\/s lately\), [\d.]+ MiB now; the alarm keeps watching$/,
      );
      assert.equal(leak().state, "watching");
      assert.ok(alarm.forcedGcs > 0);
    } finally {
      await alarm.stop();
      retained.length = 0;
      await closeToolkit();
    }
    assert.equal(activeLeakAlarm(), undefined);
    assert.equal(leak().state, "off");
  },
});

Deno.test({
  name: "`startLeakAlarm()` stays quiet on a heap that churns without growing",
  sanitizeOps: false,
  async fn() {
    const lines: string[] = [];
    const alarm = fastAlarm(lines);
    try {
      const started = Date.now();
      let garbage: string[][] = [];
      await until(
        "12 s of churn",
        () => Date.now() - started > 12_000,
        20_000,
        () => {
          // Allocates as much as the leaking test, but drops it again.
          garbage.push(
            Array.from({ length: 2000 }, (_, i) => `${i}`.padStart(48, "y")),
          );
          if (garbage.length > 20) garbage = [];
        },
      );
      assert.ok(alarm.samplesTotal >= 8, String(alarm.samplesTotal));
      assert.deepEqual(lines, []);
      assert.equal(alarm.detector.suspected, false);
    } finally {
      await alarm.stop();
      await closeToolkit();
    }
  },
});

Deno.test("`startLeakAlarm()` replaces the previous alarm and `stop()` is idempotent", async () => {
  const options = {
    windowSeconds: 60,
    minGrowthBytes: MiB,
    minGrowthPercent: 10,
    gcIntervalSeconds: 10,
    profileSeconds: 1,
  };
  const first = startLeakAlarm(options);
  const second = startLeakAlarm(options);
  assert.equal(activeLeakAlarm(), second);
  await first.stop();
  assert.equal(activeLeakAlarm(), second);
  await second.stop();
  await second.stop();
  assert.equal(activeLeakAlarm(), undefined);
});
