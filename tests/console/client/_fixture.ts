/**
 * An in-process console server for the client's tests, with a namespace and
 * session bindings that report progress and write in the background.
 *
 * @module
 */

import {
  connectConsole,
  type ConsoleConnection,
} from "../../../console/client/connection.ts";
import {
  type ConsoleServerOptions,
  startConsoleServer,
} from "../../../console/server/listener.ts";

/** The token of every test server. */
export const TOKEN = "client-test-token-0123456789";

/** A running test server and the connections opened to it. */
export interface TestConsole extends AsyncDisposable {
  /** Its port. */
  port: number;
  /** Opens a session. */
  connect(): Promise<ConsoleConnection>;
  /** Stops the server (ending its sessions), leaving clients to notice. */
  stopServer(): Promise<void>;
  /** Closes every connection and the server. */
  close(): Promise<void>;
}

/**
 * Starts a console server on a free port. Sessions see `cache` (a map of
 * two entries), `slow(ms)`, and `work(steps)`, which reports progress.
 *
 * @param options Server options to override.
 * @param namespace Names to add to (or replace in) the namespace.
 * @returns The server.
 */
export async function startTestConsole(
  options: ConsoleServerOptions = {},
  namespace: Record<string, unknown> = {},
): Promise<TestConsole> {
  const server = await startConsoleServer({
    cache: new Map([["a", 1], ["b", 2]]),
    slow: (ms: number) => new Promise((resolve) => setTimeout(resolve, ms, ms)),
    ...namespace,
  }, {
    port: 0,
    token: TOKEN,
    authFailureDelayMs: 10,
    log: () => {},
    scope: (io) => ({
      async work(steps: number) {
        for (let done = 0; done <= steps; done++) {
          io.progress("work", done, steps);
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        return steps;
      },
    }),
    ...options,
  });
  const port = (server.addr as Deno.NetAddr).port;
  const open: ConsoleConnection[] = [];
  const close = async () => {
    for (const connection of open) await connection.close();
    await server.close();
  };
  return {
    port,
    async connect() {
      const connection = await connectConsole({ host: "127.0.0.1", port }, {
        credentials: () => Promise.resolve({ token: TOKEN, source: "--token" }),
      });
      open.push(connection);
      return connection;
    },
    stopServer: () => server.close(),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A listener that accepts connections and never says a word. */
export interface DeafListener extends AsyncDisposable {
  /** Its loopback port. */
  port: number;
}

/**
 * Listens on a loopback port, accepts and holds every connection, and never
 * answers: a hung process, or something that is not a console. Disposing it
 * closes the listener and every held connection.
 */
export function listenDeaf(): DeafListener {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of held) conn.close();
    },
  };
}
