/**
 * A users service started like `deno task start` (plus read access to the
 * leak modules in `tests/fixtures/leaks/`), with one console session: the
 * setting in which a leak module is imported, hooked into `users.lookup`
 * so that every request leaks one more unit, and graded.
 *
 * @module
 */

import assert from "node:assert/strict";
import { sendLoad } from "../../../bench/load.ts";
import type { Reply } from "../../../console/protocol.ts";
import { spawnMain } from "../../_process.ts";
import { TestConnection } from "../_console_client.ts";

/** Where the leak modules live. */
export const LEAKS_DIR = new URL("../../fixtures/leaks/", import.meta.url);

/** A console session of the service, over its own connection. */
export interface ConsoleSession {
  /** Evaluates a snippet; returns its rendered value (throws on an error). */
  run(code: string): Promise<string>;
  /** Evaluates an expression and returns its awaited value, through JSON. */
  data<T>(code: string): Promise<T>;
  /** Disconnects (the service ends the session, see `closedSessions`). */
  close(): void;
}

/** A running service and its console session. */
export interface LeakService extends Omit<ConsoleSession, "close"> {
  /** The service's base URL. */
  url: string;
  /** Opens another console session (a new connection, a scope of its own). */
  openSession(): Promise<ConsoleSession>;
  /**
   * Waits until the service has logged the end of `count` console
   * sessions in all.
   */
  closedSessions(count: number): Promise<void>;
  /** Imports a leak module as `name` in the session. */
  importModule(file: string, name: string): Promise<void>;
  /**
   * Replaces `users.lookup` with one that first calls `hook(key)`, `key`
   * being the user id and a request id (`random` itself is every random
   * request's id: a per-request key makes each request leak anew).
   */
  hookLookup(hook: string): Promise<void>;
  /** Puts the service's own `users.lookup` back. */
  unhook(): Promise<void>;
  /** Sends `requests` requests to `/users/random`, all answered. */
  load(requests: number): Promise<void>;
  /** Stops the service (and checks it exits cleanly). */
  stop(): Promise<void>;
}

/**
 * Starts the service with its console and opens a session.
 *
 * @param args Extra `serve` flags.
 * @param options Another checkout of the project to run instead of this
 *   one (a bench grades the `main` branch this way).
 * @returns The service.
 */
export async function startLeakService(
  args: string[] = [],
  options: { root?: string } = {},
): Promise<LeakService> {
  const token = "leaks-" + crypto.randomUUID();
  const serveArgs = ["serve", "--port", "0", "--console-port", "0", ...args];
  const env = { CONSOLE_TOKEN: token };
  const readLeaks = `--allow-read=${LEAKS_DIR.pathname}`;
  const service = await spawnMain(serveArgs, {
    env,
    denoFlags: [readLeaks],
    ...(options.root === undefined ? {} : { root: options.root }),
  });
  const listening = await service.stdout.waitFor(/listening on http/);
  const url = listening.match(/(http:\/\/\S+)/)![1]!;
  const line = await service.stdout.waitFor(/^console listening on /);
  const port = Number(line.match(/:(\d+)$/)![1]);
  const { run, data, close } = await openConsoleSession(port, token);
  const opened = [close];
  let closed = 0;
  let stopped = false;
  return {
    url,
    run,
    data,
    async openSession() {
      const session = await openConsoleSession(port, token);
      opened.push(session.close);
      return session;
    },
    async closedSessions(count) {
      // The service logs each session's end on stderr.
      while (closed < count) {
        await service.stderr.waitFor(/^console session \d+ .*closed$/, 60_000);
        closed++;
      }
    },
    async importModule(file, name) {
      await run(
        `const ${name} = await import(${
          JSON.stringify(new URL(file, LEAKS_DIR).href)
        }); undefined`,
      );
    },
    async hookLookup(hook) {
      await run(
        `var __lookup = __lookup ?? users.lookup; users.lookup = (userId) => { (${hook})(\`\${userId}-\${crypto.randomUUID()}\`); return __lookup(userId); }; undefined`,
      );
    },
    async unhook() {
      await run("if (__lookup) users.lookup = __lookup; undefined");
    },
    async load(requests) {
      const report = await sendLoad(`${url}users/random`, requests, 8);
      assert.equal(report.ok, requests, JSON.stringify(report));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const close of opened) close();
      service.child.kill("SIGTERM");
      await service.finish();
    },
  };
}

/** Opens a console session and says hello with the token. */
async function openConsoleSession(
  port: number,
  token: string,
): Promise<ConsoleSession> {
  const session = await TestConnection.open(port);
  assert.equal((await session.hello(token))?.type, "hello");
  let id = 0;
  // A capture and its analysis may stay silent for a while on a busy
  // machine: replies are awaited with a generous deadline.
  const evaluate = (code: string) => session.eval(++id, code, 300_000);
  const run = async (code: string) => {
    const { final } = await evaluate(code);
    if (final.type !== "result") {
      throw new Error(`${code}\n→ ${JSON.stringify(final)}`);
    }
    return final.value;
  };
  const data = async <T>(code: string): Promise<T> => {
    const { final, before } = await evaluate(
      `console.log(JSON.stringify(await (${code})))`,
    );
    if (final.type !== "result") {
      throw new Error(`${code}\n→ ${JSON.stringify(final)}`);
    }
    const printed = before.flatMap((r: Reply) =>
      r.type === "output" ? [r.text] : []
    );
    return JSON.parse(printed.join(""));
  };
  return { run, data, close: () => session.close() };
}
