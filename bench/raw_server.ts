/**
 * The HTTP benchmark's baselines, each a bare `Deno.serve`:
 *
 * - default: every request answered with a fixed JSON body the size of a
 *   user record (the ceiling);
 * - `--routed`: routed by hand with the same work as a cache hit and
 *   nothing else: read the URL, one `Map` lookup, `JSON.stringify` (what
 *   Hono and the service add shows against this one);
 * - `--empty`: an empty body (the start-up and idle-memory baseline).
 *
 * @module
 */

const empty = Deno.args.includes("--empty");
const routed = Deno.args.includes("--routed");
const portAt = Deno.args.indexOf("--port");
const port = portAt === -1 ? 0 : Number(Deno.args[portAt + 1]);
// A typical user record (about 300 bytes), as /users/<id> returns it.
const user = {
  user_id: "0f9a1c2e4b6d8f0a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a",
  name: "Marian Schumm",
  email: "Marian_Schumm@gmail.com",
  address: "4921 Leffler Square\nLynn, DE 13667",
  desc:
    "Verecundia correptius taedium admitto. Ambitus sopor tertius sum umerus aestivus atqui aiunt vero dapifer. Adiuvo absorbeo spes teres.",
};
const body = empty ? "" : JSON.stringify(user);
const init = { headers: { "content-type": "application/json" } };
const notFound = { status: 404 };
/** The hand-routed cache: the bench's fixed id and the record's own. */
const users = new Map([["bench-user", user], [user.user_id, user]]);
const USERS_PREFIX = "/users/";

function routedHandler(request: Request): Response {
  const url = request.url;
  // The path starts at the first "/" after "http://host".
  const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
  const found = path.startsWith(USERS_PREFIX)
    ? users.get(path.slice(USERS_PREFIX.length))
    : undefined;
  if (found === undefined) return new Response(null, notFound);
  return new Response(JSON.stringify(found), init);
}

Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}/`),
}, routed ? routedHandler : () => new Response(body, init));
