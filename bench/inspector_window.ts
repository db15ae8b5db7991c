/**
 * The SIGUSR1 window: how long Deno's V8 inspector accepts connections on
 * 127.0.0.1:9229 after a SIGUSR1 before the service's guard
 * (console/inspector_guard.ts) closes it, and whether an attacker polling
 * the port in a tight loop gets code evaluated in that window.
 *
 * Each trial sends SIGUSR1 to a running `main.ts serve` while this process
 * connects to 9229 as fast as it can; on its first connection it reads
 * `/json/list`, opens the WebSocket and sends `Runtime.evaluate`. Run it with
 * `--allow-inspector-signal` too: the same attacker then evaluates code,
 * which shows it would notice a window it could use.
 *
 * Run: deno run --allow-run=deno --allow-net=127.0.0.1 --allow-read
 * --allow-env=HOME bench/inspector_window.ts [--trials 20]
 * [--allow-inspector-signal]
 *
 * Port 9229 is machine-wide: the bench waits while another process holds it.
 *
 * @module
 */

import { benchFlags } from "./_flags.ts";
import { startServe } from "../tests/_process.ts";

const flags = benchFlags(Deno.args, {
  trials: 20,
  "allow-inspector-signal": false,
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What one trial saw, in ms after the signal. */
interface Trial {
  /** First connection accepted on 9229. */
  opened?: number;
  /** First connection refused after one was accepted. */
  closed?: number;
  /** The attacker read the target list and its pid matched. */
  listed: boolean;
  /** The WebSocket upgrade succeeded. */
  upgraded: boolean;
  /** `Runtime.evaluate` answered with the service's pid. */
  evaluated: boolean;
  /** 9229 listed another process's target: not this trial's window. */
  foreign: boolean;
}

/** Whether something listens on 127.0.0.1:9229 now. */
async function portTaken(): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port: 9229 })).close();
    return true;
  } catch {
    return false;
  }
}

/** The target list read through `conn` (closed after). */
async function listTargets(
  conn: Deno.Conn,
): Promise<{ title: string; webSocketDebuggerUrl: string }[]> {
  try {
    await conn.write(
      encoder.encode(
        "GET /json/list HTTP/1.1\r\nHost: 127.0.0.1:9229\r\nConnection: close\r\n\r\n",
      ),
    );
    let text = "";
    const buffer = new Uint8Array(16384);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n));
    }
    return JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4));
  } finally {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  }
}

/**
 * Reads `/json/list` through `conn` and again on new connections until the
 * service is listed (Deno binds before it registers the target), opens the
 * WebSocket and evaluates `Deno.pid`. Fails quietly once the port closes.
 */
async function attack(conn: Deno.Conn, pid: number, trial: Trial) {
  try {
    let url: string | undefined;
    while (url === undefined) {
      const targets = await listTargets(conn);
      url = targets.find((t) => t.title.includes(`pid: ${pid}`))
        ?.webSocketDebuggerUrl;
      if (url === undefined && targets.length > 0) {
        trial.foreign = true;
        return;
      }
      if (url === undefined) {
        conn = await Deno.connect({ hostname: "127.0.0.1", port: 9229 });
      }
    }
    trial.listed = true;
    await new Promise<void>((resolve) => {
      const socket = new WebSocket(url);
      const timer = setTimeout(() => socket.close(), 2_000);
      socket.onopen = () => {
        trial.upgraded = true;
        socket.send(JSON.stringify({
          id: 1,
          method: "Runtime.evaluate",
          params: { expression: "Deno.pid" },
        }));
      };
      socket.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.id === 1 && message.result?.result?.value === pid) {
          trial.evaluated = true;
          socket.close();
        }
      };
      socket.onclose = socket.onerror = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  } catch {
    // The guard closed the port under the attacker: the attack failed.
  }
}

/** One SIGUSR1 with the attacker polling 9229 until 3 s after it. */
async function runTrial(child: Deno.ChildProcess): Promise<Trial> {
  const trial: Trial = {
    listed: false,
    upgraded: false,
    evaluated: false,
    foreign: false,
  };
  const signalled = performance.now();
  child.kill("SIGUSR1");
  let attacking: Promise<void> | undefined;
  while (performance.now() - signalled < 3_000) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: 9229 });
      const at = performance.now() - signalled;
      trial.opened ??= at;
      if (attacking === undefined) {
        attacking = attack(conn, child.pid, trial);
      } else {
        conn.close();
      }
    } catch {
      if (trial.opened !== undefined) {
        trial.closed = performance.now() - signalled;
        break;
      }
    }
  }
  await attacking;
  return trial;
}

const service = await startServe([
  "--no-console",
  ...flags["allow-inspector-signal"] ? ["--allow-inspector-signal"] : [],
]);
// Deno installs its SIGUSR1 handler 500 ms after start.
await new Promise((resolve) => setTimeout(resolve, 1_000));
const trials: Trial[] = [];
try {
  for (let i = 0; i < flags.trials; i++) {
    while (await portTaken()) {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const trial = await runTrial(service.child);
    trials.push(trial);
    if (!flags["allow-inspector-signal"]) {
      // The guard's line ends its watch: the next signal is a new one.
      console.log(`  ${await service.stderr.waitFor(/^SIGUSR1/, 30_000)}`);
    } else {
      break; // Open until exit: one trial says it all.
    }
  }
} finally {
  service.child.kill("SIGKILL");
  await service.child.status;
}

const format = (ms: number | undefined) =>
  ms === undefined ? "-" : ms.toFixed(1);
console.log(
  "trial  opened ms  closed ms  window ms  listed  upgraded  evaluated",
);
trials.forEach((t, i) => {
  const window = t.opened !== undefined && t.closed !== undefined
    ? t.closed - t.opened
    : undefined;
  console.log(
    [
      String(i + 1).padStart(5),
      format(t.opened).padStart(9),
      format(t.closed).padStart(9),
      format(window).padStart(9),
      String(t.listed).padStart(6),
      String(t.upgraded).padStart(8),
      String(t.evaluated).padStart(9),
      ...t.foreign ? ["another process held 9229"] : [],
    ].join("  "),
  );
});
const ours = trials.filter((t) => !t.foreign);
const windows = ours.flatMap((t) =>
  t.opened !== undefined && t.closed !== undefined ? [t.closed - t.opened] : []
).sort((a, b) => a - b);
const opened = ours.filter((t) => t.opened !== undefined).length;
console.log(
  `${ours.length} trials (${
    trials.length - ours.length
  } left out: another process held 9229): port accepted connections in ${opened}; window median ${
    format(windows[Math.floor(windows.length / 2)])
  } ms, max ${format(windows.at(-1))} ms; listed ${
    trials.filter((t) => t.listed).length
  }, upgraded ${trials.filter((t) => t.upgraded).length}, evaluated ${
    trials.filter((t) => t.evaluated).length
  }`,
);
