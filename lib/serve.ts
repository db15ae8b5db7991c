/**
 * The `serve` subcommand: the users service over `Deno.serve`, its live
 * console, and a graceful shutdown on every terminating signal it can
 * catch (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR2, ...).
 *
 * @module
 */

import { type ConsoleConfig, UsageError } from "../console/config.ts";
import type { ConsoleHandle } from "../console/mod.ts";
import { createApp, serveHandler } from "./app.ts";
import { checkServeConfig, type ServeConfig } from "./config.ts";
import { type GuardedServer, serveGuarded } from "./http_server.ts";
import { RequestStats } from "./metrics.ts";
import { createNamespace, type Namespace } from "./namespace.ts";
import {
  guardInspectorSignal,
  logToStderr,
  printToStdout,
  signalExitCode,
} from "../console/process.ts";
import { STOP_SIGNALS, StopRequests } from "./stop_signals.ts";
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
  console: ConsoleHandle | null;
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
  const app = createApp({ users, requests, logError: logErrorToStderr });
  const namespace = createNamespace({ app, users, requests, config });

  const server = listen(config, serveHandler(app));
  let consoleServer: ConsoleHandle | null = null;
  if (config.console !== null) {
    try {
      consoleServer = await startConsole(namespace, config.console);
    } catch (error) {
      await server.shutdown();
      throw error;
    }
  }
  printToStdout(
    `users service listening on http://${
      formatHost(server.addr.hostname)
    }:${server.addr.port}/`,
  );
  if (consoleServer !== null) {
    const { describeEndpoint } = await import("../console/mod.ts");
    printToStdout(
      `console listening on ${describeEndpoint(consoleServer.endpoint)}`,
    );
    if (consoleServer.tokenFile !== undefined) {
      printToStdout(`console token in ${consoleServer.tokenFile}`);
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

/** An unexpected error in a request handler, as one never-throwing log entry. */
function logErrorToStderr(error: unknown): void {
  logToStderr(`error: ${Deno.inspect(error)}`);
}

/**
 * Starts the console through the public module, as any host would, with
 * the `serve` command's settings: its own stop-signal handling
 * (`signals: "host"`) and its own start-up lines. The console's modules load
 * here, once the configuration is known good: a literal specifier, so
 * `deno compile` still embeds them.
 */
async function startConsole(
  namespace: Namespace,
  config: ConsoleConfig,
): Promise<ConsoleHandle> {
  const consoleModule = await import("../console/mod.ts");
  try {
    return await consoleModule.startConsole(namespace, {
      program: "leakwatch",
      host: config.host,
      port: config.port,
      socket: config.socket,
      token: config.token,
      maxSessions: config.maxSessions,
      signals: "host",
      // serve guards SIGUSR1 itself, from start-up, console or not.
      inspectorSignal: "host",
      announce: false,
    });
  } catch (error) {
    if (error instanceof consoleModule.ConsoleConfigError) {
      throw new UsageError(error.message);
    }
    throw error;
  }
}

/**
 * Starts the leak alarm unless `--leak-alarm off` (its gauges on `/metrics`
 * read it). Loaded after HTTP listens (a literal specifier, so
 * `deno compile` embeds it).
 *
 * @param config The parsed configuration.
 * @returns Stops the alarm.
 */
async function startLeakAlarmFor(
  config: ServeConfig,
): Promise<() => Promise<void>> {
  if (config.leakAlarm === null) return () => Promise.resolve();
  const { startLeakAlarm } = await import("../console/mod.ts");
  const alarm = await startLeakAlarm({ ...config.leakAlarm, log: logToStderr });
  return () => alarm.stop();
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
 * Runs the service until a stop signal ({@linkcode STOP_SIGNALS}: SIGINT,
 * SIGTERM, SIGHUP, SIGQUIT, SIGUSR2, ...), then shuts down gracefully. A second stop request (any stop signal except a copy of the
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
  // Kept until the process exits: removing it would let the next SIGUSR1
  // open the inspector during the last moments.
  guardInspector(config);
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
  logToStderr("users service stopped");
  return 0;
}

/**
 * Closes the V8 inspector Deno opens on SIGUSR1 unless the operator passed
 * `--allow-inspector-signal` (console/inspector_guard.ts).
 */
function guardInspector(config: ServeConfig): () => void {
  return guardInspectorSignal({
    allow: config.allowInspectorSignal,
    howToAllow: "start with --allow-inspector-signal",
    log: logToStderr,
  });
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
        logToStderr(`received ${signal} again: exiting now`);
        exit(signalExitCode(signal));
        return;
      case "stop":
        logToStderr(`received ${signal}: finishing in-flight requests`);
        Deno.unrefTimer(setTimeout(() => {
          logToStderr(
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
