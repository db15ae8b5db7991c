import assert from "node:assert/strict";
import {
  activeLeakAlarm,
  type LeakAlarm,
  type LeakAlarmOptions,
  startLeakAlarm,
} from "../../../console/toolkit/leak_alarm.ts";
import { beginDisturbance } from "../../../console/toolkit/memory_disturbance.ts";
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

function fastAlarm(
  lines: string[],
  options: Partial<LeakAlarmOptions> = {},
): LeakAlarm {
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
    ...options,
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

const buffers: Uint8Array[][] = [];

/** Keeps `count` 64 KiB buffers: memory outside the JS heap. */
function keepBuffers(count: number): void {
  const batch: Uint8Array[] = [];
  for (let i = 0; i < count; i++) batch.push(new Uint8Array(64 * 1024).fill(1));
  buffers.push(batch);
}

Deno.test({
  name:
    "`startLeakAlarm()` trips on growing ArrayBuffers (external memory) and names the function that keeps them",
  sanitizeOps: false,
  async fn() {
    const lines: string[] = [];
    const alarm = fastAlarm(lines, { profileIntervalBytes: 1024 });
    try {
      await until(
        "the external trip",
        () => alarm.detectors.external!.suspected,
        60_000,
        () => keepBuffers(8),
      );
      const trip = lines.find((l) => l.includes("external memory"))!;
      assert.match(
        trip,
        /^leak alarm: external memory after full GC \(ArrayBuffers, typed arrays, Buffers\) growing \+[\d.]+ [KM]iB\/s over the last 6 s \(\d+ samples\): [\d.]+ MiB then, [\d.]+ MiB now; sampling allocations for 2 s to name the code that keeps the JS objects holding it$/,
      );
      // The JS objects are small: the heap floor stays under its threshold.
      assert.equal(alarm.detectors.heap!.suspected, false);
      assert.equal(alarm.readings().externalSuspected, true);
      assert.equal(alarm.readings().suspected, true);
      await until(
        "the attribution",
        () => alarm.lastAttribution !== undefined,
        30_000,
        () => keepBuffers(8),
      );
      const attribution = alarm.lastAttribution!;
      assert.equal(attribution.watch, "external");
      assert.ok(
        attribution.sites.some((site) =>
          site.function.startsWith("keepBuffers") &&
          site.file === "tests/console/toolkit/leak_alarm_test.ts"
        ),
        lines.join("\n"),
      );
      assert.match(
        Deno.inspect(leak()),
        /external \(ArrayBuffers\) +[\d.]+ MiB .*LEAK SUSPECTED: growing over 6 s/,
      );
    } finally {
      await alarm.stop();
      buffers.length = 0;
      await closeToolkit();
    }
  },
});

const files: Deno.FsFile[] = [];

/** Opens files and keeps them open. */
function openAndForget(count: number): void {
  for (let i = 0; i < count; i++) {
    files.push(Deno.openSync(new URL(import.meta.url)));
  }
}

Deno.test({
  name:
    "`startLeakAlarm()` trips on growing open files and names the line that opens them",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const lines: string[] = [];
    const alarm = fastAlarm(lines, { minGrowthHandles: 8 });
    try {
      await until(
        "the resources trip",
        () => alarm.detectors.resources!.suspected,
        60_000,
        () => openAndForget(2),
      );
      const trip = lines.find((l) => l.includes("open Deno resources"))!;
      assert.match(
        trip,
        /^leak alarm: open Deno resources \(files, sockets, fetch bodies...\) growing \+[\d.]+\/s over the last 6 s \(\d+ samples\): \d+ then, \d+ now; growing: fsFile \+\d+ \(files from Deno.open\(\), Deno.openSync\(\) or Deno.create\(\)\); watching for 2 s where they are opened to name the code$/,
      );
      await until(
        "the origins",
        () => alarm.lastAttribution?.origins !== undefined,
        30_000,
        () => openAndForget(2),
      );
      const [origin] = alarm.lastAttribution!.origins!;
      const source = await Deno.readTextFile(new URL(import.meta.url));
      const line = source.split("\n").findIndex((l) =>
        l.includes("files.push(Deno.openSync(")
      ) + 1;
      assert.deepEqual(
        [origin?.function, origin?.file, origin?.line, origin?.opener],
        [
          "openAndForget",
          "tests/console/toolkit/leak_alarm_test.ts",
          line,
          "Deno.openSync",
        ],
      );
      assert.deepEqual(origin?.types, ["fsFile"]);
      assert.match(
        lines.at(-1)!,
        /^leak alarm: resources opened in the last 2 s and still open, by the code that opened them: 1\) \d+ of \d+ fsFile still open from openAndForget tests\/console\/toolkit\/leak_alarm_test\.ts:\d+ \(Deno\.openSync/,
      );
      // The trace is over: Deno's own functions are back.
      assert.equal(Deno.openSync.name, "openSync");
      assert.doesNotMatch(String(Deno.openSync), /record\(/);
    } finally {
      await alarm.stop();
      for (const file of files.splice(0)) file.close();
      await closeToolkit();
    }
  },
});

Deno.test({
  name:
    "`startLeakAlarm()` ignores samples taken during a heap capture and judges native memory afresh after it",
  sanitizeOps: false,
  async fn() {
    const lines: string[] = [];
    const alarm = fastAlarm(lines);
    try {
      await until("a first sample", () => alarm.samplesTotal > 0, 20_000);
      const end = beginDisturbance("heap capture");
      const seen = alarm.samplesTotal;
      try {
        // What a capture does to the heap: megabytes that go away after.
        await until(
          "samples during it",
          () => alarm.samplesTotal >= seen + 4,
          30_000,
          () => leakyAllocation(512 * 1024),
        );
      } finally {
        retained.length = 0;
        end();
      }
      assert.ok(alarm.ignored.samples >= 4, String(alarm.ignored.samples));
      assert.equal(alarm.ignored.reason, "heap capture");
      const during = alarm.detector.history.length;
      await until(
        "a sample after it",
        () => alarm.detectors.native!.rebaselined !== undefined,
        30_000,
      );
      assert.equal(
        alarm.detectors.native!.rebaselined!.reason,
        "after a heap capture",
      );
      // The heap's history went on without the capture's samples.
      assert.ok(alarm.detector.history.length >= during);
      assert.deepEqual(lines, []);
      assert.equal(alarm.readings().ignoredSamples, alarm.ignored.samples);
      assert.match(
        Deno.inspect(leak()),
        /ignored \(taken during or just after a heap capture\)/,
      );
    } finally {
      await alarm.stop();
      retained.length = 0;
      await closeToolkit();
    }
  },
});

Deno.test({
  name:
    "`startLeakAlarm()` runs full GCs itself when V8 runs none, as often as its budget allows",
  sanitizeOps: false,
  async fn() {
    const lines: string[] = [];
    // A tenth of a 6 s window: one GC every 0.6 s at most, 1 s here.
    const alarm = fastAlarm(lines);
    try {
      await until("three forced GCs", () => alarm.forcedGcs >= 3, 30_000);
      assert.ok(alarm.lastForcedGcMs > 0);
      assert.equal(alarm.gcSpacingMs(), Math.max(600, alarm.lastForcedGcMs));
      await alarm.stop();
      // A budget that a GC of any cost exceeds spaces them out.
      const frugal = fastAlarm(lines, { gcBudget: 1e-6 });
      try {
        await until("one forced GC", () => frugal.forcedGcs >= 1, 30_000);
        const spacing = frugal.gcSpacingMs();
        assert.equal(spacing, frugal.lastForcedGcMs / 1e-6);
        assert.ok(spacing > 60_000, String(spacing));
        const report = JSON.parse(JSON.stringify(leak()));
        assert.equal(report.gc.forced, frugal.forcedGcs);
        assert.ok(report.gc.spacingSeconds > 60);
      } finally {
        await frugal.stop();
      }
    } finally {
      await alarm.stop();
      await closeToolkit();
    }
  },
});

Deno.test("`LeakAlarm.readings()` is plain data, NaN until there is something to say", async () => {
  const alarm = startLeakAlarm({
    windowSeconds: 60,
    minGrowthBytes: MiB,
    minGrowthPercent: 10,
    gcIntervalSeconds: 10,
    profileSeconds: 1,
  });
  try {
    const readings = alarm.readings();
    assert.deepEqual(Object.keys(readings).sort(), [
      "externalFloorBytes",
      "externalGrowthBytesPerSecond",
      "externalSuspected",
      "floorBytes",
      "forcedGcs",
      "growthBytesPerSecond",
      "handlesSuspected",
      "heapLimitBytes",
      "heapSuspected",
      "ignoredSamples",
      "nativeFloorBytes",
      "nativeGrowthBytesPerSecond",
      "nativeSuspected",
      "openFds",
      "openResources",
      "openResourcesGrowthPerSecond",
      "rssFloorBytes",
      "samples",
      "suspected",
    ]);
    for (const [key, value] of Object.entries(readings)) {
      assert.ok(
        typeof value === "number" || typeof value === "boolean",
        key,
      );
    }
    assert.ok(Number.isNaN(readings.floorBytes));
    assert.ok(Number.isNaN(readings.nativeGrowthBytesPerSecond));
    assert.ok(readings.heapLimitBytes > 0);
    assert.equal(readings.suspected, false);
  } finally {
    await alarm.stop();
  }
});
