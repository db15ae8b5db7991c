/**
 * The console benchmark's floor: a plain TCP echo server in its own Deno
 * process, so a round trip costs only the loopback and the event loops.
 *
 * @module
 */

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(`listening on 127.0.0.1:${listener.addr.port}`);
for await (const conn of listener) {
  conn.readable.pipeTo(conn.writable).catch(() => {});
}
