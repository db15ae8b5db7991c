/**
 * A small load generator for the guided diagnosis: sends GET requests to one
 * URL from a few concurrent workers and reports the rate. It needs nothing
 * but Deno; use `wrk` for benchmarks.
 *
 * Run: deno task load [--requests 20000] [--concurrency 16] [--rate N] [URL]
 * (`--rate N` paces the requests at N per second overall)
 * (URL defaults to http://127.0.0.1:8000/users/random)
 *
 * @module
 */

import { parseArgs } from "node:util";

/** `deno task load --help`. */
export const LOAD_HELP =
  `Usage: deno task load [-n REQUESTS] [-c CONCURRENCY] [-r RATE] [URL]

Sends GET requests to URL from a few concurrent workers, reads every body,
and prints how many were answered 2xx and the rate. Exits 1 when none was.

Arguments:
  URL                    where to send them
                         [default: http://127.0.0.1:8000/users/random]

Flags:
  -n, --requests N       how many requests [default: 20000]
  -c, --concurrency N    how many at once [default: 16]
  -r, --rate N           at most N requests a second, spread evenly
                         [default: as fast as answered]
  -h, --help             show this help
`;

/** What {@linkcode sendLoad} did. */
export interface LoadReport {
  /** Requests answered 2xx. */
  ok: number;
  /** Requests answered otherwise, or failed. */
  failed: number;
  /** Wall time in milliseconds. */
  durationMs: number;
}

/**
 * Sends `requests` GET requests to `url`, `concurrency` at a time, reading
 * every body.
 *
 * @param url Where to send them.
 * @param requests How many.
 * @param concurrency How many at once.
 * @param rate Requests per second overall, or `Infinity` for as fast as
 * they are answered.
 * @returns Counts and duration.
 *
 * @example
 * ```ts ignore
 * const report = await sendLoad("http://127.0.0.1:8000/users/random", 1000, 8);
 * console.log(report.ok);
 * ```
 */
export async function sendLoad(
  url: string,
  requests: number,
  concurrency = 16,
  rate = Infinity,
): Promise<LoadReport> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < requests) {
      const slot = next++;
      // Request k starts no earlier than k / rate seconds in: a steady rate
      // that does not speed up to catch up after a slow answer's gap.
      const due = started + (slot * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      try {
        const response = await fetch(url);
        await response.arrayBuffer();
        if (response.ok) ok++;
        else failed++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(
    Array.from(
      { length: Math.max(1, Math.min(concurrency, requests)) },
      worker,
    ),
  );
  return { ok, failed, durationMs: performance.now() - started };
}

function positiveInteger(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) {
    console.error(`error: --${name} must be a positive integer, not "${text}"`);
    Deno.exit(2);
  }
  return value;
}

if (import.meta.main) {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      allowPositionals: true,
      options: {
        requests: { type: "string", short: "n", default: "20000" },
        concurrency: { type: "string", short: "c", default: "16" },
        help: { type: "boolean", short: "h" },
        rate: { type: "string", short: "r" },
      },
    });
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    Deno.exit(2);
  }
  if (parsed.values.help) {
    console.log(LOAD_HELP);
    Deno.exit(0);
  }
  const requests = positiveInteger("requests", parsed.values.requests!);
  const concurrency = positiveInteger(
    "concurrency",
    parsed.values.concurrency!,
  );
  const rate = parsed.values.rate === undefined
    ? Infinity
    : positiveInteger("rate", parsed.values.rate);
  const url = parsed.positionals[0] ?? "http://127.0.0.1:8000/users/random";
  const report = await sendLoad(url, requests, concurrency, rate);
  const seconds = report.durationMs / 1000;
  console.log(
    `${report.ok} ok, ${report.failed} failed in ${seconds.toFixed(1)} s (${
      Math.round((report.ok + report.failed) / seconds)
    } req/s): ${url}`,
  );
  if (report.ok === 0) Deno.exit(1);
}
