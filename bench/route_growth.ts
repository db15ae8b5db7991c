/**
 * Does the service grow per request on any route? Starts `main.ts serve
 * --cache-limit 100` (the cure: a bounded cache), sends rounds of requests
 * to every route and kind of answer (a user, a cached user, `HEAD`,
 * `/healthz`, `/metrics`, 404, 405, a bad percent-encoding, a too-long id,
 * garbage, `connection: close`), and prints resident memory and, through
 * the console, the heap after a full GC after each round, and `heap.top()`
 * after the first and the last.
 *
 * Run: deno run --allow-run=deno --allow-net=127.0.0.1 --allow-read
 * --allow-write --allow-env bench/route_growth.ts [--rounds 4]
 * [--requests 1000] (requests per route per round)
 *
 * @module
 */

import { benchFlags } from "./_flags.ts";
import { mainArgs, startServe } from "../tests/_process.ts";

const flags = benchFlags(Deno.args, { rounds: 4, requests: 1000 });

// A HOME of its own: the console's token file and socket stay out of yours.
const home = await Deno.makeTempDir({ prefix: "route-growth-" });
const env = { HOME: home, NO_COLOR: "1" };
const service = await startServe(
  ["--console-port", "0", "--cache-limit", "100"],
  { home },
);
const url = service.url;
const port = Number(new URL(url).port);
const consolePort = (await service.stdout.waitFor(/^console listening on /))
  .match(/:(\d+)$/)![1]!;

const encoder = new TextEncoder();

/** Sends raw bytes and reads until the service closes the connection. */
async function raw(request: string): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encoder.encode(request));
    const buffer = new Uint8Array(65536);
    while ((await conn.read(buffer)) !== null);
  } catch {
    // Reset by the service: an answer too.
  } finally {
    conn.close();
  }
}

const text_ = (response: Response) => response.text();

/** One request of every kind. */
function everyRoute(i: number): Promise<unknown>[] {
  return [
    fetch(`${url}users/${crypto.randomUUID()}`).then(text_),
    fetch(`${url}users/user-${i % 50}`).then(text_),
    fetch(`${url}users/${crypto.randomUUID()}`, { method: "HEAD" }).then(
      text_,
    ),
    fetch(`${url}healthz`).then(text_),
    fetch(`${url}metrics`).then(text_),
    fetch(`${url}nowhere/${i}`).then(text_),
    fetch(`${url}users/x`, { method: "POST", body: "x" }).then(text_),
    fetch(`${url}users/%E0%A4%A`).then(text_),
    fetch(`${url}users/${"a".repeat(300)}`).then(text_),
    raw("GARBAGE\r\n\r\n"),
    raw(`GET /users/${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
  ];
}

async function residentMiB(): Promise<string> {
  const metrics = await (await fetch(`${url}metrics`)).text();
  const bytes = Number(
    metrics.match(/^process_resident_memory_bytes (\S+)$/m)![1],
  );
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

async function consoleEval(code: string): Promise<string> {
  const { stdout, stderr } = await new Deno.Command("deno", {
    args: await mainArgs(["console", "--port", consolePort, "-e", code], {
      task: "console",
      home,
    }),
    env,
  }).output();
  return new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
}

try {
  for (let round = 1; round <= flags.rounds; round++) {
    for (let i = 0; i < flags.requests; i++) await Promise.all(everyRoute(i));
    console.log(
      `after round ${round} (${
        round * flags.requests * 11
      } requests): resident ${await residentMiB()}; gc(): ${
        (await consoleEval("gc()")).trim()
      }`,
    );
    // A snapshot leaves ~200 MB resident behind (glibc keeps the capture's
    // memory): the rounds after the first show it.
    if (round === 1 || round === flags.rounds) {
      console.log(await consoleEval("heap.top(12)"));
    }
  }
} finally {
  service.child.kill("SIGTERM");
  await service.finish();
  await Deno.remove(home, { recursive: true });
}
