/**
 * The attach bench's target: a heap shaped like a leaking service's cache
 * (a Map of small class instances), an event-loop stall monitor, and an
 * in-process heap capture (node:inspector, as the embedded toolkit does)
 * to compare a capture through attach with. No leakwatch code.
 *
 * `deno run --allow-net=127.0.0.1 --allow-sys bench/attach_target.ts USERS`
 * prints `listening on PORT`; `GET /stats` gives `{ heapUsed, rss,
 * maxStallMs }` (the longest gap between 5 ms ticks since the last
 * `/stats`), `POST /capture` takes a snapshot in-process and gives
 * `{ ms, bytes }`.
 *
 * @module
 */

import { Session } from "node:inspector";

class User {
  constructor(
    readonly id: number,
    readonly name: string,
    readonly email: string,
    readonly tags: string[],
  ) {}
}

const users = Number(Deno.args[0] ?? "150000");
const cache = new Map<number, User>();
for (let i = 0; i < users; i++) {
  cache.set(i, new User(i, `user ${i}`, `user${i}@example.com`, [`t${i % 7}`]));
}
(globalThis as { cache?: unknown }).cache = cache;

const TICK_MS = 5;
let last = performance.now();
let maxStallMs = 0;
setInterval(() => {
  const now = performance.now();
  maxStallMs = Math.max(maxStallMs, now - last - TICK_MS);
  last = now;
}, TICK_MS);

function captureInProcess(): Promise<{ ms: number; bytes: number }> {
  const session = new Session();
  session.connect();
  let bytes = 0;
  const chunks: string[] = [];
  session.on("HeapProfiler.addHeapSnapshotChunk", (message) => {
    const chunk = (message.params as { chunk: string }).chunk;
    chunks.push(chunk);
    bytes += chunk.length;
  });
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const keepAlive = setInterval(() => {}, 50);
    session.post("HeapProfiler.takeHeapSnapshot", {}, (error) => {
      clearInterval(keepAlive);
      const ms = performance.now() - started;
      session.disconnect();
      chunks.length = 0;
      if (error) reject(error);
      else resolve({ ms, bytes });
    });
  });
}

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening on ${port}`),
}, async (request) => {
  const path = new URL(request.url).pathname;
  if (path === "/stats") {
    const stats = {
      heapUsed: Deno.memoryUsage().heapUsed,
      rss: Deno.memoryUsage().rss,
      maxStallMs,
    };
    maxStallMs = 0;
    return Response.json(stats);
  }
  if (path === "/capture" && request.method === "POST") {
    return Response.json(await captureInProcess());
  }
  return new Response("not found", { status: 404 });
});
