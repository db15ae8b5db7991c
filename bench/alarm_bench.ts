/**
 * The leak alarm's targets, each measured on real processes with the
 * default alarm settings (60 s window, 8 MiB and 10% growth, 32 handles):
 *
 * - detection: seconds from the start of a leak to the alarm's first trip
 *   line, which floor tripped, and whether the attribution that follows
 *   names the leaking file, for
 *   - `heap`: the case study (no `--cache-limit`) under `--rate` requests/s;
 *   - `slow`: the same at `--slow-rate`, under one window's threshold
 *     (the issue's "floor climbed 41 → 62 MiB in 200 s" case);
 *   - `arraybuffer`, `native`, `fd`: a `--cache-limit` service with a leak
 *     module of `tests/fixtures/leaks/` hooked into `users.lookup` from a
 *     console session, one unit per request;
 *   - `metrics`: the `/metrics` bug reintroduced (a prom-client registry
 *     per scrape, `metrics_registry_leak.ts`), one scrape every 15 s, and
 *     the service's own `/metrics` scraped as often (fixed: it must not
 *     add to the leak);
 * - false alarms (`cured`): `--cache-limit 10000` under one long `wrk` run
 *   of at least `--requests` `/users/random` (one run: every `wrk` stop
 *   aborts its in-flight requests, and each aborted request leaves an
 *   `http` resource open, a leak the alarm reports when it repeats);
 *   `/metrics` is read once, at the end, for the same reason;
 * - a long run without a leak (`soak`): `--cache-limit 10000` for
 *   `--soak-minutes`, the load changing every minute (100, 1 000, 20, as
 *   fast as answered, none, 500 requests/s) and a heap capture
 *   (`heap.top()`) every 5 minutes: allocator caching, load steps and
 *   capture aftermath, none of which may trip;
 * - idle CPU (`idle`): the same idle service with the alarm on and off,
 *   CPU time from `/proc/PID/stat` over `--idle-seconds`.
 *
 * `--root DIR` runs another checkout's `main.ts` (the fixtures come from
 * this one): the before/after figures. `--only heap,fd` runs some.
 *
 * Run: deno task bench:alarm [--only LIST] [--root DIR] [--rate 500]
 * [--slow-rate 100] [--requests 1000000] [--idle-seconds 60]
 * [--soak-minutes 20] [--limit 300] [--out bench/results/alarm.md]
 *
 * @module
 */

import { benchFlags } from "./_flags.ts";
import { startLeakService } from "../tests/console/toolkit/_leak_service.ts";

const flags = benchFlags(Deno.args, {
  only: "heap,slow,arraybuffer,native,fd,metrics,cured,soak,idle",
  root: "",
  rate: 500,
  "slow-rate": 100,
  requests: 1_000_000,
  "idle-seconds": 60,
  "soak-minutes": 20,
  limit: 300,
  out: "bench/results/alarm.md",
});
const ROOT = flags.root === ""
  ? undefined
  : new URL(`file://${await Deno.realPath(flags.root)}/`);
const LIMIT_S = flags.limit;
const TRIP = /^leak alarm: (.+?) growing /;
const SITES =
  /^leak alarm: (top live allocation sites|no allocation sites|resources opened in the last)/;

/** One leak to detect. */
interface LeakCase {
  name: string;
  what: string;
  args: string[];
  rate: number;
  /** Module of tests/fixtures/leaks/ and the hook's call, if injected. */
  inject?: [string, string];
  /** Scrapes /metrics this often, in seconds. */
  scrapeSeconds?: number;
  /** What the attribution should name. */
  names: RegExp;
  /**
   * The watch that must trip (the start of its trip line): its time is the
   * detection time, even when another watch trips first.
   */
  watch: string;
}

