import assert from "node:assert/strict";
import { parseLeakAlarmFlags } from "../../console/config.ts";
import { UsageError } from "../../console/flags.ts";

Deno.test("`parseLeakAlarmFlags()` rejects bad values with clear errors", () => {
  const bad: Array<[Record<string, string>, RegExp]> = [
    [
      { "leak-alarm": "yes" },
      /^--leak-alarm must be "on" or "off": received "yes"$/,
    ],
    [{ "leak-alarm": "" }, /--leak-alarm must be "on" or "off"/],
    [
      { "leak-alarm-window": "4" },
      /^--leak-alarm-window must be an integer from 5 to 86400: received "4"$/,
    ],
    [{ "leak-alarm-window": "1e3" }, /--leak-alarm-window must be an integer/],
    [
      { "leak-alarm-window": "9".repeat(400) },
      /--leak-alarm-window must be an integer/,
    ],
    [
      { "leak-alarm-min-growth": "-1" },
      /--leak-alarm-min-growth must be an integer from 0/,
    ],
    [
      { "leak-alarm-min-growth": "2.5" },
      /--leak-alarm-min-growth must be an integer/,
    ],
    [
      { "leak-alarm-min-growth-percent": "abc" },
      /--leak-alarm-min-growth-percent must be an integer/,
    ],
    [
      { "leak-alarm-gc-interval": "0" },
      /--leak-alarm-gc-interval must be an integer from 1/,
    ],
    [
      { "leak-alarm-profile": "3601" },
      /--leak-alarm-profile must be an integer from 1 to 3600/,
    ],
    [
      { "leak-alarm-min-growth": "0", "leak-alarm-min-growth-percent": "0" },
      /must not both be 0 \(it could never trip\); use --leak-alarm off/,
    ],
  ];
  for (const [flags, message] of bad) {
    assert.throws(() => parseLeakAlarmFlags(flags), (error: Error) => {
      assert.ok(error instanceof UsageError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
});
