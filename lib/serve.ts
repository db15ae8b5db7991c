/**
 * The `serve` subcommand: the users service over `Deno.serve`, its live
 * console, and a graceful shutdown on SIGINT/SIGTERM/SIGHUP.
 *
 * @module
 */

import type { ConsoleServer, SessionIO } from "../console/server/listener.ts";
import { createApp, serveHandler } from "./app.ts";
import {
  checkServeConfig,
  type ConsoleConfig,
  type ServeConfig,
} from "./config.ts";
import { UsageError } from "./flags.ts";
import { type GuardedServer, serveGuarded } from "./http_server.ts";
import { exposeLeakAlarm, RequestStats } from "./metrics.ts";
import { createNamespace, type Namespace } from "./namespace.ts";
import { signalExitCode, STOP_SIGNALS, StopRequests } from "./stop_signals.ts";
import { cache, createUsers } from "./users.ts";

/** How long in-flight requests get to finish after the first signal. */
export const SHUTDOWN_GRACE_MS = 5_000;

/** A running service. */
export interface Service {
  /** The HTTP address actually bound. */
  addr: Deno.NetAddr;
  /** The console's namespace. */
  namespace: Namespace;
  /** The live console, unless disabled. */
  console: ConsoleServer | null;
  /** Stops accepting, lets in-flight requests finish, closes everything. */
  shutdown(): Promise<void>;
  /** Settles when the HTTP server has stopped. */
  finished: Promise<void>;
}

/**
 * Starts the users service on the configured host and port, using the
 * module-level cache (the case study's).
 *
 * Checks the configuration before anything listens; the console's modules
 * are loaded only when it is on.
 *
 * @param config The parsed configuration.
 * @returns The running service.
 * @throws {UsageError} On a bad configuration or an address that cannot be
 * bound; nothing is left listening.
 */
export async function startService(config: ServeConfig): Promise<Service> {
  // Every check that can fail runs before anything listens; then HTTP and
  // the console bind, and only once both are up is either announced.
  await checkServeConfig(config);
  const users = createUsers({
    cache,
    limit: config.cacheLimit,
    fetchOptions: { delayMs: config.dbDelayMs },
  });
  const requests = new RequestStats();
  const app = createApp({ users, requests });
  const namespace = createNamespace({ app, users, requests, config });

  const server = listen(config, serveHandler(app));
  let consoleServer: ConsoleServer | null = null;
  if (config.console !== null) {
    try {
      consoleServer = await startConsole(namespace, config.console);
    } catch (error) {
      await server.shutdown();
      throw error;
    }
  }
  console.log(
    `users service listening on http://${
      formatHost(server.addr.hostname)
    }:${server.addr.port}/`,
  );
  if (consoleServer !== null) {
    const where = "path" in consoleServer.addr
      ? consoleServer.addr.path
      : `${formatHost(consoleServer.addr.hostname)}:${consoleServer.addr.port}`;
    console.log(`console listening on ${where}`);
    if (consoleServer.tokenFile !== undefined) {
      console.log(`console token in ${consoleServer.tokenFile}`);
    }
  }
  const addr = server.addr;
  const stopLeakAlarm = await startLeakAlarmFor(config);
  let stopping: Promise<void> | undefined;
  return {
    addr,
    namespace,
    console: consoleServer,
    finished: server.finished,
    shutdown() {
      stopping ??= Promise.all([
        server.shutdown(),
        consoleServer?.close(),
        stopLeakAlarm(),
      ]).then(() => {});
      return stopping;
    },
  };
}

/**
 * The leak toolkit, injected into the console: loaded with the first
 * session (a literal specifier, so `deno compile` embeds it), released when
 * the console closes.
 */
function toolkitHooks() {
  let toolkit: Promise<typeof import("../console/toolkit/mod.ts")> | undefined;
  return {
    async scope(io: SessionIO) {
      toolkit ??= import("../console/toolkit/mod.ts");
      const { createToolkit } = await toolkit;
      return createToolkit(io) as unknown as Record<string, unknown>;
    },
    async onClose() {
      if (toolkit !== undefined) await (await toolkit).closeToolkit();
    },
  };
}

/**
 * Starts the console server. Its modules load here, once the configuration
 * is known good: a literal specifier, so `deno compile` still embeds them.
 */