const CASES: LeakCase[] = [
  {
    name: "heap",
    what: `JS heap: the case study under --rate ${flags.rate}`,
    args: [],
    rate: flags.rate,
    names: /lib\/(fake_database|users)\.ts:\d+/,
    watch: "JS heap",
  },
  {
    name: "slow",
    what: `slow JS heap: the case study under --rate ${flags["slow-rate"]}`,
    args: [],
    rate: flags["slow-rate"],
    names: /lib\/(fake_database|users)\.ts:\d+/,
    watch: "JS heap",
  },
  {
    name: "arraybuffer",
    what:
      "ArrayBuffers: response_snapshots.ts, a 16 KiB Uint8Array kept per request, 60 requests/s",
    args: ["--cache-limit", "10000"],
    rate: 60,
    inject: ["response_snapshots.ts", "leakModule.snapshotResponse(id)"],
    names: /response_snapshots\.ts:\d+/,
    watch: "external memory",
  },
  {
    name: "native",
    what:
      "native: export_compression.ts, a gzip stream kept per request (~230 KiB of zlib state), 10 requests/s",
    args: ["--cache-limit", "10000"],
    rate: 10,
    inject: [
      "export_compression.ts",
      "leakModule.compressExport(`user-${n}`)",
    ],
    names: /export_compression\.ts:\d+/,
    watch: "native memory",
  },
  {
    name: "fd",
    what:
      "open files: greeting_template.ts, Deno.openSync per request never closed, 1.25 requests/s",
    args: ["--cache-limit", "10000"],
    rate: 1.25,
    inject: ["greeting_template.ts", "leakModule.renderGreeting(`user-${n}`)"],
    names: /greeting_template\.ts:\d+/,
    watch: "open Deno resources",
  },
  {
    name: "metrics",
    what:
      "the /metrics bug reintroduced: metrics_registry_leak.ts's handler (a registry per scrape) called every 300th request, ~every 15 s at 20 requests/s; the service's own /metrics scraped every 15 s too",
    args: ["--cache-limit", "10000"],
    rate: 20,
    inject: [
      "metrics_registry_leak.ts",
      "if (n % 300 === 0) leakModule.scrape().catch(() => {})",
    ],
    scrapeSeconds: 15,
    names: /metrics_registry_leak\.ts:\d+/,
    watch: "native memory",
  },
];

interface Detection {
  /** Requests that failed under the leak. */
  failed: number;
  /** Another watch that tripped first, if one did. */
  first: string | undefined;
  seconds: number | null;
  watch: string;
  trip: string;
  sites: string;
  named: boolean;
}

async function detect(leak: LeakCase): Promise<Detection> {
  const service = await startLeakService(leak.args, { root: ROOT });
  try {
    if (leak.inject) await service.inject(...leak.inject);
    const started = performance.now();
    const stopLoad = service.loadUntilStopped(leak.rate);
    let scraping = true;
    const scraper = leak.scrapeSeconds === undefined ? Promise.resolve() : (
      async () => {
        while (scraping) {
          await (await fetch(`${service.url}metrics`)).text();
          await sleep(leak.scrapeSeconds! * 1000, () => !scraping);
        }
      }
    )();
    let found: Omit<Detection, "failed">;
    try {
      // The old alarm's JS heap line read "leak alarm: heap after full GC".
      const expected = leak.watch === "JS heap"
        ? /^leak alarm: (JS )?heap after full GC growing /
        : new RegExp(`^leak alarm: ${leak.watch}.* growing `);
      const trip = await service.waitFor(expected, LIMIT_S * 1000);
      const seconds = (performance.now() - started) / 1000;
      const sites = await service.waitFor(SITES, 120_000).catch(() => "");
      const first = service.stderr.find((l) => TRIP.test(l))!;
      found = {
        seconds,
        watch: trip.match(TRIP)![1]!,
        first: first === trip ? undefined : first.match(TRIP)![1]!,
        trip,
        sites,
        named: leak.names.test(sites),
      };
    } catch {
      const first = service.stderr.find((l) => TRIP.test(l));
      found = {
        seconds: null,
        watch: "",
        first: first?.match(TRIP)?.[1],
        trip: first ?? "",
        sites: "",
        named: false,
      };
    }
    scraping = false;
    const { failed } = await stopLoad();
    await scraper;
    return { ...found, failed };
  } finally {
    await service.stop();
  }
}

