/**
 * A child for exit_cleanup_test.ts: registers a cleanup that removes the
 * file `marker`, prints "ready", then behaves as `mode` says.
 *
 * ```sh
 * deno run --allow-read --allow-write tests/console/_exit_child.ts MODE MARKER
 * ```
 *
 * @module
 */

import { onExit } from "../../console/exit_cleanup.ts";

const [mode = "", marker = ""] = Deno.args;
const unregister = onExit(() => Deno.removeSync(marker), {
  signals: mode !== "no-signals" && mode !== "exit-normally",
});
if (mode === "unregistered") unregister();
if (mode === "host-listener") {
  let received = 0;
  Deno.addSignalListener("SIGTERM", () => {
    received++;
    console.log(`host got SIGTERM (${received})`);
    setTimeout(() => Deno.exit(0), 200);
  });
}
console.log("ready");
if (mode === "exit-3") {
  setTimeout(() => Deno.exit(3), 10);
} else if (mode !== "exit-normally") {
  setInterval(() => {}, 60_000); // a service: alive until signalled
}
