/**
 * Heap capture benchmark: in-process (`deno task start`) against a forked
 * child (`deno task start:fork`), side by side.
 *
 * - **service**: the real service under a steady load (open loop, 100 req/s),
 *   `heap.leaks()` twice in one console session; the service's pause, its
 *   RSS before, at its peak and after, the capture's own peak (the
 *   service's growth in-process, the child's in a child) and HTTP p99.
 * - **estimate**: the admission estimate against the measured peak on four
 *   heap shapes (small objects, a Map of string keys to objects as in the
 *   users service, a Set of strings, large strings), each captured twice:
 *   first estimated by the probe (in a child: from the heap's size), then
 *   from the first snapshot scaled by the heap's growth (×1.5).
 * - **allocators** (`--only allocators`): RSS before, at the peak and
 *   after an in-process capture with glibc (plain, `MALLOC_*`, with
 *   `malloc_trim`), jemalloc and mimalloc (`LD_PRELOAD`, Debian's
 *   libjemalloc2 and libmimalloc2.0).
 * - **hang** (`--hang N`): N captures under load in fork mode, and how many
 *   children hung, were retried, or failed after the retry.
 *
 * ```sh
 * deno task bench:capture                 # service + estimate, both modes
 * deno task bench:capture --only estimate # one part
 * deno task bench:capture --only estimate --shapes map,set
 * deno task bench:capture --only service --fresh # leaks() around a load, from a fresh start
 * deno task bench:capture --hang 100      # the hang rate (takes a while)
 * ```
 *
 * Results go to `bench/results/capture.md` (`--out`).
 *
 * @module
 */

import { benchFlags } from "./_flags.ts";

const ROOT = new URL("../", import.meta.url);
const MiB = 2 ** 20;
const TOKEN = `capture-bench-${crypto.randomUUID()}`;

/** The modes compared, by the task whose flags they run with. */
const MODES = [
  { mode: "in-process", task: "start" },
  { mode: "fork", task: "start:fork" },
] as const;
type Mode = typeof MODES[number]["mode"];

// ------------------------------------------------------------ heap shapes

/** A heap shape the estimate is measured on: how to grow it to `n` items. */
interface Shape {
  /** Row label. */
  label: string;
  /** Items of the first capture (the second has 1.5×). */
  size: number;
  /** Adds items `from` … `to - 1`. */
  grow(from: number, to: number): void;
}

class User {
  constructor(
    readonly id: string,
    readonly name: string,
    readonly email: string,
    readonly age: number,
  ) {}
}

const kept: unknown[] = [];
const users = new Map<string, User>();
const sessions = new Set<string>();
const KINDS = ["click", "view", "scroll", "submit"];

