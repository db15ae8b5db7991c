/**
 * The leak alarm's targets, each measured on real processes:
 *
 * - detection: the case study (no `--cache-limit`) under `deno task load
 *   --rate N`; seconds from the first request to the alarm's log line, and
 *   whether its attribution names `lib/fake_database.ts` or `lib/users.ts`
 *   (target: within 2 minutes);
 * - false alarms: `--cache-limit 10000` under wrk for at least `--requests`
 *   `/users/random` requests (target: never trips);
 * - idle CPU: the same idle service with the alarm on and off, CPU time
 *   from `/proc/PID/stat` over `--idle-seconds` (target: < 1% of a core).
 *
 * HTTP req/s with the alarm on vs off is a row of `deno task bench:http`.
 *
 * Run: deno task bench:alarm [--rate 500] [--requests 1000000]
 * [--idle-seconds 60] [--out bench/results/alarm.md]
 *
 * @module
 */

import { benchFlags } from "./_flags.ts";
import { mainArgs } from "../tests/_process.ts";

const flags = benchFlags(Deno.args, {
  rate: 500,
  requests: 1_000_000,
  "idle-seconds": 60,
  out: "bench/results/alarm.md",
});
const RATE = flags.rate;
const CURED_REQUESTS = flags.requests;
const IDLE_SECONDS = flags["idle-seconds"];
const DETECTION_LIMIT_S = 180;

interface Service {
  url: string;
  pid: number;
  /** Every stderr line so far. */
  stderr: string[];
  /** Resolves with the first stderr line matching, or rejects after `ms`. */
  waitFor(pattern: RegExp, ms: number): Promise<string>;
  stop(): Promise<void>;
}

async function startService(extra: string[]): Promise<Service> {
  const child = new Deno.Command("deno", {
    args: await mainArgs(["serve", "--port", "0", "--no-console", ...extra]),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stderr: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  (async () => {
    const lines = child.stderr.pipeThrough(new TextDecoderStream());
    let buffer = "";
    for await (const chunk of lines) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) !== -1) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        stderr.push(line);
        for (const waiter of [...waiters]) {
          if (waiter.pattern.test(line)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
        }
      }
    }
  })();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let out = "";
  let url: string | undefined;
  while (url === undefined) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`Service did not start: ${stderr.join("\n")}`);
    out += value;
    url = out.match(/listening on (http:\/\/\S+)/)?.[1];
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return {
    url,
    pid: child.pid,
    stderr,
    waitFor(pattern, ms) {
      const seen = stderr.find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`No ${pattern} within ${ms} ms`)),
          ms,
        );
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      await child.status;
    },
  };
}