/** Waits `ms`, or less once `done()` says so (checked every second). */
async function sleep(ms: number, done: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end && !done()) {
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(1000, end - Date.now()))
    );
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
  const service = await startLeakService(["--cache-limit", "10000"], {
    root: ROOT,
  });
  const started = performance.now();
  try {
    // A short probe for the rate, then one run long enough for the rest.
    let requests = await wrk(`${service.url}users/random`, 5);
    const rate = requests / 5;
    const rest = Math.max(0, flags.requests - requests);
    if (rest > 0) {
      requests += await wrk(
        `${service.url}users/random`,
        Math.ceil((rest / rate) * 1.15),
      );
    }
    // Two more windows without load: a trip needs a quarter window more.
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    const end = await gauges(service.url);
    const trips = service.stderr.filter((l) => TRIP.test(l));
    return {
      requests,
      seconds: (performance.now() - started) / 1000,
      trips,
      samples: end.leakwatch_heap_after_gc_samples ?? 0,
      floor: end.leakwatch_heap_after_gc_bytes ?? NaN,
      native: end.leakwatch_native_after_gc_bytes ?? NaN,
      resources: end.leakwatch_open_resources ?? NaN,
      forced: end.leakwatch_forced_gcs ?? NaN,
    };
  } finally {
    await service.stop();
  }
}

/** Requests per second, minute after minute (`Infinity`: as fast as answered). */
const SOAK_RATES = [100, 1000, 20, Infinity, 0, 500];

async function soakRun() {
  const service = await startLeakService(["--cache-limit", "10000"], {
    root: ROOT,
  });
  const started = performance.now();
  let requests = 0;
  let failed = 0;
  let captures = 0;
  try {
    for (let minute = 0; minute < flags["soak-minutes"]; minute++) {
      const rate = SOAK_RATES[minute % SOAK_RATES.length]!;
      if (minute % 5 === 2) {
        await service.run("await heap.top(3)");
        captures++;
      }
      const end = started + (minute + 1) * 60_000;
      if (rate === 0) {
        await new Promise((resolve) =>
          setTimeout(resolve, Math.max(0, end - performance.now()))
        );
        continue;
      }
      const stop = service.loadUntilStopped(rate);
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, end - performance.now()))
      );
      const done = await stop();
      requests += done.ok;
      failed += done.failed;
    }
    const end = await gauges(service.url);
    return {
      minutes: (performance.now() - started) / 60_000,
      requests,
      failed,
      captures,
      trips: service.stderr.filter((l) => TRIP.test(l)),
      samples: end.leakwatch_heap_after_gc_samples ?? 0,
      ignored: end.leakwatch_ignored_samples ?? NaN,
      native: end.leakwatch_native_after_gc_bytes ?? NaN,
      rss: end.leakwatch_rss_after_gc_bytes ?? NaN,
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
  const on = await startLeakService([], { root: ROOT });
  const off = await startLeakService(["--leak-alarm", "off"], { root: ROOT });
  try {
    await fetch(`${on.url}healthz`).then((r) => r.body?.cancel());
    await fetch(`${off.url}healthz`).then((r) => r.body?.cancel());
    // Let both settle, and the alarm take its first samples.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const before = [await cpuSeconds(on.pid), await cpuSeconds(off.pid)];
    const started = performance.now();
    await new Promise((resolve) =>
      setTimeout(resolve, flags["idle-seconds"] * 1000)
    );
    const wall = (performance.now() - started) / 1000;
    const after = [await cpuSeconds(on.pid), await cpuSeconds(off.pid)];
    const end = await gauges(on.url);
    return {
      wall,
      on: (after[0]! - before[0]!) / wall,
      off: (after[1]! - before[1]!) / wall,
      samples: end.leakwatch_heap_after_gc_samples ?? 0,
      forced: end.leakwatch_forced_gcs ?? NaN,
    };
  } finally {
    await Promise.all([on.stop(), off.stop()]);
  }
}

