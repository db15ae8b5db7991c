/**
 * Attach benchmark: what phase 2 (the toolkit over the link) needs to know.
 * Writes bench/results/attach.md.
 *
 * Run: deno task bench:attach [--users 150000] [--rounds 5]
 *
 * 1. Time to the first prompt: `main.ts attach PID` under a pseudo-terminal
 *    until `>>> ` shows, next to `main.ts console --pid PID` (the embedded
 *    console's client, the baseline), medians of `--rounds`, with attach's
 *    phases timed in this process (pre-flight, signal to listening,
 *    connect, session start).
 * 2. A heap capture through attach against one in the target itself, on
 *    the same heap (fresh targets, `bench/attach_target.ts`): the target's
 *    longest event-loop stall, the capture's wall time, its peak RSS growth
 *    (VmHWM, which counts every byte the capture touched) and the
 *    snapshot's size. Through attach, `HeapProfiler.takeHeapSnapshot` is
 *    driven over the attach link directly and the chunks are counted and
 *    dropped here.
 * 3. The window during which the inspector port was open for one `-e`.
 *
 * Port 9229 is machine-wide: the bench waits (a bounded time) until it is
 * free and stops if it stays taken.
 *
 * @module
 */

import { benchFlags } from "./_flags.ts";
import { mainArgs, OutputLines, taskFlags } from "../tests/_process.ts";
import { checkTarget } from "../console/attach/preflight.ts";
import { openInspector } from "../console/attach/open_inspector.ts";
import { findInspectorTarget } from "../console/attach/inspector_endpoint.ts";
import { connectWebSocketLink } from "../console/attach/websocket_link.ts";
import { RemoteSession } from "../console/attach/remote_session.ts";
import { leaveTarget } from "../console/attach/leave_target.ts";
import { portHolders } from "../console/attach/listening_sockets.ts";

const ROOT = new URL("../", import.meta.url);
const TARGET = new URL("attach_target.ts", import.meta.url).pathname;
const MB = 1024 * 1024;

interface Started {
  child: Deno.ChildProcess;
  stdout: OutputLines;
  port: number;
  stop(): Promise<void>;
}

/** Starts a deno child and waits for its `listening on PORT` line. */
async function startDeno(
  args: string[],
  env: Record<string, string> = {},
  pattern = /listening on (?:http:\/\/\S+:)?(\d+)/,
): Promise<Started> {
  const child = new Deno.Command("deno", {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const stdout = new OutputLines(child.stdout);
  const line = await stdout.waitFor(pattern, 120_000);
  const port = Number(pattern.exec(line)![1]);
  const draining = stdout.rest().catch(() => "");
  return {
    child,
    stdout,
    port,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Gone.
      }
      await child.status;
      await draining;
    },
  };
}

/** Waits until a process has its SIGUSR1 handler. */
async function waitForHandler(pid: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const out = await new Deno.Command("ps", {
      args: ["-o", "caught=", "-p", String(pid)],
    }).output();
    const mask = new TextDecoder().decode(out.stdout).trim();
    if (mask && ((BigInt(`0x${mask}`) >> 9n) & 1n) === 1n) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`pid ${pid} never installed its SIGUSR1 handler`);
}

/** The process's peak RSS so far (VmHWM), in bytes. */
async function peakRss(pid: number): Promise<number> {
  const out = await new Deno.Command("grep", {
    args: ["VmHWM", `/proc/${pid}/status`],
  }).output();
  const kb = Number(
    /(\d+)\s*kB/.exec(new TextDecoder().decode(out.stdout))?.[1],
  );
  return kb * 1024;
}

async function stats(port: number) {
  const response = await fetch(`http://127.0.0.1:${port}/stats`);
  return await response.json() as {
    heapUsed: number;
    rss: number;
    maxStallMs: number;
  };
}

