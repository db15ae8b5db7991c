/**
 * The `serve` subcommand: the users service over `Deno.serve`, its live
 * console, and a graceful shutdown on SIGINT/SIGTERM.
 *
 * @module
 */

import type { ConsoleServer } from "../console/server/listener.ts";
import { createApp, serveHandler } from "./app.ts";
import { type ServeConfig } from "./config.ts";
import { UsageError } from "./flags.ts";
import { exposeLeakAlarm, RequestStats } from "./metrics.ts";
import { createNamespace, type Namespace } from "./namespace.ts";
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
 * The console's modules are loaded only when it is on, once HTTP listens.
 *
 * @param config The parsed configuration.
 * @returns The running service.
 * @throws {UsageError} When the address cannot be bound.
 */
export async function startService(config: ServeConfig): Promise<Service> {
  const users = createUsers({
    cache,
    limit: config.cacheLimit,
    fetchOptions: { delayMs: config.dbDelayMs },
  });
  const requests = new RequestStats();
  const app = createApp({ users, requests });
  const namespace = createNamespace({ app, users, requests, config });

  const server = listen(config, serveHandler(app));
  const addr = server.addr;
  console.log(
    `users service listening on http://${
      formatHost(addr.hostname)
    }:${addr.port}/`,
  );
  let consoleServer: ConsoleServer | null = null;
  if (config.console !== null) {
    let consoleModule:
      | typeof import("../console/server/listener.ts")
      | undefined;
    try {
      // Loaded only when the console is on, after HTTP is up. A literal
      // specifier, so `deno compile` still embeds it.
      consoleModule = await import("../console/server/listener.ts");
      consoleServer = await consoleModule.startConsoleServer(namespace, {
        host: config.console.host,
        port: config.console.port,
        socket: config.console.socket,
        token: config.console.token,
        maxSessions: config.console.maxSessions,
      });
    } catch (error) {
      await server.shutdown();
      if (
        consoleModule !== undefined &&
        error instanceof consoleModule.ConsoleConfigError
      ) {
        throw new UsageError(error.message);
      }
      throw error;
    }
    const where = "path" in consoleServer.addr
      ? consoleServer.addr.path
      : `${formatHost(consoleServer.addr.hostname)}:${consoleServer.addr.port}`;
    console.log(`console listening on ${where}`);
    if (consoleServer.tokenFile !== undefined) {
      console.log(`console token in ${consoleServer.tokenFile}`);
    }
  }
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
  const heapLimit = (await import("node:v8")).default.getHeapStatistics()
    .heap_size_limit;
  exposeLeakAlarm(() => ({
    floorBytes: alarm.latest?.bytes ?? NaN,
    growthBytesPerSecond: alarm.detector.assessment.bytesPerSecond,
    suspected: alarm.detector.suspected,
    samples: alarm.samplesTotal,
    heapLimitBytes: heapLimit,
  }));
  return async () => {
    exposeLeakAlarm(undefined);
    await alarm.stop();
  };
}

function listen(
  config: ServeConfig,
  handler: Deno.ServeHandler,
): Deno.HttpServer<Deno.NetAddr> {
  try {
    return Deno.serve({
      hostname: config.host,
      port: config.port,
      onListen() {},
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
 * Runs the service until SIGINT or SIGTERM, then shuts down gracefully.
 * A second signal, or in-flight requests still running after
 * {@linkcode SHUTDOWN_GRACE_MS}, ends the process at once through `exit`.
 *
 * @param config The parsed configuration.
 * @param exit Ends the process (only `main` may call `Deno.exit`).
 * @returns The exit code once shut down: 0.
 */
export async function serve(
  config: ServeConfig,
  exit: (code: number) => never,
): Promise<number> {
  const service = await startService(config);
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const onSignal = (signal: Deno.Signal) => () => {
    if (stopping) {
      console.error(`received ${signal} again: exiting now`);
      exit(signal === "SIGINT" ? 130 : 143);
    }
    console.error(`received ${signal}: finishing in-flight requests`);
    stopping = true;
    Deno.unrefTimer(setTimeout(() => {
      console.error(
        `in-flight requests still running after ${SHUTDOWN_GRACE_MS} ms: exiting`,
      );
      exit(1);
    }, SHUTDOWN_GRACE_MS));
    service.shutdown();
  };
  let stopping = false;
  const listeners = signals.map((signal) => {
    const listener = onSignal(signal);
    Deno.addSignalListener(signal, listener);
    return () => Deno.removeSignalListener(signal, listener);
  });
  await service.finished;
  await service.shutdown();
  for (const remove of listeners) remove();
  console.error("users service stopped");
  return 0;
}
