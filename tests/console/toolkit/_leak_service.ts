/**
 * A real users service with its console, into which a test injects a leak
 * module the way an operator would: imported in a console session and
 * hooked into `users.lookup`, so every request leaks one more unit. Used by
 * the leak alarm's end-to-end tests and by `bench/alarm_bench.ts`.
 *
 * @module
 */

import { sendLoad } from "../../../bench/load.ts";
import { spawnMain } from "../../_process.ts";
import { TestConnection, valueOf } from "../_console_client.ts";

/** The folder of the leak modules. */
export const LEAK_FIXTURES = new URL("../../fixtures/leaks/", import.meta.url);

/** A running service with one console session open. */
export interface LeakService {
  /** The HTTP base URL, ending in `/`. */
  url: string;
  /** Every stderr line so far. */
  stderr: string[];
  /** Resolves with the first stderr line matching, or rejects after `ms`. */
  waitFor(pattern: RegExp, ms: number): Promise<string>;
  /** Evaluates a snippet in the session; returns the rendered value. */
  run(code: string): Promise<string>;
  /** Evaluates an expression in the session; returns its value as plain data (through JSON). */
  data<T>(expression: string): Promise<T>;
  /**
   * Imports `module` (a file of tests/fixtures/leaks/) in the session and
   * hooks `call` into `users.lookup`: `call` is a snippet expression over
   * `leakModule` (the module), `id` (the user id: `"random"` for
   * `/users/random`) and `n` (the request's number, from 1).
   */
  inject(module: string, call: string): Promise<void>;
  /** Sends `requests` GET /users/random at `rate` per second. */
  load(requests: number, rate: number): Promise<void>;
  /**
   * Keeps a paced load running (`Infinity`: as fast as answered) until
   * the returned function is called, which resolves with the requests
   * answered and those that failed.
   */
  loadUntilStopped(
    rate: number,
  ): () => Promise<{ ok: number; failed: number }>;
  /** Reads one gauge of /metrics (`NaN` when absent). */
  metric(name: string): Promise<number>;
  /** The process id. */
  pid: number;
  /** Stops the service (SIGTERM) and waits for it. */
  stop(): Promise<void>;
}

/**
 * Starts `main.ts serve` with a console and read access to the leak
 * modules, and opens a session.
 *
 * @param args Extra `serve` flags (`--leak-alarm-window 20`...).
 * @param options `allowAll`: run with `--allow-all` instead of the start
 * task's permissions (the only way Deno 2.9 reads `/proc/self/fd`);
 * `root`: the project whose `main.ts` to run (another checkout, for a
 * before/after benchmark), this one by default.
 * @returns The service.
 */
export async function startLeakService(
  args: string[] = [],
  options: { allowAll?: boolean; root?: URL } = {},
): Promise<LeakService> {
  const token = "leak-" + crypto.randomUUID();
  const serveArgs = ["serve", "--port", "0", "--console-port", "0", ...args];
  const env = { CONSOLE_TOKEN: token };
  const service = await spawnMain(serveArgs, {
    env,
    denoFlags: [`--allow-read=${LEAK_FIXTURES.pathname}`],
    ...options,
  });
  const stderr: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const pump = (async () => {
    while (true) {
      let line: string;
      try {
        line = await service.stderr.waitFor(/.*/, 24 * 3600_000);
      } catch {
        return;
      }
      stderr.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.pattern.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  })();
  const url = (await service.stdout.waitFor(/listening on http/)).match(
    /(http:\/\/\S+)/,
  )![1]!;
  const port = Number(
    (await service.stdout.waitFor(/^console listening on /)).match(
      /:(\d+)$/,
    )![1],
  );
  const session = await TestConnection.open(port);
  const hello = await session.hello(token);
  if (hello?.type !== "hello") {
    throw new Error(`Console refused: ${JSON.stringify(hello)}`);
  }
  let id = 0;
  const run = async (code: string) => {
    const { final } = await session.eval(++id, code);
    return valueOf(final);
  };
  const data = async <T>(expression: string): Promise<T> => {
    const { final, before } = await session.eval(
      ++id,
      `console.log(JSON.stringify(await (${expression})))`,
    );
    valueOf(final);
    const printed = before.flatMap((r) => r.type === "output" ? [r.text] : []);
    return JSON.parse(printed.join(""));
  };
  const metric = async (name: string) => {
    const text = await (await fetch(`${url}metrics`)).text();
    const match = text.match(new RegExp(`^${name} (\\S+)$`, "m"));
    return match ? Number(match[1]) : NaN;
  };
  return {
    url,
    pid: service.child.pid,
    stderr,
    waitFor(pattern, ms) {
      const seen = stderr.find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(
            new Error(`No ${pattern} within ${ms} ms:\n${stderr.join("\n")}`),
          );
        }, ms);
        const waiter = {
          pattern,
          resolve: (line: string) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        waiters.push(waiter);
      });
    },
    run,
    data,
    async inject(module, call) {
      const href = new URL(module, LEAK_FIXTURES).href;
      await run(
        `const leakModule = await import(${JSON.stringify(href)});
const lookup = users.lookup;
let n = 0;
users.lookup = (id) => { n++; ${call}; return lookup(id); };
undefined`,
      );
    },
    async load(requests, rate) {
      const report = await sendLoad(`${url}users/random`, requests, 8, rate);
      if (report.failed > 0) {
        throw new Error(`${report.failed} of ${requests} requests failed`);
      }
    },
    loadUntilStopped(rate) {
      let stopped = false;
      let ok = 0;
      let failed = 0;
      const running = (async () => {
        while (!stopped) {
          // About a second's worth at a time, each batch paced from its
          // start: a batch of one would otherwise go out at once.
          const batch = Number.isFinite(rate)
            ? Math.max(1, Math.round(rate))
            : 1000;
          const started = performance.now();
          const report = await sendLoad(`${url}users/random`, batch, 8, rate);
          ok += report.ok;
          failed += report.failed;
          const due = started + (batch / rate) * 1000 - performance.now();
          if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
        }
      })();
      return async () => {
        stopped = true;
        await running;
        return { ok, failed };
      };
    },
    metric,
    async stop() {
      session.close();
      try {
        service.child.kill("SIGTERM");
      } catch {
        // Gone already.
      }
      await service.finish();
      await pump;
    },
  };
}