function detectionRow(leak: LeakCase, d: Detection): string {
  const result = d.seconds === null
    ? `not detected within ${LIMIT_S} s`
    : `${d.watch} tripped after ${d.seconds.toFixed(0)} s; attribution ${
      d.named ? "names" : "does NOT name"
    } ${leak.names.source.replace(/\\/g, "").replace(/:d\+$/, "")}`;
  const failed = d.failed > 0 ? ` (${d.failed} requests failed)` : "";
  const first = d.first === undefined ? "" : ` (${d.first} tripped first)`;
  return `| detection, ${leak.what} | ${result}${first}${failed} |`;
}

if (import.meta.main) {
  const only = new Set(flags.only.split(","));
  const pct = (share: number) => `${(share * 100).toFixed(2)}%`;
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const rows: string[] = [];
  const lines: string[] = [];
  for (const leak of CASES) {
    if (!only.has(leak.name)) continue;
    const d = await detect(leak);
    console.log(
      `${leak.name}: ${d.seconds?.toFixed(0) ?? "not detected"} s; ${d.trip}`,
    );
    rows.push(detectionRow(leak, d));
    if (d.trip) lines.push(`${leak.name} trip: \`${d.trip}\``);
    if (d.sites) lines.push(`${leak.name} sites: \`${d.sites}\``);
  }
  if (only.has("idle")) {
    const idle = await idleCpu();
    console.log(`idle: on ${pct(idle.on)}, off ${pct(idle.off)}`);
    rows.push(
      `| idle CPU over ${idle.wall.toFixed(0)} s, alarm on − off | ${
        pct(idle.on - idle.off)
      } of a core (on ${pct(idle.on)}, off ${
        pct(idle.off)
      }; ${idle.samples} samples, ${idle.forced} GCs run by the alarm) |`,
    );
  }
  if (only.has("cured")) {
    const cured = await curedRun();
    console.log(
      `cured: ${cured.requests} requests, ${cured.trips.length} trips`,
    );
    rows.push(
      `| false alarms: \`--cache-limit 10000\`, ${cured.requests} \`/users/random\` (one wrk run, ${
        cured.seconds.toFixed(0)
      } s in all) | ${cured.trips.length} trips; ${cured.samples} full-GC samples (${cured.forced} run by the alarm), JS heap floor ${
        mib(cured.floor)
      }, native ${
        mib(cured.native)
      }, ${cured.resources} resources at the end |`,
    );
    for (const trip of cured.trips) lines.push(`cured trip: \`${trip}\``);
  }
  if (only.has("soak")) {
    const soak = await soakRun();
    console.log(`soak: ${soak.requests} requests, ${soak.trips.length} trips`);
    rows.push(
      `| false alarms over ${
        soak.minutes.toFixed(0)
      } min: \`--cache-limit 10000\`, load changing every minute (100, 1 000, 20, unpaced, 0, 500 req/s), ${soak.captures} heap captures | ${soak.trips.length} trips; ${soak.requests} requests (${soak.failed} failed), ${soak.samples} full-GC samples, ${soak.ignored} ignored around captures; RSS ${
        mib(soak.rss)
      }, native ${mib(soak.native)} at the end |`,
    );
    for (const trip of soak.trips) lines.push(`soak trip: \`${trip}\``);
  }
  const report = [
    `Leak alarm, default settings (60 s window, 8 MiB and 10% growth, 32 handles), ${
      ROOT === undefined ? "this checkout" : `checkout ${flags.root}`
    }, deno ${Deno.version.deno}, ${new Date().toISOString().slice(0, 10)}`,
    "",
    "| target | result |",
    "| --- | --- |",
    ...rows,
    "",
    ...lines.flatMap((line) => [line, ""]),
  ].join("\n");
  console.log(report);
  await Deno.mkdir("bench/results", { recursive: true });
  await Deno.writeTextFile(flags.out, report);
}
