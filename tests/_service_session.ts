/**
 * A users service started with the `start` task's permissions and one
 * console session on it, as the README's walk-through uses them: shared by
 * tests/walkthrough_test.ts and tests/readme_test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { sendLoad } from "../bench/load.ts";
import type { Reply } from "../console/protocol.ts";
import { startServe } from "./_process.ts";
import { TestConnection, valueOf } from "./console/_console_client.ts";

const TOKEN = "session-" + crypto.randomUUID();

/** A service started by {@linkcode startWithConsole}. */
export interface ServiceSession {
  /** Evaluates a snippet; returns the rendered value and what came before. */
  run(code: string): Promise<{ text: string; before: Reply[] }>;
  /** Evaluates a snippet and returns its value as plain data (via JSON). */
  data<T>(code: string): Promise<T>;
  /** Sends `requests` GET requests to `/users/random`, all answered. */
  load(requests: number): Promise<void>;
  /** One sample's value from `/metrics`. */
  metric(name: string): Promise<number>;
  /** Closes the session, stops the service, checks it exited 0. */
  stop(): Promise<void>;
}

/**
 * Starts `main.ts serve` like `deno task start` (its permissions, port 0
 * for HTTP and the console) and opens one console session on it.
 *
 * @param args Extra `serve` flags, e.g. `["--cache-limit", "5000"]`.
 * @returns The session's helpers.
 */
export async function startWithConsole(
  args: string[] = [],
): Promise<ServiceSession> {
  const service = await startServe(["--console-port", "0", ...args], {
    env: { CONSOLE_TOKEN: TOKEN },
  });
  const line = await service.stdout.waitFor(/^console listening on /);
  const port = Number(line.match(/:(\d+)$/)![1]);
  const session = await TestConnection.open(port);
  assert.equal((await session.hello(TOKEN))?.type, "hello");
  let id = 0;
  /** Evaluates a snippet; returns the rendered value and what came before. */
  const run = async (code: string) => {
    // A heap capture stops the service without a word for seconds on a
    // busy machine: the deadline only bounds a hang.
    const { final, before } = await session.eval(++id, code, 300_000);
    return { text: valueOf(final), before };
  };
  /** Evaluates a snippet and returns its value as plain data (via JSON). */
  const data = async <T>(code: string): Promise<T> => {
    const { before } = await run(
      `console.log(JSON.stringify(await (${code})))`,
    );
    const printed = before.flatMap((r) => r.type === "output" ? [r.text] : []);
    return JSON.parse(printed.join(""));
  };
  const load = async (requests: number) => {
    const report = await sendLoad(`${service.url}users/random`, requests, 16);
    assert.equal(report.ok, requests);
  };
  const metric = async (name: string) => {
    const text = await (await fetch(`${service.url}metrics`)).text();
    const match = text.match(new RegExp(`^${name} (\\S+)$`, "m"));
    assert.ok(match, `${name} in /metrics`);
    return Number(match[1]);
  };
  const stop = async () => {
    session.close();
    service.child.kill("SIGTERM");
    const { code } = await service.finish();
    assert.equal(code, 0);
  };
  return { run, data, load, metric, stop };
}
