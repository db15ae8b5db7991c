/**
 * A relay, as an attacker on the machine would run one: it listens on a
 * TCP port of 127.0.0.1 (`--listen 0` picks one) or a unix socket path, and
 * passes every connection's bytes both ways to a console (`--to PORT` or
 * `--to PATH`), untouched. It prints `relay listening on WHERE` once ready
 * and `relayed N` as each connection ends.
 *
 * Run: deno run --allow-net=127.0.0.1,unix:PATHS tests/console/_relay.ts --listen 0 --to 44444
 *
 * Tests start it with {@linkcode startRelay}.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { OutputLines } from "../_process.ts";

/** A running relay process. */
export interface Relay extends AsyncDisposable {
  /** Where it listens: its port, or its socket path. */
  listening: string;
  /** Its output so far (`relayed N` lines). */
  output: OutputLines;
}

/**
 * Starts a relay in a process of its own.
 *
 * @param listen `0` for a free TCP port of 127.0.0.1, or a socket path.
 * @param to The console's port or socket path.
 * @returns The relay; dispose of it to stop it.
 */
export async function startRelay(listen: string, to: string): Promise<Relay> {
  const sockets = [listen, to].filter((where) => !/^\d+$/.test(where));
  const child = new Deno.Command("deno", {
    args: [
      "run",
      `--allow-net=${["127.0.0.1", ...sockets.map((s) => `unix:${s}`)]}`,
      `--allow-read=${sockets.join(",") || "/nonexistent"}`,
      `--allow-write=${sockets.join(",") || "/nonexistent"}`,
      new URL(import.meta.url).pathname,
      "--listen",
      listen,
      "--to",
      to,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const output = new OutputLines(child.stdout);
  const line = await output.waitFor(/^relay listening on /, 30_000);
  return {
    listening: line.replace(/^relay listening on /, ""),
    output,
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
      await output.rest();
    },
  };
}

/** Where to listen or connect: a port (TCP on 127.0.0.1) or a socket path. */
function address(text: string) {
  return /^\d+$/.test(text)
    ? { hostname: "127.0.0.1", port: Number(text), transport: "tcp" as const }
    : { path: text, transport: "unix" as const };
}

async function pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await from.read(buffer);
      if (n === null) break;
      let written = 0;
      while (written < n) {
        written += await to.write(buffer.subarray(written, n));
      }
    }
  } catch {
    // Either side hung up.
  }
  try {
    await to.closeWrite();
  } catch {
    // Already closed.
  }
}

async function relay(client: Deno.Conn, to: string, count: number) {
  try {
    const target = address(to);
    const server = target.transport === "tcp"
      ? await Deno.connect(target)
      : await Deno.connect(target);
    await Promise.all([pipe(client, server), pipe(server, client)]);
    server.close();
  } catch {
    // The console is gone.
  }
  try {
    client.close();
  } catch {
    // Already closed.
  }
  console.log(`relayed ${count}`);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { listen: { type: "string" }, to: { type: "string" } },
  });
  const listen = address(values.listen!);
  const listener = listen.transport === "tcp"
    ? Deno.listen(listen)
    : Deno.listen(listen);
  const addr = listener.addr;
  console.log(
    `relay listening on ${
      "port" in addr ? addr.port : (addr as Deno.UnixAddr).path
    }`,
  );
  let count = 0;
  for await (const client of listener) relay(client, values.to!, ++count);
}
