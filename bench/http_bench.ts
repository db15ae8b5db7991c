/**
 * The users service's HTTP benchmark, every figure beside its baseline taken
 * in the same run (machines here are shared and noisy: ratios, not absolute
 * numbers, are what to compare):
 *
 * - raw `Deno.serve` with a fixed JSON body of a user's size: the ceiling;
 * - a hand-routed `Deno.serve` doing a cache hit's work and no more (read
 *   the URL, one `Map` lookup, `JSON.stringify`);
 * - cache hits on `/users/<fixed id>`;
 * - `/users/random` with `--cache-limit 100000`;
 * - start-up to the first 200 and idle RSS, beside an empty `Deno.serve`:
 *   the floor (Hono + faker on `Deno.serve`, nothing of ours,
 *   `floor_server.ts`), the users service as started, with `--no-console`
 *   and with `--leak-alarm off`;
 * - RSS over 1M `/users/random` requests with `--cache-limit 10000`;
 * - cache hits with `--leak-alarm off` beside the default (alarm on).
 *
 * Load comes from `wrk` (Debian: `apt-get install wrk`). Throughput runs are
 * interleaved over several rounds and the median kept; start-up and idle
 * RSS take the median of `--startup-runs` spawns of each server, interleaved
 * (one spawn varies by ±20%).
 *
 * Run: deno task bench:http [--seconds 5] [--rounds 3] [--startup-runs 20]
 * [--requests 1000000] [--startup-only] (only the start-up table, printed)
 *
 * @module
 */

import { benchFlags } from "./_flags.ts";
import { mainArgs } from "../tests/_process.ts";

const flags = benchFlags(Deno.args, {
  seconds: 5,
  rounds: 3,
  "startup-runs": 20,
  connections: 64,
  requests: 1_000_000,
  out: "bench/results/http.md",
  "startup-only": false,
});
const SECONDS = flags.seconds;
const ROUNDS = flags.rounds;
const STARTUP_RUNS = flags["startup-runs"];
/** What start-up waits for on the users service: a cache miss. */
const STARTUP_PROBE = "users/first";
const CONNECTIONS = flags.connections;
const FLAT_REQUESTS = flags.requests;

