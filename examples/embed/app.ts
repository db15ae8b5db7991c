/**
 * An example host: a small `Deno.serve` app that is not the users service,
 * with leakwatch's console and leak alarm embedded (the three lines marked
 * `leakwatch`). It leaks in its own way: `remember()` means to keep the last
 * 100 requests for `/recent`, but `slice()` returns a new array that is
 * thrown away, so `recentRequests` keeps every request.
 *
 * ```sh
 * cd examples/embed && deno task start      # PORT=0 picks a free port
 * deno task console --list                  # then: deno task console --pid PID
 * ```
 *
 * @module
 */

import { startConsole, startLeakAlarm } from "../../console/mod.ts"; // leakwatch

/** One request, as `/recent` shows it. */
interface RequestRecord {
  at: string;
  method: string;
  path: string;
  headers: Record<string, string>;
}

const KEEP = 100;
/** The last {@linkcode KEEP} requests: meant to be. */
export const recentRequests: RequestRecord[] = [];

function remember(request: Request): void {
  recentRequests.push({
    at: new Date().toISOString(),
    method: request.method,
    path: new URL(request.url).pathname,
    headers: Object.fromEntries(request.headers),
  });
  if (recentRequests.length > KEEP) recentRequests.slice(-KEEP); // the bug
}

function handle(request: Request): Response {
  remember(request);
  if (new URL(request.url).pathname === "/recent") {
    return Response.json(recentRequests.slice(-10));
  }
  return new Response("hello from the example host\n");
}

if (import.meta.main) {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: Number(Deno.env.get("PORT") ?? 8080),
  }, handle);
  await startConsole({ recentRequests, server, handle }); // leakwatch
  await startLeakAlarm(); // leakwatch
}
