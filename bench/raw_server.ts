/**
 * The HTTP benchmark's ceiling: a bare `Deno.serve` answering every request
 * with a fixed JSON body the size of a user record, or with an empty body
 * (`--empty`, the start-up and idle-memory baseline).
 *
 * @module
 */

const empty = Deno.args.includes("--empty");
const port = Number(Deno.args[Deno.args.indexOf("--port") + 1] ?? 0);
// A typical user record (about 300 bytes), as /users/<id> returns it.
const body = empty ? "" : JSON.stringify({
  user_id: "0f9a1c2e4b6d8f0a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a",
  name: "Marian Schumm",
  email: "Marian_Schumm@gmail.com",
  address: "4921 Leffler Square\nLynn, DE 13667",
  desc:
    "Verecundia correptius taedium admitto. Ambitus sopor tertius sum umerus aestivus atqui aiunt vero dapifer. Adiuvo absorbeo spes teres.",
});
const init = { headers: { "content-type": "application/json" } };
Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}/`),
}, () => new Response(body, init));
