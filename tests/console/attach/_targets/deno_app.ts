/**
 * A plain Deno program with no leakwatch code, as attach finds them in the
 * wild: an HTTP server that keeps every request in a module-level Map it
 * also puts on globalThis, and logs each one.
 *
 * Prints `listening on PORT` once it serves.
 */

interface Visit {
  path: string;
  at: number;
}

const visits = new Map<number, Visit>();
(globalThis as { visits?: Map<number, Visit> }).visits = visits;
let next = 0;

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening on ${port}`),
}, (request) => {
  const id = next++;
  visits.set(id, { path: new URL(request.url).pathname, at: Date.now() });
  console.log(`visit ${id}`);
  return new Response(`visits: ${visits.size}\n`);
});