/** A server under test. */
interface Server {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** wrk's figures for one run. */
interface Load {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

function spawnServer(args: string[], port: number) {
  const child = new Deno.Command("deno", {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "null",
    env: { HOME: Deno.env.get("HOME") ?? "/root" },
  }).spawn();
  const url = `http://127.0.0.1:${port}/`;
  return {
    child,
    url,
    pid: child.pid,
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

/** A baseline server of bench/ (loopback only) on `port`. */
function baselineArgs(script: string, port: number, extra: string[] = []) {
  return [
    "run",
    "--allow-net=127.0.0.1",
    `bench/${script}`,
    "--port",
    String(port),
    ...extra,
  ];
}

function rawArgs(
  mode: "fixed" | "routed" | "empty",
  port: number,
): string[] {
  return baselineArgs(
    "raw_server.ts",
    port,
    mode === "fixed" ? [] : [`--${mode}`],
  );
}

function serviceArgs(extra: string[], port: number): Promise<string[]> {
  return mainArgs([
    "serve",
    "--port",
    String(port),
    "--console-port",
    "0",
    ...extra,
  ]);
}

/** Polls `path` until it answers 200; returns the milliseconds since `since`. */
async function firstOk(url: string, since: number): Promise<number> {
  const deadline = since + 30_000;
  while (performance.now() < deadline) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      if (response.status === 200) return performance.now() - since;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error(`${url} never answered 200`);
}

async function start(args: string[], port: number, probe = ""): Promise<
  Server & { startupMs: number }
> {
  const started = performance.now();
  const server = spawnServer(args, port);
  const startupMs = await firstOk(server.url + probe, started);
  return { ...server, startupMs };
}

/** Resident memory of a process, from `ps` (reading /proc needs --allow-all in Deno). */
async function rssBytes(pid: number): Promise<number> {
  const { stdout, success } = await new Deno.Command("ps", {
    args: ["-o", "rss=", "-p", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).output();
  const kb = Number(new TextDecoder().decode(stdout).trim());
  if (!success || !Number.isFinite(kb)) {
    throw new Error(`No RSS for pid ${pid}`);
  }
  return kb * 1024;
}

function parseDuration(text: string): number {
  const match = text.match(/^([\d.]+)(us|ms|s|m)$/);
  if (!match) throw new Error(`Cannot read wrk duration "${text}"`);
  const scale = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2]!]!;
  return Number(match[1]) * scale;
}

async function wrk(url: string, seconds: number): Promise<Load> {
  const { stdout, success, stderr } = await new Deno.Command("wrk", {
    args: [
      "-t1",
      `-c${CONNECTIONS}`,
      `-d${seconds}s`,
      "--latency",
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  if (!success) throw new Error(new TextDecoder().decode(stderr));
  const non2xx = text.match(/Non-2xx or 3xx responses: (\d+)/);
  if (non2xx) throw new Error(`${url}: ${non2xx[1]} failed responses`);
  return {
    rps: Number(text.match(/Requests\/sec:\s+([\d.]+)/)![1]),
    p50: parseDuration(text.match(/^\s+50%\s+(\S+)/m)![1]!),
    p99: parseDuration(text.match(/^\s+99%\s+(\S+)/m)![1]!),
    requests: Number(text.match(/(\d+) requests in/)![1]),
  };
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? sorted[middle]!
    : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function medianLoad(loads: Load[]): Load {
  return {
    rps: median(loads.map((load) => load.rps)),
    p50: median(loads.map((load) => load.p50)),
    p99: median(loads.map((load) => load.p99)),
    requests: loads.reduce((sum, load) => sum + load.requests, 0),
  };
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const ms = (value: number) => `${value.toFixed(2)} ms`;
const ratio = (value: number, base: number) => `${(value / base).toFixed(2)}×`;

async function throughput() {
  const rawPort = freePort();
  const routedPort = freePort();
  const hitPort = freePort();
  const randomPort = freePort();
  const alarmOffPort = freePort();
  const raw = await start(rawArgs("fixed", rawPort), rawPort);
  const routed = await start(
    rawArgs("routed", routedPort),
    routedPort,
    "users/bench-user",
  );
  const hits = await start(
    await serviceArgs([], hitPort),
    hitPort,
    "users/bench-user",
  );
  const random = await start(
    await serviceArgs(["--cache-limit", "100000"], randomPort),
    randomPort,
    "healthz",
  );
  const alarmOff = await start(
    await serviceArgs(["--leak-alarm", "off"], alarmOffPort),
    alarmOffPort,
    "users/bench-user",
  );
  const results = {
    alarmOff: [] as Load[],
    raw: [] as Load[],
    routed: [] as Load[],
    hits: [] as Load[],
    random: [] as Load[],
    limitHits: [] as Load[],
  };
  try {
    // Warm-up: JIT and, for random, a cache past its limit.
    await wrk(raw.url, 2);
    await wrk(routed.url + "users/bench-user", 2);
    await wrk(hits.url + "users/bench-user", 2);
    await wrk(random.url + "users/random", Math.max(2, SECONDS));
    await wrk(alarmOff.url + "users/bench-user", 2);
    for (let round = 0; round < ROUNDS; round++) {
      results.alarmOff.push(
        await wrk(alarmOff.url + "users/bench-user", SECONDS),
      );
      results.raw.push(await wrk(raw.url, SECONDS));
      results.routed.push(await wrk(routed.url + "users/bench-user", SECONDS));
      results.hits.push(await wrk(hits.url + "users/bench-user", SECONDS));
      results.random.push(await wrk(random.url + "users/random", SECONDS));
      // Hits on one id in a full LRU cache (the order list moves, the map
      // stays put).
      results.limitHits.push(
        await wrk(random.url + "users/bench-user", SECONDS),
      );
    }
  } finally {
    await Promise.all([
      raw.stop(),
      routed.stop(),
      hits.stop(),
      random.stop(),
      alarmOff.stop(),
    ]);
  }
  return {
    alarmOff: medianLoad(results.alarmOff),
    raw: medianLoad(results.raw),
    routed: medianLoad(results.routed),
    hits: medianLoad(results.hits),
    random: medianLoad(results.random),
    limitHits: medianLoad(results.limitHits),
  };
}

/** The start-up cases, each spawned once per round, interleaved. */
const STARTUP_CASES = {
  empty: (port: number) => Promise.resolve(rawArgs("empty", port)),
  floor: (port: number) =>
    Promise.resolve(baselineArgs("floor_server.ts", port)),
  ours: (port: number) => serviceArgs([], port),
  noConsole: (port: number) => serviceArgs(["--no-console"], port),
  alarmOff: (port: number) => serviceArgs(["--leak-alarm", "off"], port),
} as const;

type StartupCase = keyof typeof STARTUP_CASES;

async function startupAndIdle() {
  const kinds = Object.keys(STARTUP_CASES) as StartupCase[];
  const runs = Object.fromEntries(
    kinds.map((kind) => [kind, [] as { startupMs: number; rss: number }[]]),
  ) as Record<StartupCase, { startupMs: number; rss: number }[]>;
  for (let i = 0; i < STARTUP_RUNS; i++) {
    for (const which of kinds) {
      const port = freePort();
      const server = await start(
        await STARTUP_CASES[which](port),
        port,
        which === "empty" ? "" : STARTUP_PROBE,
      );
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const rss = await rssBytes(server.pid);
      await server.stop();
      runs[which].push({ startupMs: server.startupMs, rss });
    }
  }
  return Object.fromEntries(
    kinds.map((kind) => [kind, {
      startupMs: median(runs[kind].map((run) => run.startupMs)),
      rss: median(runs[kind].map((run) => run.rss)),
    }]),
  ) as Record<StartupCase, { startupMs: number; rss: number }>;
}

/** The start-up table: every case beside the empty `Deno.serve`. */
function startupRows(
  boot: Record<StartupCase, { startupMs: number; rss: number }>,
): string[] {
  const cases: [StartupCase, string][] = [
    ["empty", "empty `Deno.serve` (baseline)"],
    ["floor", "floor: Hono + faker on `Deno.serve`, nothing else"],
    ["ours", "users service (console and leak alarm on)"],
    ["noConsole", "users service, `--no-console`"],
    ["alarmOff", "users service, `--leak-alarm off`"],
  ];
  return [
    `| start-up and idle | first 200 (\`/${STARTUP_PROBE}\`, a cache miss) | ratio | idle RSS (1 s after) | ratio |`,
    "| --- | ---: | ---: | ---: | ---: |",
    ...cases.map(([kind, label]) =>
      `| ${label} | ${ms(boot[kind].startupMs)} | ${
        ratio(boot[kind].startupMs, boot.empty.startupMs)
      } | ${mib(boot[kind].rss)} | ${ratio(boot[kind].rss, boot.empty.rss)} |`
    ),
    "| target for the users service | | ≤ 2× | | ≤ 1.3× |",
  ];
}

async function flatRss() {
  const port = freePort();
  const server = await start(
    await serviceArgs(["--cache-limit", "10000"], port),
    port,
    "healthz",
  );
  const samples: { requests: number; rss: number }[] = [];
  let requests = 0;
  let warm: number | undefined;
  try {
    while (requests < FLAT_REQUESTS) {
      requests += (await wrk(server.url + "users/random", 5)).requests;
      const rss = await rssBytes(server.pid);
      samples.push({ requests, rss });
      // Warm once the cache is full ten times over and the heap settled.
      if (warm === undefined && requests >= 100_000) warm = rss;
    }
  } finally {
    await server.stop();
  }
  const end = samples.at(-1)!.rss;
  const peak = Math.max(
    ...samples.filter((s) => s.requests >= 100_000).map((s) => s.rss),
  );
  return { requests, warm: warm ?? end, end, peak, samples };
}

if (import.meta.main && flags["startup-only"]) {
  console.log(
    [
      `start-up and idle RSS: median of ${STARTUP_RUNS} interleaved spawns, deno ${Deno.version.deno}`,
      "",
      ...startupRows(await startupAndIdle()),
    ].join("\n"),
  );
} else if (import.meta.main) {
  const load = await throughput();
  const boot = await startupAndIdle();
  const flat = await flatRss();

  const growth = (flat.end - flat.warm) / flat.warm;
  const rows = [
    "| case | req/s | p50 | p99 | ratio to baseline | target |",
    "| --- | ---: | ---: | ---: | ---: | --- |",
    `| raw \`Deno.serve\`, fixed JSON (baseline) | ${
      load.raw.rps.toFixed(0)
    } | ${ms(load.raw.p50)} | ${ms(load.raw.p99)} | 1.00× | |`,
    `| hand-routed \`Deno.serve\`: URL, one \`Map\` lookup, \`JSON.stringify\` | ${
      load.routed.rps.toFixed(0)
    } | ${ms(load.routed.p50)} | ${ms(load.routed.p99)} | ${
      ratio(load.routed.rps, load.raw.rps)
    } | |`,
    `| cache hit \`/users/<fixed id>\` | ${load.hits.rps.toFixed(0)} | ${
      ms(load.hits.p50)
    } | ${ms(load.hits.p99)} | ${
      ratio(load.hits.rps, load.raw.rps)
    } | ≥ 0.90× |`,
    `| \`/users/random\`, \`--cache-limit 100000\` | ${
      load.random.rps.toFixed(0)
    } | ${ms(load.random.p50)} | ${ms(load.random.p99)} | ${
      ratio(load.random.rps, load.raw.rps)
    } | ≥ 0.25× |`,
    `| cache hit, full cache with \`--cache-limit 100000\` | ${
      load.limitHits.rps.toFixed(0)
    } | ${ms(load.limitHits.p50)} | ${ms(load.limitHits.p99)} | ${
      ratio(load.limitHits.rps, load.raw.rps)
    } | |`,
    `| cache hit, \`--leak-alarm off\` (ratio: alarm on / off) | ${
      load.alarmOff.rps.toFixed(0)
    } | ${ms(load.alarmOff.p50)} | ${ms(load.alarmOff.p99)} | ${
      ratio(load.hits.rps, load.alarmOff.rps)
    } | ≥ 0.99× |`,
    "",
    ...startupRows(boot),
    "",
    `| RSS over ${flat.requests} \`/users/random\`, \`--cache-limit 10000\` | after 100k (warm) | peak after warm | end | growth | target |`,
    "| --- | ---: | ---: | ---: | ---: | --- |",
    `| | ${mib(flat.warm)} | ${mib(flat.peak)} | ${mib(flat.end)} | ${
      (growth * 100).toFixed(1)
    }% | ≤ 5% |`,
  ];
  const header =
    `wrk -t1 -c${CONNECTIONS}, ${ROUNDS} interleaved rounds of ${SECONDS} s (medians), start-up and idle RSS: median of ${STARTUP_RUNS} interleaved spawns, deno ${Deno.version.deno}, ${
      new Date().toISOString().slice(0, 10)
    }`;
  const report = [header, "", ...rows, ""].join("\n");
  console.log(report);
  await Deno.mkdir("bench/results", { recursive: true });
  await Deno.writeTextFile(flags.out, report);
}
