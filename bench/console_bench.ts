/**
 * The console's benchmark, beside its floors in the same run:
 *
 * - eval round trip of `cache.size` over the JSON-lines protocol, next to a
 *   plain TCP echo round trip on the same loopback (p50 and p99);
 * - HTTP req/s on cache hits with 4 idle console sessions attached, next to
 *   none (interleaved rounds, medians).
 *
 * Run: deno task bench:console [--trips 5000] [--seconds 5] [--rounds 3]
 *
 * @module
 */

import { benchFlags } from "./_flags.ts";
import { LineReader } from "../console/line_reader.ts";
import { mainArgs, OutputLines as OutputReader } from "../tests/_process.ts";

const flags = benchFlags(Deno.args, {
  trips: 5000,
  seconds: 5,
  rounds: 3,
  out: "bench/results/console.md",
});
const TRIPS = flags.trips;
const SECONDS = flags.seconds;
const ROUNDS = flags.rounds;
const TOKEN = "bench-token-" + crypto.randomUUID();
const encoder = new TextEncoder();

function spawn(args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command("deno", {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    env,
  }).spawn();
  return { child, stdout: new OutputReader(child.stdout) };
}

/** Sends `line` and waits for one line back, `trips` times; returns RTTs in ms. */
async function roundTrips(
  conn: Deno.Conn,
  reader: LineReader,
  line: string,
  trips: number,
): Promise<number[]> {
  const data = encoder.encode(line + "\n");
  const times: number[] = [];
  for (let i = 0; i < trips; i++) {
    const started = performance.now();
    await conn.write(data);
    const reply = await reader.next();
    if (reply.kind !== "line") throw new Error("Connection closed");
    times.push(performance.now() - started);
  }
  return times;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[
    Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))
  ]!;
}

function median(values: number[]): number {
  return percentile(values, 50);
}

async function openSession(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const reader = new LineReader(conn, 1 << 20);
  await conn.write(
    encoder.encode(
      JSON.stringify({ op: "hello", version: 1, token: TOKEN }) + "\n",
    ),
  );
  const hello = await reader.next();
  if (hello.kind !== "line" || !hello.line.includes('"hello"')) {
    throw new Error(`No hello: ${JSON.stringify(hello)}`);
  }
  return { conn, reader };
}

async function wrk(url: string): Promise<number> {
  const { stdout, success } = await new Deno.Command("wrk", {
    args: ["-t1", "-c64", `-d${SECONDS}s`, url],
    stdout: "piped",
  }).output();
  if (!success) throw new Error("wrk failed");
  return Number(
    new TextDecoder().decode(stdout).match(/Requests\/sec:\s+([\d.]+)/)![1],
  );
}

if (import.meta.main) {
  const echo = spawn([
    "run",
    "--allow-net=127.0.0.1",
    "bench/echo_server.ts",
  ]);
  const echoPort = Number(
    (await echo.stdout.waitFor(/listening/)).split(":").at(-1),
  );
  const service = spawn(
    await mainArgs(["serve", "--port", "0", "--console-port", "0"]),
    { CONSOLE_TOKEN: TOKEN, HOME: Deno.env.get("HOME") ?? "/root" },
  );
  const url = (await service.stdout.waitFor(/users service listening/)).match(
    /(http:\S+)/,
  )![1]!;
  const consolePort = Number(
    (await service.stdout.waitFor(/console listening/)).split(":").at(-1),
  );
  await (await fetch(url + "users/bench-user")).body?.cancel();

  try {
    // Round trips: warm both, then alternate blocks so noise hits both alike.
    const echoConn = await Deno.connect({
      hostname: "127.0.0.1",
      port: echoPort,
    });
    const echoReader = new LineReader(echoConn, 1 << 20);
    const session = await openSession(consolePort);
    const request = JSON.stringify({ op: "eval", id: 1, code: "cache.size" });
    // The echo floor carries a line as long as the eval reply.
    const floorLine = JSON.stringify({
      type: "result",
      id: 1,
      value: "1",
      durationMs: 0.012,
    });
    await roundTrips(echoConn, echoReader, floorLine, 500);
    await roundTrips(session.conn, session.reader, request, 500);
    const echoTimes: number[] = [];
    const evalTimes: number[] = [];
    for (let block = 0; block < 10; block++) {
      echoTimes.push(
        ...await roundTrips(echoConn, echoReader, floorLine, TRIPS / 10),
      );
      evalTimes.push(
        ...await roundTrips(session.conn, session.reader, request, TRIPS / 10),
      );
    }
    echoConn.close();
    session.conn.close();

    // HTTP with 4 idle sessions vs none, interleaved.
    const target = url + "users/bench-user";
    await wrk(target);
    const without: number[] = [];
    const withSessions: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      without.push(await wrk(target));
      const idle = await Promise.all(
        [1, 2, 3, 4].map(() => openSession(consolePort)),
      );
      withSessions.push(await wrk(target));
      for (const { conn } of idle) conn.close();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }

    const us = (ms: number) => `${(ms * 1000).toFixed(0)} µs`;
    const echoP50 = percentile(echoTimes, 50);
    const evalP50 = percentile(evalTimes, 50);
    const report = [
      `${TRIPS} round trips each (alternating blocks); wrk -t1 -c64, ${ROUNDS} interleaved rounds of ${SECONDS} s (medians); deno ${Deno.version.deno}, ${
        new Date().toISOString().slice(0, 10)
      }`,
      "",
      "| round trip | p50 | p99 | p50 ratio to echo | target |",
      "| --- | ---: | ---: | ---: | --- |",
      `| TCP echo, same loopback (floor) | ${us(echoP50)} | ${
        us(percentile(echoTimes, 99))
      } | 1.00× | |`,
      `| console \`eval cache.size\`, JSON lines | ${us(evalP50)} | ${
        us(percentile(evalTimes, 99))
      } | ${(evalP50 / echoP50).toFixed(2)}× | ≤ 2.5× |`,
      "",
      "| HTTP cache hits | req/s | ratio | target |",
      "| --- | ---: | ---: | --- |",
      `| no console session (baseline) | ${
        median(without).toFixed(0)
      } | 1.00× | |`,
      `| 4 idle console sessions attached | ${
        median(withSessions).toFixed(0)
      } | ${(median(withSessions) / median(without)).toFixed(3)}× | ≥ 0.98× |`,
      "",
    ].join("\n");
    console.log(report);
    await Deno.mkdir("bench/results", { recursive: true });
    await Deno.writeTextFile(flags.out, report);
  } finally {
    for (const { child } of [echo, service]) {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    }
  }
}
