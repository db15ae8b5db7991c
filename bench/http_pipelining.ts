/**
 * Connections that pipeline requests and never read the responses, against
 * the HTTP connection cap: can newcomers still get in?
 *
 * Starts `main.ts serve --max-connections CAP`, opens `--connections`
 * connections that each write `--requests` pipelined `GET PATH` requests
 * and never read, then for `--seconds` sends one newcomer request after
 * another (`GET /healthz` on a fresh connection, 2 s to answer) and reports
 * how many were answered and the longest stretch during which none was.
 *
 * Run: deno run --allow-run=deno --allow-net=127.0.0.1 --allow-read
 * --allow-env=HOME bench/http_pipelining.ts [--connections 45]
 * [--requests 20000] [--cap 40] [--seconds 24] [--path /users/alice]
 * [--interval 100]
 *
 * @module
 */

import { benchFlags } from "./_flags.ts";
import { startServe } from "../tests/_process.ts";

const flags = benchFlags(Deno.args, {
  connections: 45,
  requests: 20_000,
  cap: 40,
  seconds: 24,
  path: "/users/alice",
  interval: 100,
});

const encoder = new TextEncoder();

const service = await startServe([
  "--no-console",
  "--max-connections",
  String(flags.cap),
]);
const port = Number(new URL(service.url).port);

/** One `GET /healthz` on a fresh connection: answered 200 within 10 s? */
async function newcomer(): Promise<boolean> {
  let conn: Deno.Conn | undefined;
  const timer = setTimeout(() => conn?.close(), 10_000);
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(
      encoder.encode("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
    );
    const buffer = new Uint8Array(1024);
    const n = await conn.read(buffer);
    return n !== null &&
      new TextDecoder().decode(buffer.subarray(0, 12)) === "HTTP/1.1 200";
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // Closed by the timer.
    }
  }
}

const pipelined = encoder.encode(
  `GET ${flags.path} HTTP/1.1\r\nHost: x\r\n\r\n`.repeat(flags.requests),
);
const nonReaders: Deno.Conn[] = [];
for (let i = 0; i < flags.connections; i++) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  // Never awaited: once the service stops reading, the write waits.
  conn.write(pipelined).catch(() => {});
  nonReaders.push(conn);
}

const start = performance.now();
const latencies: number[] = [];
let served = 0;
let refused = 0;
let keptOutSince: number | undefined;
let longestKeptOut = 0;
while (performance.now() - start < flags.seconds * 1000) {
  const now = performance.now();
  if (await newcomer()) {
    latencies.push(performance.now() - now);
    served++;
    if (keptOutSince !== undefined) {
      longestKeptOut = Math.max(longestKeptOut, now - keptOutSince);
    }
    keptOutSince = undefined;
  } else {
    refused++;
    keptOutSince ??= now;
  }
  await new Promise((resolve) => setTimeout(resolve, flags.interval));
}
if (keptOutSince !== undefined) {
  longestKeptOut = Math.max(longestKeptOut, performance.now() - keptOutSince);
}
for (const conn of nonReaders) {
  try {
    conn.close();
  } catch {
    // Cut off by the service already.
  }
}
service.child.kill("SIGKILL");
await service.finish();
latencies.sort((a, b) => a - b);
const ms = (value: number | undefined) =>
  value === undefined ? "-" : `${value.toFixed(0)} ms`;
console.log(
  `${flags.connections} connections pipelining ${flags.requests} × GET ${flags.path} without reading, cap ${flags.cap}, ${flags.seconds} s: newcomers answered ${served} (median ${
    ms(latencies[Math.floor(latencies.length / 2)])
  }, max ${
    ms(latencies.at(-1))
  }), not answered ${refused}, longest time with none answered ${
    (longestKeptOut / 1000).toFixed(1)
  } s`,
);
