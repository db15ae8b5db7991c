/**
 * A Deno program that refuses SIGUSR1's inspector the way a host embedding
 * the leakwatch console does: on each SIGUSR1 it closes every inspector
 * that opens in the next second. Prints `listening on PORT`, then
 * `closed the inspector` each time it closed one.
 */

let watching = false;
Deno.addSignalListener("SIGUSR1", async () => {
  if (watching) return;
  watching = true;
  const inspector = await import("node:inspector");
  const until = performance.now() + 1_000;
  let closed = false;
  while (performance.now() < until) {
    if (inspector.url() !== undefined) {
      inspector.close();
      closed = true;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  if (closed) console.log("closed the inspector");
  watching = false;
});

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening on ${port}`),
}, () => new Response("ok\n"));
