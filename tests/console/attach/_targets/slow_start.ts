/**
 * A Deno program still in its top-level code: for the milliseconds given
 * as its argument it computes synchronously, so Deno has not installed its
 * SIGUSR1 handler yet (it does once the main module has run) and a
 * SIGUSR1 would kill it. Then it prints `started` and serves, printing
 * `listening on PORT`.
 */

const busyMs = Number(Deno.args[0] ?? "3000");
console.log("starting");
const end = Date.now() + busyMs;
while (Date.now() < end) {
  // Top-level work, as a program loading a large configuration does.
}
console.log("started");
Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening on ${port}`),
}, () => new Response("ok\n"));