function hex64(i: number): string {
  const bytes = new Uint8Array(32);
  new DataView(bytes.buffer).setUint32(0, i);
  crypto.getRandomValues(bytes.subarray(4));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function largeString(i: number): string {
  const bytes = new Uint8Array(512 * 1024);
  for (let k = 0; k < bytes.length; k += 65536) {
    crypto.getRandomValues(bytes.subarray(k, k + 65536));
  }
  for (let k = 0; k < bytes.length; k++) bytes[k] = 97 + bytes[k]! % 26;
  return `${i}:${new TextDecoder().decode(bytes)}`;
}

const SHAPES: Record<string, Shape> = {
  objects: {
    label: "small objects (an array of events)",
    size: 300_000,
    grow(from, to) {
      for (let i = from; i < to; i++) {
        kept.push({ seq: i, kind: KINDS[i % 4], at: 1.7e12 + i, ok: i % 2 });
      }
    },
  },
  map: {
    label: "Map of 64-hex keys → User (the users service's cache)",
    size: 60_000,
    grow(from, to) {
      for (let i = from; i < to; i++) {
        const id = hex64(i);
        users.set(
          id,
          new User(id, `User ${i}`, `user${i}@example.com`, i % 90),
        );
      }
    },
  },
  set: {
    label: "Set of strings (session ids)",
    size: 120_000,
    grow(from, to) {
      for (let i = from; i < to; i++) sessions.add(`session:${hex64(i)}`);
    },
  },
  strings: {
    label: "large strings (48 × 512 KiB)",
    size: 48,
    grow(from, to) {
      for (let i = from; i < to; i++) kept.push(largeString(i));
    },
  },
};

/** One capture of the estimate part. */
interface EstimateRow {
  heapUsed: number;
  nodes: number;
  indexNames: number;
  source: string;
  estimate: number;
  peak: number | null;
  pauseMs: number;
}

/**
 * Child: grows a shape, captures through the toolkit's `capture()` (the
 * mode this process's permissions give), grows it ×1.5, captures again.
 */
async function estimateChild(shapeName: string): Promise<void> {
  const shape = SHAPES[shapeName]!;
  const { createToolkit } = await import("../console/toolkit/mod.ts");
  const { capture } = await import("../console/toolkit/capture.ts");
  const { captureStats, exclusive, lastShape, closeToolkitState } =
    await import("../console/toolkit/toolkit_state.ts");
  const toolkit = createToolkit({ progress: () => {} });
  const sampler = new RssSampler();
  const rows: EstimateRow[] = [];
  for (const [from, to] of [[0, shape.size], [shape.size, shape.size * 1.5]]) {
    shape.grow(from!, Math.round(to!));
    await toolkit.gc();
    const before = Deno.memoryUsage();
    await sampler.start();
    await exclusive(async () => {
      const taken = await capture("bench", () => {});
      taken.chunks.length = 0;
    });
    const sampled = await sampler.stop();
    const stats = captureStats();
    const snapshot = lastShape()!;
    rows.push({
      heapUsed: before.heapUsed,
      nodes: snapshot.nodes,
      indexNames: snapshot.indexNames,
      source: stats.lastEstimateSource ?? "?",
      estimate: stats.lastEstimate,
      // In-process: the sampled peak (getrusage keeps only the highest);
      // in a child: its anonymous memory growth (fork_capture.ts).
      peak: stats.lastMode === "fork" ? stats.lastPeak : sampled - before.rss,
      pauseMs: stats.lastPauseMs,
    });
  }
  sampler.close();
  await closeToolkitState();
  console.log(JSON.stringify({ rows, kept: kept.length + users.size }));
}

/**
 * Child: the users-cache shape, one in-process capture (whatever the
 * permissions), then RSS right after (GC'd, trimmed when FFI is granted),
 * 1 s and 10 s later.
 */
async function allocatorChild(): Promise<void> {
  const { createToolkit } = await import("../console/toolkit/mod.ts");
  const { capture, SNAPSHOT_TAKERS } = await import(
    "../console/toolkit/capture.ts"
  );
  const { captureStats, exclusive, closeToolkitState } = await import(
    "../console/toolkit/toolkit_state.ts"
  );
  const toolkit = createToolkit({ progress: () => {} });
  SHAPES.map!.grow(0, SHAPES.map!.size);
  await toolkit.gc();
  const before = Deno.memoryUsage().rss;
  const sampler = new RssSampler();
  await sampler.start();
  await exclusive(async () => {
    const taken = await capture("bench", () => {}, {
      taker: SNAPSHOT_TAKERS["in-process"],
    });
    taken.chunks.length = 0;
  });
  const peak = await sampler.stop();
  sampler.close();
  const after = Deno.memoryUsage().rss;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const after1s = Deno.memoryUsage().rss;
  await new Promise((resolve) => setTimeout(resolve, 9000));
  await toolkit.gc();
  const after10s = Deno.memoryUsage().rss;
  const trimmed = captureStats().trimmed;
  await closeToolkitState();
  console.log(
    JSON.stringify({ before, peak, after, after1s, after10s, trimmed }),
  );
}

/** Allocator settings compared after an in-process capture. */
const ALLOCATORS: Array<
  { label: string; env: Record<string, string>; ffi?: boolean }
> = [
  { label: "glibc malloc (default)", env: {} },
  {
    label:
      "glibc + `malloc_trim(0)` (`--allow-ffi` on libc, release_memory.ts)",
    env: {},
    ffi: true,
  },
  {
    label:
      "glibc `MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=131072 MALLOC_MMAP_THRESHOLD_=131072`",
    env: {
      MALLOC_ARENA_MAX: "2",
      MALLOC_TRIM_THRESHOLD_: "131072",
      MALLOC_MMAP_THRESHOLD_: "131072",
    },
  },
  {
    label: "jemalloc 5.3 (`LD_PRELOAD`, defaults)",
    env: { LD_PRELOAD: "libjemalloc.so.2" },
  },
  {
    label:
      "jemalloc 5.3, `MALLOC_CONF=background_thread:true,dirty_decay_ms:0,muzzy_decay_ms:0`",
    env: {
      LD_PRELOAD: "libjemalloc.so.2",
      MALLOC_CONF: "background_thread:true,dirty_decay_ms:0,muzzy_decay_ms:0",
    },
  },
  {
    label: "mimalloc 2.0 (`LD_PRELOAD`, defaults)",
    env: { LD_PRELOAD: "libmimalloc.so.2" },
  },
  {
    label: "mimalloc 2.0, `MIMALLOC_RESET_DELAY=0`",
    env: { LD_PRELOAD: "libmimalloc.so.2", MIMALLOC_RESET_DELAY: "0" },
  },
];

/** Where Debian keeps a shared library, or undefined when not installed. */
function libraryPath(name: string): string | undefined {
  for (const dir of [`/usr/lib/${Deno.build.arch}-linux-gnu`, "/usr/lib64"]) {
    try {
      Deno.statSync(`${dir}/${name}`);
      return `${dir}/${name}`;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

async function runAllocators(): Promise<string[]> {
  const home = await Deno.makeTempDir({ prefix: "capture-bench-" });
  const flags = await taskFlags("start", home);
  const ffi = (await taskFlags("start:fork", home)).find((f) =>
    f.startsWith("--allow-ffi=")
  )!;
  const lines = [
    "## Memory handed back after an in-process capture",
    "",
    "A Map of 60 000 users (the users service's cache), one in-process capture (`heap.*` without `start:fork`), with the `start` task's flags and each allocator setting. RSS after: the capture's garbage collected (and trimmed, with FFI).",
    "",
    "| allocator | before | peak | right after | 1 s after | 10 s after, GC'd |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  try {
    for (const allocator of ALLOCATORS) {
      const env: Record<string, string> = { ...allocator.env };
      if (env.LD_PRELOAD) {
        const path = libraryPath(env.LD_PRELOAD);
        if (path === undefined) {
          lines.push(
            `| ${allocator.label} | not installed (apt-get install ${
              env.LD_PRELOAD.startsWith("libjemalloc")
                ? "libjemalloc2"
                : "libmimalloc2.0"
            }) |`,
          );
          continue;
        }
        env.LD_PRELOAD = path;
      }
      // Deno refuses to start a process with LD_PRELOAD in its environment
      // unless --allow-run is unscoped; env(1) sets it instead.
      const assignments = Object.entries({
        ...env,
        HOME: home,
        DENO_DIR: await denoDir(),
      }).map((
        [k, v],
      ) => `${k}=${v}`);
      const { code, stdout, stderr } = await new Deno.Command("env", {
        args: [
          ...assignments,
          "deno",
          "run",
          ...flags,
          ...(allocator.ffi ? [ffi] : []),
          "bench/capture_bench.ts",
          "allocator",
        ],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (code !== 0) {
        lines.push(
          `| ${allocator.label} | failed: ${
            firstError(new TextDecoder().decode(stderr))
          } |`,
        );
        continue;
      }
      const r = JSON.parse(
        new TextDecoder().decode(stdout).trim().split("\n").at(-1)!,
      );
      lines.push(
        `| ${allocator.label} | ${mib(r.before)} | ${mib(r.peak)} | ${
          mib(r.after)
        } | ${mib(r.after1s)} | ${mib(r.after10s)} |`,
      );
      console.error(lines.at(-1));
    }
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
  return lines;
}

/** The line of a child's stderr that says what went wrong. */
function firstError(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  return (lines.find((l) => /error|failed|refusing/i.test(l)) ?? lines[0] ?? "")
    .replace(/\|/g, "\\|").slice(0, 200);
}

/**
 * Samples this process's RSS every 5 ms from a worker thread, which runs
 * while the main thread is blocked in an in-process capture.
 */
class RssSampler {
  #worker = new Worker(
    `data:application/javascript,${
      encodeURIComponent(`
        let peak = 0, timer;
        self.onmessage = ({ data }) => {
          if (data === "start") {
            peak = Deno.memoryUsage().rss;
            timer = setInterval(() => { peak = Math.max(peak, Deno.memoryUsage().rss); }, 5);
            self.postMessage(peak);
          } else { clearInterval(timer); self.postMessage(peak); }
        };`)
    }`,
    { type: "module" },
  );

  #ask(message: string): Promise<number> {
    return new Promise((resolve) => {
      this.#worker.onmessage = (event) => resolve(event.data as number);
      this.#worker.postMessage(message);
    });
  }

  start(): Promise<number> {
    return this.#ask("start");
  }

  stop(): Promise<number> {
    return this.#ask("stop");
  }

  close(): void {
    this.#worker.terminate();
  }
}

// ---------------------------------------------------------------- drivers

/** The `deno run` flags of a task, `$HOME` and `$(…)` expanded as `deno task` does. */
async function taskFlags(task: string, home: string): Promise<string[]> {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  );
  let command: string = config.tasks[task].command;
  command = command.replaceAll("$HOME", home);
  for (const match of command.matchAll(/\$\(([^)]*)\)/g)) {
    const words = match[1]!.trim().split(/\s+/);
    const { stdout } = await new Deno.Command(words[0]!, {
      args: words.slice(1),
      cwd: ROOT,
      stderr: "inherit",
    }).output();
    command = command.replace(
      match[0],
      new TextDecoder().decode(stdout).trim(),
    );
  }
  const words = command.split(/\s+/);
  return words.slice(words.indexOf("run") + 1, words.indexOf("main.ts"));
}

async function runEstimates(only: string[]): Promise<string[]> {
  const home = await Deno.makeTempDir({ prefix: "capture-bench-" });
  const lines = [
    "## The admission estimate against the measured peak",
    "",
    "Each shape in a fresh process with the mode's task permissions: a capture (estimated in-process by the probe: `Runtime.queryObjects` on Map and Set; in a child from the heap's size, the child capped at the memory available), the shape grown ×1.5, a second capture (estimated from the first snapshot, scaled by the heap's growth). Peak: the service's RSS growth sampled every 5 ms in-process, the child's anonymous memory growth (`RssAnon` of /proc/<pid>/status, sampled every 100 ms) in a child.",
    "",
    "| shape | mode | heap used | nodes | index names | estimated from | estimate | measured peak | estimate ÷ peak | pause |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  try {
    for (const [name, shape] of Object.entries(SHAPES)) {
      if (only.length > 0 && !only.includes(name)) continue;
      for (const { mode, task } of MODES) {
        const flags = await taskFlags(task, home);
        const { code, stdout, stderr } = await new Deno.Command("deno", {
          args: ["run", ...flags, "bench/capture_bench.ts", "child", name],
          cwd: ROOT,
          env: { HOME: home, NO_COLOR: "1", DENO_DIR: await denoDir() },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(stdout);
        if (code !== 0) {
          lines.push(
            `| ${shape.label} | ${mode} | failed: ${
              firstError(new TextDecoder().decode(stderr))
            } |`,
          );
          continue;
        }
        const { rows } = JSON.parse(text.trim().split("\n").at(-1)!) as {
          rows: EstimateRow[];
        };
        for (const row of rows) {
          lines.push(
            `| ${shape.label} | ${mode} | ${mib(row.heapUsed)} | ${
              count(row.nodes)
            } | ${count(row.indexNames)} | ${row.source} | ${
              mib(row.estimate)
            } | ${row.peak === null ? "n/a" : mib(row.peak)} | ${
              row.peak ? (row.estimate / row.peak).toFixed(2) : "n/a"
            } | ${Math.round(row.pauseMs)} ms |`,
          );
          console.error(lines.at(-1));
        }
      }
    }
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
  return lines;
}

/** Deno's cache directory, kept when HOME is a temporary one. */
async function denoDir(): Promise<string> {
  const fromEnv = Deno.env.get("DENO_DIR");
  if (fromEnv) return fromEnv;
  const { stdout } = await new Deno.Command("deno", {
    args: ["info", "--json"],
    stderr: "null",
  }).output();
  return JSON.parse(new TextDecoder().decode(stdout)).denoDir;
}

/** A service started with a task's flags, and its console. */
interface Service {
  process: Deno.ChildProcess;
  url: string;
  consolePort: string;
  home: string;
  eval(code: string): Promise<string>;
  stop(): Promise<void>;
}

async function startService(
  task: string,
  extra: string[] = [],
): Promise<Service> {
  const home = await Deno.makeTempDir({ prefix: "capture-bench-" });
  const flags = await taskFlags(task, home);
  const process = new Deno.Command("deno", {
    args: [
      "run",
      ...flags,
      "main.ts",
      "serve",
      "--port",
      "0",
      "--console-port",
      "0",
      ...extra,
    ],
    cwd: ROOT,
    env: {
      HOME: home,
      NO_COLOR: "1",
      CONSOLE_TOKEN: TOKEN,
      DENO_DIR: await denoDir(),
    },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = process.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  while (!/console listening on \S+:(\d+)/.test(text)) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`The service did not start:\n${text}`);
    text += value;
  }
  // Keep draining its stdout.
  (async () => {
    while (!(await lines.read()).done);
  })();
  const url = text.match(/listening on (http:\/\/\S+?)\/?\n/)![1]!;
  const consolePort = text.match(/console listening on \S+:(\d+)/)![1]!;
  return {
    process,
    url,
    consolePort,
    home,
    async eval(code) {
      const { stdout, stderr, code: exit } = await new Deno.Command("deno", {
        args: [
          "run",
          "--allow-net=127.0.0.1",
          "--allow-env",
          `--allow-read=${home}`,
          `--allow-write=${home}`,
          "main.ts",
          "console",
          "--port",
          consolePort,
          "-e",
          code,
        ],
        cwd: ROOT,
        env: { HOME: home, NO_COLOR: "1", CONSOLE_TOKEN: TOKEN },
      }).output();
      const out = new TextDecoder().decode(stdout).trim();
      if (exit !== 0) {
        throw new Error(
          `Console failed: ${new TextDecoder().decode(stderr)}\n${out}`,
        );
      }
      return out;
    },
    async stop() {
      try {
        process.kill("SIGTERM");
      } catch {
        // Gone.
      }
      await process.status;
      await Deno.remove(home, { recursive: true }).catch(() => {});
    },
  };
}

/** What `hey` reports. */
interface LoadResult {
  p99: number;
  slowest: number;
  requests: number;
}

/**
 * `hey` at a steady rate for `seconds`, or until `stop()` (SIGINT: it
 * prints its report all the same).
 */
function steadyLoad(
  url: string,
  seconds: number,
  perSecond: number,
): { done: Promise<LoadResult>; stop(): void } {
  const workers = 8;
  const child = new Deno.Command("hey", {
    args: [
      "-z",
      `${seconds}s`,
      "-c",
      String(workers),
      "-q",
      String(perSecond / workers),
      `${url}/users/random`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const done = child.output().then(({ stdout }) => {
    const text = new TextDecoder().decode(stdout);
    const p99 = Number(text.match(/99%+ in ([\d.]+) secs/)?.[1]) * 1000;
    const slowest = Number(text.match(/Slowest:\s+([\d.]+) secs/)?.[1]) *
      1000;
    const requests = [...text.matchAll(/\[(\d{3})\]\s+(\d+) responses/g)]
      .reduce((sum, m) => sum + Number(m[2]), 0);
    return { p99, slowest, requests };
  });
  return {
    done,
    stop() {
      try {
        child.kill("SIGINT");
      } catch {
        // Done already.
      }
    },
  };
}

/**
 * An open-loop load: request k is sent at start + k / rate whether or not
 * the earlier ones were answered, and its latency counts from then (a
 * closed-loop tool like `hey -q` waits, and so hides a stalled service:
 * coordinated omission).
 */
function openLoad(
  url: string,
  perSecond: number,
): { stop(): Promise<LoadResult & { failed: number }> } {
  const latencies: number[] = [];
  let failed = 0;
  let running = true;
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  const loop = (async () => {
    for (let k = 0; running; k++) {
      const due = started + (k * 1000) / perSecond;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      const request = (async () => {
        try {
          const response = await fetch(`${url}/users/random`);
          await response.arrayBuffer();
          if (response.ok) latencies.push(performance.now() - due);
          else failed++;
        } catch {
          failed++;
        }
      })();
      inFlight.add(request);
      request.finally(() => inFlight.delete(request));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await Promise.all(inFlight);
      latencies.sort((a, b) => a - b);
      return {
        p99: latencies[Math.floor(latencies.length * 0.99)] ?? NaN,
        slowest: latencies.at(-1) ?? NaN,
        requests: latencies.length,
        failed,
      };
    },
  };
}

/** The service's RSS, sampled with `ps` until stopped. */
function sampleRss(pid: number): { stop(): Promise<number[]> } {
  const samples: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const { stdout } = await new Deno.Command("ps", {
        args: ["-o", "rss=", "-p", String(pid)],
      }).output();
      const kb = Number(new TextDecoder().decode(stdout).trim());
      if (kb > 0) samples.push(kb * 1024);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

const LEAKS_TWICE = (pauseSeconds: number) =>
  `const t0 = performance.now();
const first = await heap.leaks();
const t1 = performance.now();
const s1 = mem().lastCapture;
await new Promise((resolve) => setTimeout(resolve, ${pauseSeconds * 1000}));
const t2 = performance.now();
const second = await heap.leaks();
const t3 = performance.now();
const s2 = mem().lastCapture;
await gc();
console.log(JSON.stringify({ calls: [t1 - t0, t3 - t2], pauses: [s1.pauseMs, s2.pauseMs],
  around: [[s1.rssBefore, s1.rssAfter], [s2.rssBefore, s2.rssAfter]],
  peaks: [s1.peak, s2.peak], estimates: [s1.estimate, s2.estimate],
  failures: mem().captureFailures, groups: second.length, rss: Deno.memoryUsage().rss,
  first: String(first).slice(0, 80) }))`;

interface ServiceRow {
  mode: Mode;
  rssBefore: number;
  rssPeak: number;
  rssAfter: number;
  rssLater: number;
  around: number[][];
  calls: number[];
  pauses: number[];
  peaks: Array<number | null>;
  estimates: number[];
  p99: number;
  slowest: number;
  baselineP99: number;
  requests: number;
  groups: number;
  failures: number;
}

async function runService(
  mode: Mode,
  task: string,
  seconds: number,
  rate: number,
  fresh: boolean,
): Promise<ServiceRow> {
  const service = await startService(
    task,
    fresh ? [] : ["--cache-limit", "30000"],
  );
  try {
    // Fill the cache to its limit, so the heap is steady under the load;
    // fresh: the service as started, the load's users its leak.
    if (!fresh) await steadyLoad(service.url, 20, 2000).done;
    const quiet = openLoad(service.url, rate);
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const baseline = await quiet.stop();
    await service.eval("await gc(); 0");
    const rss = sampleRss(service.process.pid);
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Until both calls are done and `seconds` have passed.
    const load = openLoad(service.url, rate);
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const result = JSON.parse(
      (await service.eval(LEAKS_TWICE(fresh ? 20 : 5))).split("\n")[0]!,
    ) as {
      calls: number[];
      pauses: number[];
      around: number[][];
      peaks: Array<number | null>;
      estimates: number[];
      failures: number;
      groups: number;
      rss: number;
    };
    const left = seconds * 1000 - (performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, Math.max(2000, left)));
    const done = await load.stop();
    const samples = await rss.stop();
    // The analysis worker frees its snapshot when closed or idle: RSS then.
    await service.eval("await gc(); 0");
    const { stdout } = await new Deno.Command("ps", {
      args: ["-o", "rss=", "-p", String(service.process.pid)],
    }).output();
    return {
      mode,
      rssBefore: samples[0]!,
      rssPeak: Math.max(...samples),
      rssAfter: result.rss,
      rssLater: Number(new TextDecoder().decode(stdout).trim()) * 1024,
      around: result.around,
      calls: result.calls,
      pauses: result.pauses,
      peaks: result.peaks,
      estimates: result.estimates,
      p99: done.p99,
      slowest: done.slowest,
      baselineP99: baseline.p99,
      requests: done.requests,
      groups: result.groups,
      failures: result.failures,
    };
  } finally {
    await service.stop();
  }
}

async function runServices(
  seconds: number,
  rate: number,
  fresh: boolean,
): Promise<string[]> {
  const rows: ServiceRow[] = [];
  for (const { mode, task } of MODES) {
    console.error(`service, ${mode}…`);
    rows.push(await runService(mode, task, seconds, rate, fresh));
  }
  const cell = (f: (r: ServiceRow) => string) => rows.map(f).join(" | ");
  return [
    fresh
      ? "## The service under load, `heap.leaks()` twice around it, from a fresh start"
      : "## The service under load, `heap.leaks()` twice",
    "",
    fresh
      ? `\`main.ts serve\` with each task's flags, as started (no cache limit: each \`/users/random\` is the leak); ${rate} req/s to \`/users/random\` for at least ${seconds} s, open loop (each request's latency counts from when it was due, so a stalled service shows), and during it \`heap.leaks()\` twice in one console session, 20 s apart (~${
        rate * 20
      } users leak in between). RSS sampled with \`ps\` every 100 ms; "after": once both calls returned and the capture's garbage was collected.`
      : `\`main.ts serve --cache-limit 30000\` with each task's flags, the cache filled first; then ${rate} req/s to \`/users/random\` for at least ${seconds} s, open loop (each request's latency counts from when it was due, so a stalled service shows), and during it \`heap.leaks()\` twice in one console session, 5 s apart. RSS sampled with \`ps\` every 100 ms; "after": once both calls returned and the capture's garbage was collected.`,
    "",
    `| | ${rows.map((r) => r.mode).join(" | ")} |`,
    `| --- | ${rows.map(() => "---").join(" | ")} |`,
    `| service pause per capture | ${
      cell((r) => r.pauses.map((p) => `${Math.round(p)} ms`).join(", "))
    } |`,
    `| service RSS around each call (before → after) | ${
      cell((r) =>
        r.around.map(([b, a]) => `${mib(b!)} → ${mib(a!)} (${pct(a!, b!)})`)
          .join(", ")
      )
    } |`,
    `| \`heap.leaks()\` wall time | ${
      cell((r) => r.calls.map((c) => `${(c / 1000).toFixed(1)} s`).join(", "))
    } |`,
    `| capture peak (service growth / child growth) | ${
      cell((r) => r.peaks.map((p) => p === null ? "n/a" : mib(p)).join(", "))
    } |`,
    `| admission estimate | ${cell((r) => r.estimates.map(mib).join(", "))} |`,
    `| service RSS before | ${cell((r) => mib(r.rssBefore))} |`,
    `| service RSS peak | ${cell((r) => mib(r.rssPeak))} |`,
    `| service RSS after | ${
      cell((r) => `${mib(r.rssAfter)} (${pct(r.rssAfter, r.rssBefore)})`)
    } |`,
    `| service RSS a moment later (\`gc()\` again, the session closed) | ${
      cell((r) => `${mib(r.rssLater)} (${pct(r.rssLater, r.rssBefore)})`)
    } |`,
    `| service RSS right before the first call → a moment later | ${
      cell((r) =>
        `${mib(r.around[0]![0]!)} → ${mib(r.rssLater)} (${
          pct(r.rssLater, r.around[0]![0]!)
        })`
      )
    } |`,
    `| HTTP p99 without captures | ${
      cell((r) => `${r.baselineP99.toFixed(1)} ms`)
    } |`,
    `| HTTP p99 during (slowest) | ${
      cell((r) => `${r.p99.toFixed(1)} ms (${r.slowest.toFixed(0)} ms)`)
    } |`,
    `| requests answered | ${cell((r) => String(r.requests))} |`,
    `| leak groups found by the second call | ${
      cell((r) => String(r.groups))
    } |`,
    `| children hung/capped/crashed | ${
      cell((r) => r.mode === "fork" ? String(r.failures) : "—")
    } |`,
  ];
}

/** The hang rate: `count` analyses in a child (fork mode) under load. */
async function runHang(count: number, rate: number): Promise<string[]> {
  const service = await startService("start:fork", ["--cache-limit", "2000"]);
  try {
    await steadyLoad(service.url, 10, 2000).done;
    const load = steadyLoad(service.url, 100_000, rate);
    const started = performance.now();
    const result = JSON.parse(
      (await service.eval(`const failed = []; let ok = 0;
for (let i = 0; i < ${count}; i++) {
  try { await heap.top(1); ok++; }
  catch (e) { failed.push(String(e.message).slice(0, 200)); }
}
console.log(JSON.stringify({ ok, failed, childFailures: mem().captureFailures }))`))
        .split("\n")[0]!,
    ) as {
      ok: number;
      failed: string[];
      childFailures: number;
    };
    const minutes = (performance.now() - started) / 60_000;
    load.stop();
    const answered = await load.done;
    return [
      "## Hang rate in fork mode",
      "",
      `${count} \`heap.top(1)\` calls in a row (each a child that writes the snapshot, analyses it and answers), the service under \`hey\` at ${rate} req/s (${answered.requests} requests, p99 ${
        answered.p99.toFixed(1)
      } ms), with the \`start:fork\` task's V8 flags, ${
        minutes.toFixed(1)
      } min.`,
      "",
      "| captures | children that hung or failed (each retried once) | captures failed after the retry |",
      "| --- | --- | --- |",
      `| ${count} | ${result.childFailures} (${
        (100 * result.childFailures / count).toFixed(1)
      }%) | ${result.failed.length} |`,
      "",
      ...result.failed.map((f) => `- ${f}`),
    ];
  } finally {
    await service.stop();
  }
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(bytes < 10 * MiB ? 1 : 0)} MiB`;
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

function pct(after: number, before: number): string {
  const change = (after - before) / before * 100;
  return `${change >= 0 ? "+" : ""}${change.toFixed(1)}%`;
}

async function main(): Promise<number> {
  if (Deno.args[0] === "child") {
    await estimateChild(Deno.args[1]!);
    return 0;
  }
  if (Deno.args[0] === "allocator") {
    await allocatorChild();
    return 0;
  }
  const flags = benchFlags(Deno.args, {
    only: "",
    shapes: "",
    hang: 0,
    seconds: 40,
    rate: 100,
    fresh: false,
    out: "bench/results/capture.md",
  });
  const load = Deno.loadavg().map((n) => n.toFixed(2)).join(" ");
  const sections: string[][] = [];
  if (flags.hang > 0) sections.push(await runHang(flags.hang, flags.rate));
  else if (flags.only === "allocators") sections.push(await runAllocators());
  else {
    if (flags.only !== "estimate") {
      sections.push(
        await runServices(flags.seconds, flags.rate, flags.fresh),
      );
    }
    if (flags.only !== "service") {
      sections.push(
        await runEstimates(flags.shapes ? flags.shapes.split(",") : []),
      );
    }
  }
  const text = [
    `Heap capture, in-process vs a forked child, deno ${Deno.version.deno}, ${
      new Date().toISOString().slice(0, 10)
    }, load average before: ${load || "n/a"} (2 shared cores)`,
    "",
    ...sections.flatMap((s) => [...s, ""]),
  ].join("\n");
  console.log(text);
  const out = flags.hang > 0
    ? flags.out.replace(/\.md$/, "_hang.md")
    : flags.only
    ? flags.out.replace(
      /\.md$/,
      `_${flags.only}${flags.fresh ? "_fresh" : ""}.md`,
    )
    : flags.out;
  await Deno.writeTextFile(out, text);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
