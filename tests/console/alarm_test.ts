import assert from "node:assert/strict";
import { LEAK_ALARM_DEFAULTS, startLeakAlarm } from "../../console/mod.ts";
import { activeLeakAlarm } from "../../console/toolkit/leak_alarm.ts";

Deno.test("`startLeakAlarm()` starts this process's alarm with the defaults and stops it", async () => {
  const alarm = await startLeakAlarm();
  try {
    assert.deepEqual(alarm.settings, LEAK_ALARM_DEFAULTS);
    assert.deepEqual(LEAK_ALARM_DEFAULTS, {
      windowSeconds: 60,
      minGrowthBytes: 8 * 2 ** 20,
      minGrowthPercent: 10,
      gcIntervalSeconds: 10,
      profileSeconds: 30,
    });
    assert.ok(activeLeakAlarm() !== undefined);
    assert.equal(alarm.suspected, false);
    const readings = alarm.readings();
    assert.equal(readings.samples, 0);
    assert.ok(Number.isNaN(readings.floorBytes));
    assert.ok(readings.heapLimitBytes > 2 ** 20);
  } finally {
    await alarm.stop();
  }
  assert.equal(activeLeakAlarm(), undefined);
});

Deno.test("`startLeakAlarm()` takes a host's settings and log, and refuses bad ones before starting", async () => {
  const lines: string[] = [];
  const alarm = await startLeakAlarm({
    windowSeconds: 30,
    minGrowthBytes: 0,
    log: (line) => lines.push(line),
  });
  assert.equal(alarm.settings.windowSeconds, 30);
  assert.equal(alarm.settings.minGrowthBytes, 0);
  assert.equal(alarm.settings.profileSeconds, 30);
  await alarm.stop();
  const bad: [unknown, RegExp][] = [
    [
      { windowSeconds: 4 },
      /windowSeconds must be a number from 5 to 86400: received 4$/,
    ],
    [{ windowSeconds: NaN }, /windowSeconds must be a number .* received NaN$/],
    [
      { profileSeconds: "30" },
      /profileSeconds must be a number .* received "30"$/,
    ],
    [
      { minGrowthBytes: -1 },
      /minGrowthBytes must be a number from 0 to 1099511627776/,
    ],
    [{ gcIntervalSeconds: Infinity }, /gcIntervalSeconds must be a number/],
    [
      { minGrowthBytes: 0, minGrowthPercent: 0 },
      /minGrowthBytes and minGrowthPercent must not both be 0/,
    ],
  ];
  for (const [settings, message] of bad) {
    await assert.rejects(
      // A JavaScript caller can pass anything.
      startLeakAlarm(Object.assign({}, settings)),
      (error: Error) =>
        error instanceof RangeError && message.test(error.message),
      JSON.stringify(settings),
    );
    assert.equal(activeLeakAlarm(), undefined);
  }
  await assert.rejects(
    startLeakAlarm(JSON.parse('{"log": "stderr"}')),
    /log must be a function/,
  );
  assert.equal(activeLeakAlarm(), undefined);
});

Deno.test("`startLeakAlarm()`'s handle suspects a leak of any kind, not only the JS heap's", async () => {
  const alarm = await startLeakAlarm({ windowSeconds: 5 });
  try {
    // The open resources' detector, fed a steady climb (one sample a
    // second for 10 s, 20 more each time) before the alarm's first poll:
    // what a handle leak looks like to it. Tripping on real open files is
    // tests/console/toolkit/leak_alarm_test.ts's.
    const internal = activeLeakAlarm()!;
    const start = Date.now() - 10_000;
    for (let i = 0; i <= 10; i++) {
      internal.detectors.resources!.add({
        at: start + i * 1000,
        bytes: 100 + 20 * i,
      });
    }
    assert.equal(internal.detectors.resources!.suspected, true);
    assert.equal(internal.detector.suspected, false);
    assert.equal(alarm.suspected, true);
    const readings = alarm.readings();
    assert.equal(readings.suspected, true);
    assert.equal(readings.handlesSuspected, true);
    assert.equal(readings.heapSuspected, false);
  } finally {
    await alarm.stop();
  }
});
