/**
 * What an attacker on the machine can do to the console's door, measured
 * against the real service (`deno task start`) and the real client
 * (`deno task console`):
 *
 * - **churn**: flooders open connections at a fixed rate, each sending
 *   nothing and held for `--hold` ms; at each rate the operator runs
 *   `deno task console -e 1` `--tries` times, and `/healthz` is timed
 *   meanwhile. The survived rate is the highest at which every try works.
 * - **guesses**: `--parallel` connections send wrong tokens as fast as the
 *   server lets them; a guess counts unless the server refused it unchecked
 *   (a throttled attempt). The service's log gives the number it checked.
 *
 * `--root DIR` measures another tree (e.g. an export of `main`): its
 * service and its client, with this flooder. The flooders and the guesser
 * are this script in other processes (`--flood PORT`, `--guess PORT`).
 *
 * Run: deno task bench:flood [--rates 0,1000,2000,4000,8000] [--tries 4]
 * [--hold 1000] [--workers 2] [--parallel 8] [--guess-seconds 10]
 * [--root .] [--out bench/results/console_flood.md]
 *
 * @module
 */

import { benchFlags } from "./_flags.ts";
import { OutputLines } from "../tests/_process.ts";

const flags = benchFlags(Deno.args, {
  rates: "0,1000,2000,4000,8000",
  tries: 4,
  hold: 1000,
  workers: 2,
  parallel: 8,
  "guess-seconds": 10,
  "probe-timeout": 30,
  root: ".",
  out: "bench/results/console_flood.md",
  // Internal: this script as a flooder or a guesser.
  flood: 0,
  guess: 0,
  rate: 0,
  seconds: 0,
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A flooder: opens `rate` connections a second that send nothing. */
async function flood(port: number, rate: number, holdMs: number) {
  const started = performance.now();
  let opened = 0;
  let failed = 0;
  let attempted = 0;
  let open = 0;
  const maxOpen = 8_000;
  let lastReport = started;
  let lastOpened = 0;
  while (true) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    const now = performance.now();
    const due = Math.floor(rate * (now - started) / 1000) - attempted;
    for (let i = 0; i < due; i++) {
      attempted++;
      if (open >= maxOpen) {
        failed++;
        continue;
      }
      open++;
      Deno.connect({ hostname: "127.0.0.1", port }).then((conn) => {
        opened++;
        setTimeout(() => {
          open--;
          try {
            conn.close();
          } catch {
            // Closed already.
          }
        }, holdMs);
      }, () => {
        open--;
        failed++;
      });
    }
    if (now - lastReport >= 1000) {
      console.log(JSON.stringify({
        perSecond: Math.round(
          (opened - lastOpened) * 1000 / (now - lastReport),
        ),
        opened,
        failed,
        open,
      }));
      lastReport = now;
      lastOpened = opened;
    }
  }
}

/**
 * A guesser: `parallel` loops, each connecting and sending a wrong token,
 * and taking a quick silence as a failure (a right token opens a session
 * at once), for `seconds`. A silent connection is still read in the
 * background for a while: a refusal that comes late (the service refused
 * the attempt unchecked) is then counted as such, not as a guess.
 */
async function guess(port: number, parallel: number, seconds: number) {
  const counts = { attempts: 0, throttled: 0, refused: 0, silent: 0, other: 0 };
  const late: Promise<void>[] = [];
  const classify = (text: string) => {
    if (/too many failed/i.test(text)) counts.throttled++;
    else if (/AuthenticationError/.test(text)) counts.refused++;
    else counts.other++;
  };
  const deadline = performance.now() + seconds * 1000;
  const loop = async (n: number) => {
    for (let i = 0; performance.now() < deadline; i++) {
      let conn: Deno.Conn;
      try {
        conn = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        counts.other++;
        continue;
      }
      counts.attempts++;
      const token = `wrong-token-${n}-${i}-${crypto.randomUUID()}`;
      const buffer = new Uint8Array(4096);
      const close = () => {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      };
      try {
        await conn.write(
          encoder.encode(JSON.stringify({ op: "hello", token }) + "\n"),
        );
        const reading = conn.read(buffer).catch(() => null);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const read = await Promise.race([
          reading,
          new Promise<"silent">((resolve) => {
            timer = setTimeout(() => resolve("silent"), 20);
          }),
        ]);
        clearTimeout(timer);
        if (read === "silent") {
          counts.silent++;
          // On to the next guess; see later what this one came to.
          late.push((async () => {
            let lateTimer: ReturnType<typeof setTimeout> | undefined;
            const answer = await Promise.race([
              reading,
              new Promise<null>((resolve) => {
                lateTimer = setTimeout(() => resolve(null), 1500);
              }),
            ]);
            clearTimeout(lateTimer);
            close();
            if (
              typeof answer === "number" &&
              /too many failed/i.test(
                decoder.decode(buffer.subarray(0, answer)),
              )
            ) {
              counts.silent--;
              counts.throttled++;
            }
          })());
          continue;
        }
        if (read === null) counts.other++;
        else classify(decoder.decode(buffer.subarray(0, read)));
      } catch {
        counts.other++;
      }
      close();
    }
  };
  await Promise.all(Array.from({ length: parallel }, (_, n) => loop(n)));
  await Promise.all(late);
  console.log(JSON.stringify(counts));
}

/** The service of `root` (its own `start` task), on free ports. */
async function startService(root: string, home: string) {
  const child = new Deno.Command("deno", {
    args: [
      "task",
      "--cwd",
      root,
      "start",
      "--port",
      "0",
      "--console-port",
      "0",
    ],
    env: { HOME: home },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new OutputLines(child.stdout);
  const stderr = new OutputLines(child.stderr);
  const stderrDone = stderr.rest();
  const url = (await stdout.waitFor(/users service listening/, 60_000))
    .match(/(http:\S+)/)![1]!;
  const port = Number(
    (await stdout.waitFor(/console listening/, 60_000)).split(":").at(-1),
  );
  const stdoutDone = stdout.rest();
  return {
    url,
    port,
    async stop(): Promise<string> {
      child.kill("SIGTERM");
      await child.status;
      await stdoutDone;
      return await stderrDone;
    },
  };
}

/** Runs `deno task console -e 1` in `root`; whether it printed 1, and how long it took. */
async function probe(root: string, home: string, port: number) {
  const started = performance.now();
  const child = new Deno.Command("deno", {
    args: ["task", "--cwd", root, "console", "--port", String(port), "-e", "1"],
    env: { HOME: home },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(
    () => child.kill("SIGKILL"),
    flags["probe-timeout"] * 1000,
  );
  const { code, stdout, stderr } = await child.output();
  clearTimeout(timer);
  const ok = code === 0 && decoder.decode(stdout).trim() === "1";
  return {
    ok,
    ms: performance.now() - started,
    error: ok ? "" : decoder.decode(stderr).trim().split("\n").at(-1) ?? "",
  };
}

/** Times `GET /healthz` every 50 ms until `stop` settles. */
async function timeHealthz(url: string, stop: Promise<void>) {
  const times: number[] = [];
  let stopped = false;
  stop.then(() => stopped = true);
  while (!stopped) {
    const started = performance.now();
    try {
      await (await fetch(url + "healthz")).body?.cancel();
      times.push(performance.now() - started);
    } catch {
      times.push(Infinity);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return times;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[
    Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))
  ] ?? NaN;
}

function spawnSelf(args: string[]) {
  const child = new Deno.Command("deno", {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      new URL(import.meta.url).pathname,
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  return { child, stdout: new OutputLines(child.stdout) };
}

function loadAverage(): string {
  try {
    return Deno.loadavg().map((n) => n.toFixed(2)).join(" ");
  } catch {
    return "unknown";
  }
}

/** Counts of a refusal reason in the console's log (lines and summaries). */
function refusalCount(log: string, reason: string): number {
  let count = 0;
  for (const line of log.split("\n")) {
    if (new RegExp(`refused: ${reason}`).test(line)) count++;
    const summary = line.match(new RegExp(`${reason}: (\\d+)`));
    if (summary && line.startsWith("console: ")) count += Number(summary[1]);
  }
  return count;
}

async function churn(root: string, home: string) {
  const rows: string[] = [];
  let survived = -1;
  for (const rate of flags.rates.split(",").map(Number)) {
    const service = await startService(root, home);
    const flooders = rate === 0 ? [] : Array.from(
      { length: flags.workers },
      () =>
        spawnSelf([
          "--flood",
          String(service.port),
          "--rate",
          String(rate / flags.workers),
          "--hold",
          String(flags.hold),
        ]),
    );
    const achieved: number[] = [];
    const readers = flooders.map(async ({ stdout }) => {
      try {
        while (true) {
          const line = await stdout.waitFor(/perSecond/, 600_000);
          achieved.push(JSON.parse(line).perSecond);
        }
      } catch {
        // The flooder was stopped.
      }
    });
    // Let the flood reach its rate before the operator tries.
    if (rate > 0) await new Promise((resolve) => setTimeout(resolve, 2_000));
    const before = achieved.length;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => done = resolve);
    const healthz = timeHealthz(service.url, finished);
    const tries = [];
    for (let i = 0; i < flags.tries; i++) {
      tries.push(await probe(root, home, service.port));
    }
    done();
    const health = await healthz;
    const during = achieved.slice(before);
    for (const { child } of flooders) {
      child.kill("SIGKILL");
      await child.status;
    }
    await Promise.all(readers);
    await service.stop();
    // Achieved rate: the flooders' per-second counts summed over workers.
    const perSecond = during.length === 0 ? 0 : Math.round(
      during.reduce((a, b) => a + b, 0) / during.length * flooders.length,
    );
    const ok = tries.filter((t) => t.ok).length;
    if (ok === tries.length && rate > survived) survived = rate;
    const errors = [...new Set(tries.filter((t) => !t.ok).map((t) => t.error))]
      .join("; ").slice(0, 160);
    const row = `| ${rate} | ${perSecond} | ${ok}/${tries.length} | ${
      percentile(tries.map((t) => t.ms), 50).toFixed(0)
    } ms | ${percentile(health, 50).toFixed(1)} ms | ${
      Math.max(...health).toFixed(0)
    } ms | ${errors.replaceAll("|", "\\|")} |`;
    console.log(row);
    rows.push(row);
  }
  return { rows, survived };
}

async function guesses(root: string, home: string) {
  const service = await startService(root, home);
  const guesser = spawnSelf([
    "--guess",
    String(service.port),
    "--parallel",
    String(flags.parallel),
    "--seconds",
    String(flags["guess-seconds"]),
  ]);
  const counts = JSON.parse(await guesser.stdout.waitFor(/attempts/, 600_000));
  await guesser.child.status;
  // Is the operator still let in right after?
  const operator = await probe(root, home, service.port);
  const log = await service.stop();
  const seconds = flags["guess-seconds"];
  const checked = refusalCount(log, "invalid token");
  return {
    counts,
    operator,
    perSecond: (counts.attempts - counts.throttled) / seconds,
    checkedPerSecond: checked / seconds,
    logLines: log.split("\n").filter((line) => line.startsWith("console")),
  };
}

async function main() {
  const root = flags.root;
  const home = await Deno.makeTempDir({ prefix: "console-flood-" });
  try {
    const load = loadAverage();
    console.log(`load average before: ${load}`);
    const { rows, survived } = await churn(root, home);
    const guessed = await guesses(root, home);
    console.log(JSON.stringify(guessed, null, 2));
    const report = [
      `Console door under attack, tree \`${root}\`; deno ${Deno.version.deno}, ${
        new Date().toISOString().slice(0, 16)
      }, load average at start ${load} (2 cores, shared)`,
      "",
      `Churn: ${flags.workers} flooder processes, each connection sends nothing and is held ${flags.hold} ms; ${flags.tries} × \`deno task console -e 1\` per rate; /healthz every 50 ms meanwhile.`,
      "",
      "| requested conn/s | achieved conn/s | `-e 1` ok | `-e 1` median | /healthz p50 | /healthz max | client errors |",
      "| ---: | ---: | ---: | ---: | ---: | ---: | --- |",
      ...rows,
      "",
      `Highest rate at which every \`-e 1\` succeeded: ${
        survived < 0 ? "none" : `${survived}/s requested`
      }.`,
      "",
      `Guesses: ${flags.parallel} parallel connections for ${
        flags["guess-seconds"]
      } s, each sending a wrong token and taking 20 ms of silence as a failure (unless a refusal unchecked comes later).`,
      "",
      "| attempts | refused unchecked (throttled) | guesses/s (attacker's view) | wrong tokens the service checked, /s (its log) | operator's `-e 1` right after |",
      "| ---: | ---: | ---: | ---: | --- |",
      `| ${guessed.counts.attempts} | ${guessed.counts.throttled} | ${
        guessed.perSecond.toFixed(1)
      } | ${guessed.checkedPerSecond.toFixed(1)} | ${
        guessed.operator.ok
          ? `ok (${guessed.operator.ms.toFixed(0)} ms)`
          : `failed: ${guessed.operator.error}`
      } |`,
      "",
      "The service's console log during the guesses:",
      "",
      "```text",
      ...guessed.logLines.slice(0, 20),
      "```",
      "",
    ].join("\n");
    console.log(report);
    await Deno.mkdir("bench/results", { recursive: true });
    await Deno.writeTextFile(flags.out, report);
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  if (flags.flood > 0) await flood(flags.flood, flags.rate, flags.hold);
  else if (flags.guess > 0) {
    await guess(flags.guess, flags.parallel, flags.seconds);
  } else await main();
}
