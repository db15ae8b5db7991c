/**
 * A child for start_console_test.ts: a program that embeds the console
 * through console/mod.ts, prints "ready", then behaves as MODE says.
 *
 * - `finish`: does nothing more; the console must not keep it alive.
 * - `own-signals`: `signals: "host"`; its SIGTERM listener closes the
 *   console and exits 0.
 * - `default`: waits (a service) until a signal ends it.
 *
 * @module
 */

import { startConsole } from "../../console/mod.ts";

const mode = Deno.args[0];
const live = await startConsole({ answer: 42 }, {
  program: "host-child.ts",
  signals: mode === "own-signals" ? "host" : "default",
});
if (mode === "own-signals") {
  Deno.addSignalListener("SIGTERM", async () => {
    await live.close();
    console.log("closed by the host");
    Deno.exit(0);
  });
}
console.log(`ready ${JSON.stringify(live.endpoint)}`);
if (mode !== "finish") setInterval(() => {}, 60_000);