async function startConsole(
  namespace: Namespace,
  config: ConsoleConfig,
): Promise<ConsoleServer> {
  const consoleModule = await import("../console/server/listener.ts");
  try {
    return await consoleModule.startConsoleServer(namespace, {
      host: config.host,
      port: config.port,
      socket: config.socket,
      token: config.token,
      maxSessions: config.maxSessions,
      ...toolkitHooks(),
    });
  } catch (error) {
    if (error instanceof consoleModule.ConsoleConfigError) {
      throw new UsageError(error.message);
    }
    throw error;
  }
}

/**
 * Starts the leak alarm unless `--leak-alarm off`, and exposes it on
 * `/metrics`. Loaded after HTTP listens (a literal specifier, so
 * `deno compile` embeds it).
 *
 * @param config The parsed configuration.
 * @returns Stops the alarm.
 */
async function startLeakAlarmFor(
  config: ServeConfig,
): Promise<() => Promise<void>> {
  if (config.leakAlarm === null) return () => Promise.resolve();
  const { startLeakAlarm } = await import(
    "../console/toolkit/leak_alarm.ts"
  );
  const alarm = startLeakAlarm(config.leakAlarm);
  exposeLeakAlarm(() => alarm.readings());
  return async () => {
    exposeLeakAlarm(undefined);
    await alarm.stop();
  };
}

function listen(
  config: ServeConfig,
  handler: (request: Request) => Response | Promise<Response>,
): GuardedServer {
  try {
    return serveGuarded({
      hostname: config.host,
      port: config.port,
      maxConnections: config.maxConnections,
      headersTimeoutMs: config.headersTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
    }, handler);
  } catch (error) {
    const where = `${config.host}:${config.port}`;
    if (error instanceof Deno.errors.AddrInUse) {
      throw new UsageError(`cannot listen on ${where}: address in use`);
    }
    if (error instanceof Deno.errors.NotCapable) {
      throw new UsageError(
        `cannot listen on ${where}: not permitted (run with --allow-net=${config.host})`,
      );
    }
    if (error instanceof Error) {
      throw new UsageError(`cannot listen on ${where}: ${error.message}`);
    }
    throw error;
  }
}

/**
 * Brackets an IPv6 literal for use in a URL.
 *
 * @param hostname A host name or address.
 * @returns The host as it appears in a URL.
 */
export function formatHost(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/**
 * Runs the service until SIGINT, SIGTERM or SIGHUP, then shuts down
 * gracefully. A second stop request (any stop signal except a copy of the
 * first within `REPEAT_WINDOW_MS` of stop_signals.ts, which `deno task` forwards), or
 * in-flight requests still running after {@linkcode SHUTDOWN_GRACE_MS}, ends
 * the process at once through `exit`.
 *
 * @param config The parsed configuration.
 * @param exit Ends the process (only `main` may call `Deno.exit`).
 * @returns The exit code once shut down: 0.
 */
export async function serve(
  config: ServeConfig,
  exit: (code: number) => never,
): Promise<number> {
  // Listening for stop signals before anything starts: a signal that
  // arrives while the service starts stops it once it is up, rather than
  // killing it by the signal's default action.
  let service: Service | undefined;
  let stopRequested = false;
  const removeListeners = listenForStop(() => {
    stopRequested = true;
    service?.shutdown();
  }, exit);
  try {
    service = await startService(config);
  } catch (error) {
    removeListeners();
    throw error;
  }
  if (stopRequested) service.shutdown();
  await service.finished;
  await service.shutdown();
  removeListeners();
  console.error("users service stopped");
  return 0;
}

/** Turns stop signals into one graceful shutdown, or an exit on a second request. */
function listenForStop(
  stop: () => void,
  exit: (code: number) => never,
): () => void {
  const requests = new StopRequests();
  const onSignal = (signal: Deno.Signal) => () => {
    switch (requests.receive(signal, performance.now())) {
      case "repeat":
        return;
      case "exit":
        console.error(`received ${signal} again: exiting now`);
        exit(signalExitCode(signal));
        return;
      case "stop":
        console.error(`received ${signal}: finishing in-flight requests`);
        Deno.unrefTimer(setTimeout(() => {
          console.error(
            `in-flight requests still running after ${SHUTDOWN_GRACE_MS} ms: exiting`,
          );
          exit(1);
        }, SHUTDOWN_GRACE_MS));
        stop();
    }
  };
  const removers = STOP_SIGNALS.map((signal) => {
    const listener = onSignal(signal);
    Deno.addSignalListener(signal, listener);
    return () => Deno.removeSignalListener(signal, listener);
  });
  return () => {
    for (const remove of removers) remove();
  };
}