async function detection() {
  const service = await startService([]);
  const load = new Deno.Command("deno", {
    args: [
      "task",
      "-q",
      "load",
      "--rate",
      String(RATE),
      "--requests",
      String(RATE * DETECTION_LIMIT_S),
      "--concurrency",
      "8",
      `${service.url}users/random`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const started = performance.now();
  try {
    const trip = await service.waitFor(
      /^leak alarm: heap after full GC growing/,
      DETECTION_LIMIT_S * 1000,
    );
    const seconds = (performance.now() - started) / 1000;
    const sites = await service.waitFor(
      /^leak alarm: (top live allocation sites|no allocation sites)/,
      120_000,
    );
    return {
      seconds,
      trip,
      sites,
      named: /lib\/(fake_database|users)\.ts:\d+/.test(sites),
    };
  } finally {
    try {
      load.kill("SIGTERM");
    } catch {
      // Done already.
    }
    await load.status;
    await service.stop();
  }
}

async function wrk(url: string, seconds: number): Promise<number> {
  const { stdout, success, stderr } = await new Deno.Command("wrk", {
    args: ["-t1", "-c32", `-d${seconds}s`, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  if (!success) throw new Error(new TextDecoder().decode(stderr));
  return Number(text.match(/(\d+) requests in/)![1]);
}

async function gauges(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}metrics`)).text();
  const out: Record<string, number> = {};
  for (const match of text.matchAll(/^(leakwatch_\w+) (\S+)$/gm)) {
    out[match[1]!] = Number(match[2]);
  }
  return out;
}

async function curedRun() {
  const service = await startService(["--cache-limit", "10000"]);
  let requests = 0;
  let maxGrowth = 0;
  const started = performance.now();
  try {
    while (requests < CURED_REQUESTS) {
      requests += await wrk(`${service.url}users/random`, 10);
      const g = await gauges(service.url);
      if (Number.isFinite(g.leakwatch_heap_growth_bytes_per_second)) {
        maxGrowth = Math.max(
          maxGrowth,
          g.leakwatch_heap_growth_bytes_per_second!,
        );
      }
    }
    const end = await gauges(service.url);
    return {
      requests,
      seconds: (performance.now() - started) / 1000,
      trips: service.stderr.filter((l) =>
        l.startsWith("leak alarm: heap after full GC growing")
      ).length,
      samples: end.leakwatch_heap_after_gc_samples ?? 0,
      floor: end.leakwatch_heap_after_gc_bytes ?? NaN,
      maxGrowth,
    };
  } finally {
    await service.stop();
  }
}

/** CPU seconds (user + system) of a process, from /proc/PID/stat. */
async function cpuSeconds(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("cat", {
    args: [`/proc/${pid}/stat`],
    stdout: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  // Fields after the command name in parentheses; utime and stime are the
  // 14th and 15th fields, in clock ticks (100 per second on Linux).
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function idleCpu() {
  const on = await startService([]);
  const off = await startService(["--leak-alarm", "off"]);
  try {
    // Let both settle, and the alarm take its first samples.
    await fetch(`${on.url}healthz`).then((r) => r.body?.cancel());
    await fetch(`${off.url}healthz`).then((r) => r.body?.cancel());
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const before = [await cpuSeconds(on.pid), await cpuSeconds(off.pid)];
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
    const wall = (performance.now() - started) / 1000;
    const after = [await cpuSeconds(on.pid), await cpuSeconds(off.pid)];
    const samples = (await gauges(on.url)).leakwatch_heap_after_gc_samples ?? 0;
    return {
      wall,
      on: (after[0]! - before[0]!) / wall,
      off: (after[1]! - before[1]!) / wall,
      samples,
    };
  } finally {
    await Promise.all([on.stop(), off.stop()]);
  }
}

if (import.meta.main) {
  const pct = (share: number) => `${(share * 100).toFixed(2)}%`;
  const detected = await detection();
  console.log(`detection: ${detected.seconds.toFixed(0)} s; ${detected.sites}`);
  const idle = await idleCpu();
  console.log(`idle: on ${pct(idle.on)}, off ${pct(idle.off)}`);
  const cured = await curedRun();
  console.log(`cured: ${cured.requests} requests, ${cured.trips} trips`);
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const report = [
    `Leak alarm targets, default settings (60 s window, 8 MiB and 10% growth), deno ${Deno.version.deno}, ${
      new Date().toISOString().slice(0, 10)
    }`,
    "",
    "| target | result | goal |",
    "| --- | --- | --- |",
    `| detection: case study under \`deno task load --rate ${RATE}\` | tripped after ${
      detected.seconds.toFixed(0)
    } s; attribution ${
      detected.named ? "names" : "does NOT name"
    } lib/fake_database.ts / lib/users.ts | ≤ 120 s, names them |`,
    `| false alarms: \`--cache-limit 10000\`, ${cured.requests} \`/users/random\` (wrk, ${
      cured.seconds.toFixed(0)
    } s) | ${cured.trips} trips; ${cured.samples} full-GC samples, floor ${
      mib(cured.floor)
    } at the end, highest growth seen ${
      (cured.maxGrowth / 1024).toFixed(1)
    } KiB/s | 0 trips |`,
    `| idle CPU over ${idle.wall.toFixed(0)} s, alarm on − off | ${
      pct(idle.on - idle.off)
    } of a core (on ${pct(idle.on)}, off ${
      pct(idle.off)
    }; ${idle.samples} samples) | < 1% |`,
    "",
    "Trip line: `" + detected.trip + "`",
    "",
    "Attribution: `" + detected.sites + "`",
    "",
  ].join("\n");
  console.log(report);
  await Deno.mkdir("bench/results", { recursive: true });
  await Deno.writeTextFile(flags.out, report);
}
