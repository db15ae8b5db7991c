/**
 * An in-process console server for the server's tests: a namespace whose
 * `state.touched` counter proves whether anything ran, the log kept, and
 * helpers to open raw connections and sessions.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type ConsoleServerOptions,
  startConsoleServer,
} from "../../../console/server/listener.ts";
import { TestConnection } from "../_console_client.ts";

/** The token of every test server. */
export const TOKEN = "test-token-0123456789abcdef";

/**
 * A socket path of this run's own (the test task grants it), so two runs on
 * one machine cannot collide.
 *
 * @returns The path.
 */
export function testSocketPath(): string {
  const dir = Deno.env.get("LEAKWATCH_TEST_DIR") ??
    Deno.makeTempDirSync({ prefix: "leakwatch-test-" });
  return `${dir}/console.sock`;
}

/**
 * A namespace whose `touched` counter proves whether anything ran.
 *
 * @returns The namespace.
 */
export function testNamespace(): {
  cache: Map<string, number>;
  state: { touched: number };
  slow: (ms: number) => Promise<unknown>;
} {
  return {
    cache: new Map([["a", 1], ["b", 2]]),
    state: { touched: 0 },
    slow: (ms: number) => new Promise((resolve) => setTimeout(resolve, ms, ms)),
  };
}

/**
 * Starts a console server on a free port with the test token.
 *
 * @param options Options to override.
 * @returns The server, its log and connection helpers; dispose to close.
 */
export async function startTest(options: ConsoleServerOptions = {}) {
  const namespace = testNamespace();
  const logs: string[] = [];
  const server = await startConsoleServer(namespace, {
    port: 0,
    token: TOKEN,
    authFailureDelayMs: 20,
    log: (line) => logs.push(line),
    ...options,
  });
  const port = (server.addr as Deno.NetAddr).port;
  const open: TestConnection[] = [];
  const connect = async () => {
    const connection = await TestConnection.open(port);
    open.push(connection);
    return connection;
  };
  const session = async () => {
    const connection = await connect();
    const hello = await connection.hello(TOKEN);
    assert.equal(hello?.type, "hello");
    return connection;
  };
  return {
    namespace,
    server,
    port,
    logs,
    connect,
    session,
    async [Symbol.asyncDispose]() {
      for (const connection of open) connection.close();
      await server.close();
    },
  };
}

/**
 * Waits until `condition` holds (the server noticed closed connections).
 *
 * @param condition What to wait for.
 * @param timeoutMs How long at most.
 */
export async function settle(
  condition: () => boolean,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("Condition never held");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
