/**
 * A Deno program that refuses SIGUSR1's inspector the way a host embedding
 * the leakwatch console does: with the console's own guard, which closes
 * the inspector Deno opens and logs one `SIGUSR1...: refused` line on
 * stderr per signal (or burst). Prints `listening on PORT`.
 */

import { guardInspectorSignal } from "../../../../console/process.ts";

guardInspectorSignal();

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening on ${port}`),
}, () => new Response("ok\n"));
