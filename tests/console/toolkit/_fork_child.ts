/**
 * Child process of fork_capture_test.ts: a small HTTP service over a heap
 * of a few hundred thousand objects, run with FFI on libc (fork mode).
 * Prints `{"port": …}`, then takes one command per stdin line and answers
 * with one JSON line:
 *
 * - `capture fork|in-process`: a capture through `capture()`, its text
 *   analysed by the analysis worker; pause, RSS before/peak/after, counts.
 * - `hang`: a child made to block; the error's reason and message.
 * - `spin`: a child made to spin, with 1 s of CPU time; the same.
 * - `cap`: a real snapshot in a child capped at 8 MiB.
 * - `fds`: the descriptors a blocked child holds (read from /proc).
 * - `quit`.
 */

import {
  analyseInChild,
  capture,
  SNAPSHOT_TAKERS,
} from "../../../console/toolkit/capture.ts";
import {
  type ForkCaptureError,
  snapshotInChild,
} from "../../../console/toolkit/fork_capture.ts";
import { libcPath } from "../../../console/toolkit/libc.ts";
import { trimAllocator } from "../../../console/toolkit/release_memory.ts";
import {
  analysisClient,
  closeAnalysis,
  closeToolkitState,
  exclusive,
  post,
} from "../../../console/toolkit/toolkit_state.ts";

class Widget {
  constructor(
    readonly id: string,
    readonly label: string,
    readonly n: number,
  ) {}
}
const widgets = new Map<string, Widget>();
const events: Array<{ seq: number; kind: string }> = [];
for (let i = 0; i < 40_000; i++) {
  const id = `w-${i.toString(16).padStart(8, "0")}`;
  widgets.set(id, new Widget(id, `widget ${i}`, i));
}
for (let i = 0; i < 150_000; i++) events.push({ seq: i, kind: "tick" });

const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen: () => {} },
  (request) => {
    const n = Number(new URL(request.url).searchParams.get("n") ?? 0);
    const widget = widgets.get(
      `w-${(n % 40_000).toString(16).padStart(8, "0")}`,
    );
    return Response.json(widget ?? null);
  },
);
console.log(JSON.stringify({ port: server.addr.port, pid: Deno.pid }));

const dir = `${Deno.env.get("HOME")}/.leakwatch/snapshots`;
await Deno.mkdir(dir, { recursive: true, mode: 0o700 });

/** Peak RSS while the main thread may be blocked: sampled from a worker. */
function sampleRss(): { stop(): Promise<number> } {
  const worker = new Worker(
    `data:application/javascript,${
      encodeURIComponent(`let peak = Deno.memoryUsage().rss;
        const t = setInterval(() => { peak = Math.max(peak, Deno.memoryUsage().rss); }, 5);
        self.onmessage = () => { clearInterval(t); self.postMessage(peak); };
        self.postMessage("ready");`)
    }`,
    { type: "module" },
  );
  const ready = new Promise((resolve) => worker.onmessage = resolve);
  return {
    async stop() {
      await ready;
      const peak = new Promise<number>((resolve) =>
        worker.onmessage = (event) => resolve(event.data)
      );
      worker.postMessage("stop");
      const value = await peak;
      worker.terminate();
      return value;
    },
  };
}

async function captureOnce(mode: "fork" | "in-process") {
  await post("HeapProfiler.collectGarbage");
  trimAllocator();
  const before = Deno.memoryUsage().rss;
  const sampler = sampleRss();
  await new Promise((resolve) => setTimeout(resolve, 50));
  let peak = 0;
  const result = await exclusive(async () => {
    const taken = await capture("a test", () => {}, {
      taker: SNAPSHOT_TAKERS[mode],
    });
    // The capture's peak; the analysis below is the worker's, either way.
    peak = await sampler.stop();
    const summary = await analysisClient().load(taken.chunks);
    const top = await analysisClient().query<
      Array<{ name: string; count: number }>
    >({ kind: "top", n: 30 });
    return { pauseMs: taken.pauseMs, bytes: taken.bytes, summary, top };
  });
  // The worker frees its arrays when closed; its thread goes a moment later.
  closeAnalysis();
  await post("HeapProfiler.collectGarbage");
  await new Promise((resolve) => setTimeout(resolve, 1000));
  trimAllocator();
  return {
    mode,
    pauseMs: result.pauseMs,
    bytes: result.bytes,
    rssBefore: before,
    rssPeak: peak,
    rssAfter: Deno.memoryUsage().rss,
    widgets: result.top.find((t) => t.name === "Widget")?.count ?? 0,
    nodes: result.summary.nodeCount,
  };
}

/**
 * Two captures with 5 000 new widgets in between: the second snapshot's
 * objects newer than the first's highest id are exactly those. In fork
 * mode as `heap.leaks()` takes them: a numbered baseline, then a capture
 * that only forks, each analysed in its child (no ownership: this file's
 * path has a `/console/` in it, which would make its objects the
 * console's).
 */
