/** `attach`'s flags: what parses, and a clear usage error for the rest. */

import assert from "node:assert/strict";
import { parseAttachArgs } from "../../../console/attach/flags.ts";
import { UsageError } from "../../../console/flags.ts";

Deno.test("parseAttachArgs() takes a PID first or as --pid, --inspect, -e, --json and --timeout", () => {
  assert.deepEqual(parseAttachArgs(["42"]), { pid: 42, openTimeoutMs: 5_000 });
  assert.deepEqual(parseAttachArgs(["--pid", "42", "-e", "x", "--json"]), {
    pid: 42,
    eval: "x",
    json: true,
    openTimeoutMs: 5_000,
  });
  assert.deepEqual(parseAttachArgs(["--inspect", "9230", "--timeout", "9"]), {
    inspect: { host: "127.0.0.1", port: 9230 },
    openTimeoutMs: 9_000,
  });
  assert.equal(parseAttachArgs(["--help"]), "help");
  assert.equal(parseAttachArgs(["42", "-h"]), "help");
});

Deno.test("parseAttachArgs() refuses a missing, bad or doubled target and bad flags with one usage error each", () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /attach needs a PID or --inspect/],
    [["0"], /PID must be an integer from 1 to 4194304/],
    [["4194305"], /PID must be an integer/],
    [["-5"], /Unknown option '-5'/],
    [["1e3"], /PID must be an integer/],
    [["42", "43"], /Unexpected argument '43'/],
    [["42", "--pid", "42"], /give the PID once/],
    [["42", "--inspect", "9229"], /give a PID or --inspect, not both/],
    [["42", "--json"], /--json needs -e CODE/],
    [["42", "--timeout", "0"], /--timeout must be an integer from 1 to 600/],
    [["42", "--timeout", "lots"], /--timeout must be an integer/],
    [["42", "--frobnicate"], /Unknown option '--frobnicate'/],
    [["42", "-e"], /-e/],
    [["--inspect", "nowhere:"], /--inspect "nowhere:": not an address/],
  ];
  for (const [args, message] of cases) {
    assert.throws(
      () => parseAttachArgs(args),
      (error) => error instanceof UsageError && message.test(error.message),
      JSON.stringify(args),
    );
  }
});
