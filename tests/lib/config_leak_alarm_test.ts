import assert from "node:assert/strict";
import { parseServeArgs, type ServeConfig } from "../../lib/config.ts";
import { runMain } from "../_process.ts";

const MiB = 2 ** 20;

Deno.test("`parseServeArgs()` turns the leak alarm on with its defaults", () => {
  const config = parseServeArgs([]) as ServeConfig;
  assert.deepEqual(config.leakAlarm, {
    windowSeconds: 60,
    minGrowthBytes: 8 * MiB,
    minGrowthPercent: 10,
    gcIntervalSeconds: 10,
    profileSeconds: 30,
  });
});

Deno.test("`parseServeArgs()` reads every leak alarm flag", () => {
  const config = parseServeArgs([
    "--leak-alarm",
    "on",
    "--leak-alarm-window",
    "120",
    "--leak-alarm-min-growth",
    "32",
    "--leak-alarm-min-growth-percent",
    "0",
    "--leak-alarm-gc-interval",
    "30",
    "--leak-alarm-profile",
    "5",
  ]) as ServeConfig;
  assert.deepEqual(config.leakAlarm, {
    windowSeconds: 120,
    minGrowthBytes: 32 * MiB,
    minGrowthPercent: 0,
    gcIntervalSeconds: 30,
    profileSeconds: 5,
  });
  assert.equal(
    (parseServeArgs(["--leak-alarm", "off"]) as ServeConfig).leakAlarm,
    null,
  );
  assert.equal(
    (parseServeArgs(["--leak-alarm=off"]) as ServeConfig).leakAlarm,
    null,
  );
});

Deno.test("`parseServeArgs()` takes the leak alarm from the environment, flags first", () => {
  const saved = Deno.env.get("LEAK_ALARM_WINDOW");
  Deno.env.set("LEAK_ALARM_WINDOW", "90");
  Deno.env.set("LEAK_ALARM", "on");
  try {
    assert.equal(
      (parseServeArgs([]) as ServeConfig).leakAlarm?.windowSeconds,
      90,
    );
    assert.equal(
      (parseServeArgs(["--leak-alarm-window", "30"]) as ServeConfig)
        .leakAlarm?.windowSeconds,
      30,
    );
    Deno.env.set("LEAK_ALARM_WINDOW", "soon");
    assert.throws(
      () => parseServeArgs([]),
      /^UsageError: LEAK_ALARM_WINDOW must be an integer from 5 to 86400: received "soon"$/,
    );
  } finally {
    if (saved === undefined) Deno.env.delete("LEAK_ALARM_WINDOW");
    else Deno.env.set("LEAK_ALARM_WINDOW", saved);
    Deno.env.delete("LEAK_ALARM");
  }
});

Deno.test("main.ts serve rejects a bad leak alarm flag with one error line, exit 2, nothing bound", async () => {
  for (
    const args of [
      ["--leak-alarm", "maybe"],
      ["--leak-alarm-window", "0"],
      ["--leak-alarm-window"],
    ]
  ) {
    const { code, stdout, stderr } = await runMain([
      "serve",
      "--port",
      "0",
      "--console-port",
      "0",
      ...args,
    ]);
    assert.equal(code, 2, stderr);
    assert.equal(stdout, "");
    assert.match(stderr, /^error: .*--leak-alarm/m);
    assert.equal(
      stderr.trim().split("\n").filter((l) => l.startsWith("error")).length,
      1,
    );
  }
});