async function newSince(mode: "fork" | "in-process") {
  type Delta = { name: string; count: number; newCount: number };
  const born: Widget[] = [];
  let deltas: Delta[];
  if (mode === "fork") {
    const first = await exclusive(() =>
      analyseInChild("a test", () => {}, {}, true)
    );
    first.child.close();
    for (let i = 0; i < 5_000; i++) born.push(new Widget(`n-${i}`, "new", i));
    const second = await exclusive(() =>
      analyseInChild("a test", () => {}, {}, false)
    );
    try {
      deltas = await second.child.query<Delta[]>({
        kind: "deltas",
        since: first.summary.maxNodeId,
      });
    } finally {
      second.child.close();
    }
  } else {
    const client = () => analysisClient();
    const taker = { taker: SNAPSHOT_TAKERS[mode] };
    const first = await exclusive(async () => {
      const taken = await capture("a test", () => {}, taker);
      return (await client().load(taken.chunks)).maxNodeId;
    });
    for (let i = 0; i < 5_000; i++) born.push(new Widget(`n-${i}`, "new", i));
    deltas = await exclusive(async () => {
      const taken = await capture("a test", () => {}, taker);
      await client().load(taken.chunks);
      return await client().query<Delta[]>({ kind: "deltas", since: first });
    });
  }
  const widget = deltas.find((d) => d.name === "Widget");
  return {
    mode,
    count: widget?.count,
    newCount: widget?.newCount,
    born: born.length,
  };
}

async function failing(options: Parameters<typeof snapshotInChild>[2]) {
  const path = `${dir}/failing.heapsnapshot`;
  const log = `${dir}/failing.log`;
  const started = performance.now();
  try {
    await snapshotInChild(path, log, options);
    return { ok: true };
  } catch (error) {
    const err = error as ForkCaptureError;
    return {
      ok: false,
      reason: err.reason,
      message: err.message,
      ms: performance.now() - started,
    };
  } finally {
    for (const file of [path, log]) Deno.remove(file).catch(() => {});
  }
}

/** The descriptors of a process, through libc's readlink (FFI). */
function descriptors(pid: number): Record<string, string> {
  const lib = Deno.dlopen(libcPath()!, {
    readlink: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  });
  try {
    const out: Record<string, string> = {};
    for (let fd = 0; fd < 256; fd++) {
      const name = new TextEncoder().encode(`/proc/${pid}/fd/${fd}\0`);
      const target = new Uint8Array(512);
      const n = Number(lib.symbols.readlink(name, target, 512n));
      if (n > 0) out[fd] = new TextDecoder().decode(target.subarray(0, n));
    }
    return out;
  } finally {
    lib.close();
  }
}

/** A file of /proc, through libc's open and read (FFI): no --allow-read. */
function procText(path: string): string {
  const lib = Deno.dlopen(libcPath()!, {
    open: { parameters: ["buffer", "i32"], result: "i32" },
    read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    close: { parameters: ["i32"], result: "i32" },
  });
  try {
    const fd = lib.symbols.open(new TextEncoder().encode(`${path}\0`), 0);
    if (fd < 0) return "";
    const buffer = new Uint8Array(4096);
    const n = Number(lib.symbols.read(fd, buffer, 4096n));
    lib.symbols.close(fd);
    return new TextDecoder().decode(buffer.subarray(0, Math.max(0, n)));
  } finally {
    lib.close();
  }
}

async function blockedChildDescriptors() {
  let fds: Record<string, string> = {};
  let oomScoreAdj = "";
  const failed = failing({
    watchdogSeconds: 60,
    stallMs: 60_000,
    retry: false,
    fault: "hang",
    onSpawn(pid) {
      // Give it time to close its descriptors, then look and stop it.
      setTimeout(() => {
        fds = descriptors(pid);
        oomScoreAdj = procText(`/proc/${pid}/oom_score_adj`).trim();
        const lib = Deno.dlopen(libcPath()!, {
          kill: { parameters: ["i32", "i32"], result: "i32" },
        });
        lib.symbols.kill(pid, 9);
        lib.close();
      }, 1500);
    },
  });
  const result = await failed;
  return {
    ...result,
    fds,
    own: descriptors(Deno.pid),
    oomScoreAdj,
    ownOomScoreAdj: procText("/proc/self/oom_score_adj").trim(),
  };
}

async function* stdinLines(): AsyncGenerator<string> {
  let buffer = "";
  for await (
    const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())
  ) {
    buffer += text;
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
    }
  }
}

for await (const line of stdinLines()) {
  const [command, arg] = line.trim().split(" ");
  let answer: unknown;
  switch (command) {
    case "capture":
      answer = await captureOnce(arg === "in-process" ? "in-process" : "fork");
      break;
    case "new":
      answer = await newSince(arg === "in-process" ? "in-process" : "fork");
      break;
    case "hang":
      answer = await failing({
        watchdogSeconds: 60,
        stallMs: 1500,
        fault: "hang",
      });
      break;
    case "spin":
      answer = await failing({
        watchdogSeconds: 1,
        stallMs: 60_000,
        retry: false,
        fault: "spin",
      });
      break;
    case "cap":
      answer = await failing({ watchdogSeconds: 60, capBytes: 8 * 2 ** 20 });
      break;
    case "fds":
      answer = await blockedChildDescriptors();
      break;
    case "quit":
      await server.shutdown();
      await closeToolkitState();
      Deno.exit(0);
  }
  console.log(JSON.stringify(answer ?? { unknown: command }));
}