/** Waits until nobody listens on 9229; false when it stays taken. */
async function inspectorPortFree(): Promise<boolean> {
  for (let i = 0; i < 600; i++) {
    if ((await portHolders(9229)).sockets.length === 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/**
 * Runs `command` under `script` and returns the ms until `>>> ` shows,
 * then leaves with `.exit`.
 */
async function timeToPrompt(command: string[], env: Record<string, string>) {
  const quoted = command.map((word) => `'${word.replaceAll("'", "'\\''")}'`)
    .join(" ");
  const started = performance.now();
  const child = new Deno.Command("script", {
    args: ["-qfec", quoted, "/dev/null"],
    cwd: ROOT,
    env: { TERM: "xterm-256color", ...env },
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let screen = "";
  let promptMs = NaN;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    screen += value;
    if (screen.includes(">>> ")) {
      promptMs = performance.now() - started;
      break;
    }
  }
  const keys = child.stdin.getWriter();
  await keys.write(new TextEncoder().encode(".exit\r"));
  await keys.close().catch(() => {});
  (async () => {
    for (;;) if ((await reader.read()).done) break;
  })();
  await child.status;
  if (Number.isNaN(promptMs)) throw new Error(`no prompt:\n${screen}`);
  return promptMs;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** The first-prompt figures: attach vs the embedded console's client. */
async function firstPrompt(rounds: number, home: string) {
  const app = await startDeno(["run", "--allow-net=127.0.0.1", TARGET, "1000"]);
  const service = await startDeno(
    await mainArgs(["serve", "--port", "0", "--console-port", "0"], {
      task: "start",
      home,
    }),
    { HOME: home },
    /^console listening on 127\.0\.0\.1:(\d+)/,
  );
  const attach: number[] = [];
  const console: number[] = [];
  const phases: Array<Record<string, number>> = [];
  try {
    await waitForHandler(app.child.pid);
    const attachFlags = await taskFlags("attach", home);
    const consoleFlags = await taskFlags("console", home);
    for (let round = 0; round < rounds; round++) {
      attach.push(
        await timeToPrompt(
          [
            "deno",
            "run",
            ...attachFlags,
            "main.ts",
            "attach",
            String(app.child.pid),
          ],
          { HOME: home },
        ),
      );
      console.push(
        await timeToPrompt(
          [
            "deno",
            "run",
            ...consoleFlags,
            "main.ts",
            "console",
            "--pid",
            String(service.child.pid),
          ],
          { HOME: home },
        ),
      );
      phases.push(await attachPhases(app.child.pid));
    }
  } finally {
    await app.stop();
    await service.stop();
  }
  const phaseMedians: Record<string, number> = {};
  for (const name of Object.keys(phases[0] ?? {})) {
    phaseMedians[name] = median(phases.map((p) => p[name]!));
  }
  return {
    attach: median(attach),
    console: median(console),
    phases: phaseMedians,
  };
}

/** Attach's phases, timed in this process, up to a started session. */
async function attachPhases(pid: number): Promise<Record<string, number>> {
  const t0 = performance.now();
  const plan = await checkTarget(pid);
  const t1 = performance.now();
  const opened = await openInspector(plan);
  const t2 = performance.now();
  const endpoint = await findInspectorTarget(plan.address);
  const link = await connectWebSocketLink(endpoint.url);
  const t3 = performance.now();
  const session = await RemoteSession.open(link, {
    pid,
    colors: false,
    help: "",
  });
  const t4 = performance.now();
  await leaveTarget({ plan, link, session, openedAt: opened.openedAt });
  return {
    "pre-flight (ps, ss)": t1 - t0,
    "SIGUSR1 to listening": t2 - t1,
    "/json/list + WebSocket": t3 - t2,
    "session start (agent)": t4 - t3,
  };
}

/** One capture in a fresh target, in-process or through attach. */
async function capture(users: number, mode: "in-process" | "attach") {
  const target = await startDeno([
    "run",
    "--allow-net=127.0.0.1",
    "--allow-sys",
    TARGET,
    String(users),
  ]);
  try {
    const pid = target.child.pid;
    await waitForHandler(pid);
    // Settle, then the figures before.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = await stats(target.port);
    const peakBefore = await peakRss(pid);
    let ms: number;
    let bytes = 0;
    let openMs = 0;
    if (mode === "in-process") {
      const response = await fetch(`http://127.0.0.1:${target.port}/capture`, {
        method: "POST",
      });
      ({ ms, bytes } = await response.json());
    } else {
      const plan = await checkTarget(pid);
      const opened = await openInspector(plan);
      const endpoint = await findInspectorTarget(plan.address);
      const link = await connectWebSocketLink(endpoint.url);
      try {
        const stop = link.listen<{ chunk: string }>(
          "HeapProfiler.addHeapSnapshotChunk",
          ({ chunk }) => bytes += chunk.length,
        );
        const started = performance.now();
        await link.post("HeapProfiler.takeHeapSnapshot", {
          reportProgress: false,
        }, { timeoutMs: Infinity });
        ms = performance.now() - started;
        stop();
      } finally {
        const left = await leaveTarget({
          plan,
          link,
          openedAt: opened.openedAt,
        });
        openMs = left.openMs ?? 0;
      }
    }
    const after = await stats(target.port);
    const peakAfter = await peakRss(pid);
    return {
      mode,
      heapUsed: before.heapUsed,
      rssBefore: before.rss,
      stallMs: after.maxStallMs,
      ms,
      bytes,
      peakGrowth: peakAfter - Math.max(peakBefore, before.rss),
      peakAfter,
      openMs,
    };
  } finally {
    await target.stop();
  }
}

/** The port-open window of one `attach PID -e`, as attach reports it. */
async function openWindow(
  home: string,
): Promise<{ line: string; seconds: number }> {
  const app = await startDeno(["run", "--allow-net=127.0.0.1", TARGET, "1000"]);
  try {
    await waitForHandler(app.child.pid);
    const out = await new Deno.Command("deno", {
      args: await mainArgs([
        "attach",
        String(app.child.pid),
        "-e",
        "cache.size",
      ], {
        task: "attach",
        home,
      }),
      cwd: ROOT,
      env: { HOME: home },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    const line = stderr.split("\n").find((l) => l.startsWith("detached")) ??
      stderr;
    const seconds = Number(
      /open to local users for ([\d.]+) s/.exec(line)?.[1],
    );
    return { line, seconds };
  } finally {
    await app.stop();
  }
}

if (import.meta.main) {
  const flags = benchFlags(Deno.args, {
    users: 150_000,
    rounds: 5,
    out: "bench/results/attach.md",
  });
  if (!await inspectorPortFree()) {
    console.error("port 9229 stayed taken for a minute: not measuring");
    Deno.exit(1);
  }
  const home = await Deno.makeTempDir({ prefix: "attach-bench-" });
  const load = () => Deno.loadavg().map((n) => n.toFixed(2)).join(" ");
  try {
    const loadBefore = load();
    const prompt = await firstPrompt(flags.rounds, home);
    console.log("first prompt", prompt);
    const captures: Array<Awaited<ReturnType<typeof capture>>> = [];
    for (
      const mode of ["in-process", "attach", "in-process", "attach"] as const
    ) {
      const result = await capture(flags.users, mode);
      console.log(result);
      captures.push(result);
    }
    const window = await openWindow(home);
    console.log(window);
    const row = (c: (typeof captures)[number]) =>
      `| ${c.mode} | ${(c.heapUsed / MB).toFixed(1)} MB | ${
        (c.bytes / MB).toFixed(1)
      } MB | ${Math.round(c.stallMs)} ms | ${Math.round(c.ms)} ms | ${
        (c.peakGrowth / MB).toFixed(0)
      } MB (${(c.peakGrowth / c.heapUsed).toFixed(1)}× heap) | ${
        (c.peakAfter / MB).toFixed(0)
      } MB |`;
    const report = [
      "# Attach",
      "",
      `deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, load average ${loadBefore} at the start, ${
        new Date().toISOString().slice(0, 10)
      }. \`deno task bench:attach\`.`,
      "",
      `## Time to the first prompt (median of ${flags.rounds}, under a pseudo-terminal)`,
      "",
      "| client | to `>>> ` | ratio |",
      "| --- | ---: | ---: |",
      `| \`main.ts console --pid\` (embedded console, baseline) | ${
        Math.round(prompt.console)
      } ms | 1.00× |`,
      `| \`main.ts attach PID\` | ${Math.round(prompt.attach)} ms | ${
        (prompt.attach / prompt.console).toFixed(2)
      }× |`,
      "",
      "Attach's phases, timed in the bench's process (medians):",
      "",
      "| phase | ms |",
      "| --- | ---: |",
      ...Object.entries(prompt.phases).map(([name, ms]) =>
        `| ${name} | ${ms.toFixed(0)} |`
      ),
      "",
      `## A heap capture through attach vs in the target, same heap (${flags.users} class instances in a Map; fresh target each)`,
      "",
      "| capture | heap used | snapshot | target's longest stall | capture time | target's peak RSS growth | target's peak RSS |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...captures.map(row),
      "",
      "## The inspector port's open window for one `attach PID -e cache.size`",
      "",
      `${window.seconds} s (attach's own line: \`${window.line}\`)`,
      "",
    ].join("\n");
    await Deno.writeTextFile(flags.out, report);
    console.log(report);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}
