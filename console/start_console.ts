/**
 * One call to put the live console into a running Deno program: listen,
 * publish the entry clients find it by (`discovery.ts`), give sessions the
 * leak toolkit on first use, and remove every file it made on `close()`, on
 * a normal exit and on stop signals (`exit_cleanup.ts`).
 *
 * @module
 */

import {
  type ConsoleEndpoint,
  CONTROL_CHARACTER,
  describeEndpoint,
  MAX_PROGRAM_CHARS,
  type PublishedEntry,
  publishEntry,
} from "./discovery.ts";
import { onExit } from "./exit_cleanup.ts";
import { guardInspectorSignal } from "./inspector_guard.ts";
import { logToStderr } from "./server/log.ts";
import {
  ConsoleConfigError,
  type ConsoleServer,
  startConsoleServer,
} from "./server/listener.ts";
import { ensurePrivateDirectory, stateDirectory } from "./state_dir.ts";
import { toolkitHooks } from "./toolkit_hooks.ts";

/** Options for {@linkcode startConsole}; every one has a default. */
export interface ConsoleOptions {
  /**
   * The program's name, in the banner (`app.ts console (protocol 2), pid
   * 1234`), the client's `--list` and the start-up line. By default the
   * file name of the main module (`Deno.mainModule`).
   */
  program?: string;
  /**
   * The TCP host; `127.0.0.1` by default. Another host needs `token`:
   * anyone who reaches the console and knows the token runs code in the
   * process.
   */
  host?: string;
  /** The TCP port; `0` by default: the system picks a free one. */
  port?: number;
  /**
   * Listen on this unix socket (mode 0600) instead of TCP. Deno needs
   * `--allow-net=unix:PATH` and read and write on `PATH`. A directory
   * inside `$HOME/.leakwatch` is created (mode 0700) when missing.
   */
  socket?: string;
  /**
   * The token clients must present (at least 16 characters). By default a
   * random 256-bit token is written to an owner-only file that the client
   * reads by itself.
   */
  token?: string;
  /** Most sessions at once; 8 by default. */
  maxSessions?: number;
  /**
   * Who acts on the stop signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR2
   * and the other catchable terminating signals of `exit_signals.ts`):
   *
   * - `"default"` (the default): the console removes its files, then the
   *   signal goes on to what it would have done without the console (its
   *   default action ends the process; a listener of the host's own gets
   *   it as usual). Right for a host that does not listen for them.
   * - `"host"`: the host listens for them itself and calls `close()` in
   *   its shutdown; the console does not listen (its files still go on a
   *   normal exit, `Deno.exit()` included).
   */
  signals?: "default" | "host";
  /**
   * Log one line at start naming the program, the endpoint, the pid and
   * the token file; `true` by default.
   */
  announce?: boolean;
  /** Where the console's lines go (start, sessions, refusals); stderr by default. */
  log?: (line: string) => void;
  /**
   * What to do when SIGUSR1 opens Deno's V8 inspector on 127.0.0.1:9229,
   * where anyone on the machine could run code in the process and read the
   * console's token (docs/security.md):
   *
   * - `"refuse"` (the default): close it as soon as it opens, with one line.
   * - `"allow"`: leave it open, with one line saying who can reach it.
   * - `"host"`: the host guards it itself (the users service does, from
   *   start-up, console or not); the console installs nothing.
   */
  inspectorSignal?: "refuse" | "allow" | "host";
}

/** A running console. */
export interface ConsoleHandle {
  /** The program's name it shows. */
  readonly program: string;
  /** Where it listens (the port actually bound). */
  readonly endpoint: ConsoleEndpoint;
  /** The token file it wrote; `undefined` when the host gave the token. */
  readonly tokenFile: string | undefined;
  /**
   * Its entry in `$HOME/.leakwatch/consoles` (`PID.json`); `undefined`
   * when it could not be written (then `--pid` cannot find it).
   */
  readonly entryFile: string | undefined;
  /** Sessions open now. */
  readonly sessions: number;
  /**
   * Stops listening, ends the sessions, releases the toolkit, and removes
   * the token file, the socket and the entry. Safe to call more than once.
   */
  close(): Promise<void>;
}

/**
 * Starts the live console in this process. Sessions see each property of
 * `namespace` by its bare name, and the whole object as `main`; the leak
 * toolkit (`mem`, `gc`, `heap`, `alloc`, `leak`, ...) loads with the first
 * session. The console never keeps the process alive by itself. One
 * console per process: close it before starting another.
 *
 * @param namespace What sessions can reach: `{ cache, app }` gives `cache`,
 * `app` and `main`.
 * @param options Where to listen, the token, signals; all optional.
 * @returns The running console.
 * @throws {ConsoleConfigError} On an unsafe or impossible configuration
 * (nothing is left listening).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startConsole } from "./start_console.ts";
 * const seen: string[] = [];
 * const console_ = await startConsole({ seen }, {
 *   program: "example.ts",
 *   announce: false,
 *   log: () => {},
 * });
 * assert.ok("port" in console_.endpoint && console_.endpoint.port > 0);
 * await console_.close();
 * ```
 */
export async function startConsole(
  namespace: Record<string, unknown>,
  options: ConsoleOptions = {},
): Promise<ConsoleHandle> {
  if (running !== undefined) {
    throw new ConsoleConfigError(
      `A console already runs in this process (${running}): close it first`,
    );
  }
  running = "starting";
  try {
    const handle = await start(namespace, options);
    running = describeEndpoint(handle.endpoint);
    return handle;
  } catch (error) {
    running = undefined;
    throw error;
  }
}

/**
 * The console of this process, if one runs: one per process, as its entry
 * is named by the pid.
 */
let running: string | undefined;

async function start(
  namespace: Record<string, unknown>,
  options: ConsoleOptions,
): Promise<ConsoleHandle> {
  checkOptions(namespace, options);
  const program = checkProgram(options.program ?? mainModuleName());
  const log = options.log ?? logToStderr;
  if (options.socket !== undefined) {
    await createSocketDirectory(options.socket);
  }
  const server = await startConsoleServer(namespace, {
    host: options.host,
    port: options.port ?? 0,
    socket: options.socket,
    token: options.token,
    maxSessions: options.maxSessions,
    program,
    keepAlive: false,
    log,
    ...toolkitHooks(),
  });
  const endpoint = endpointOf(server);
  let entry: PublishedEntry | undefined;
  try {
    entry = await publishEntry({
      pid: Deno.pid,
      program,
      endpoint,
      ...(server.tokenFile === undefined
        ? {}
        : { tokenFile: server.tokenFile }),
      startedAt: new Date().toISOString(),
    });
  } catch (error) {
    log(
      `${program} console: not listed for --pid and --list (${
        error instanceof Error ? error.message : error
      })`,
    );
  }
  const removeFiles = () => {
    entry?.remove();
    const socket = "socket" in endpoint ? endpoint.socket : undefined;
    for (const file of [server.tokenFile, socket]) {
      if (file === undefined) continue;
      try {
        Deno.removeSync(file);
      } catch {
        // Already gone.
      }
    }
  };
  const unguard = options.inspectorSignal === "host"
    ? () => {}
    : guardInspectorSignal({
      allow: options.inspectorSignal === "allow",
      howToAllow: 'start the console with inspectorSignal: "allow"',
      log,
    });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      unregister();
      unguard();
      try {
        await server.close();
      } finally {
        entry?.remove();
        running = undefined;
      }
    })();
    return closing;
  };
  const unregister = onExit(() => {
    removeFiles();
    // Still running after the signal (a host listener of its own kept
    // the process): nobody can find the console any more, so stop it.
    close();
  }, { signals: options.signals !== "host" });
  if (options.announce !== false) {
    log(
      `${program} console listening on ${
        describeEndpoint(endpoint)
      }, pid ${Deno.pid}${
        server.tokenFile === undefined ? "" : `, token in ${server.tokenFile}`
      }`,
    );
  }
  return {
    program,
    endpoint,
    tokenFile: server.tokenFile,
    entryFile: entry?.path,
    get sessions() {
      return server.sessions;
    },
    close,
  };
}

function endpointOf(server: ConsoleServer): ConsoleEndpoint {
  const addr = server.addr;
  return "path" in addr
    ? { socket: absolutePath(addr.path) }
    : { host: addr.hostname, port: addr.port };
}

/**
 * What TypeScript would have caught, checked for JavaScript callers: one
 * sentence naming the option, before anything listens.
 */
function checkOptions(namespace: unknown, options: ConsoleOptions): void {
  const refuse = (what: string, value: unknown) => {
    let shown: string;
    try {
      shown = typeof value === "function"
        ? "a function"
        : JSON.stringify(value) ?? String(value);
    } catch {
      shown = String(value);
    }
    throw new ConsoleConfigError(`${what}: received ${shown.slice(0, 120)}`);
  };
  if (typeof namespace !== "object" || namespace === null) {
    refuse(
      "The namespace must be an object of what sessions can reach",
      namespace,
    );
  }
  if (typeof options !== "object" || options === null) {
    refuse("The options must be an object", options);
  }
  const { port, maxSessions, signals, log, inspectorSignal } = options;
  if (
    port !== undefined &&
    !(Number.isInteger(port) && port >= 0 && port <= 65535)
  ) {
    refuse("The port must be an integer from 0 to 65535", port);
  }
  if (
    maxSessions !== undefined &&
    !(Number.isInteger(maxSessions) && maxSessions >= 1 && maxSessions <= 1024)
  ) {
    refuse("maxSessions must be an integer from 1 to 1024", maxSessions);
  }
  if (signals !== undefined && signals !== "default" && signals !== "host") {
    refuse('The signals option must be "default" or "host"', signals);
  }
  if (log !== undefined && typeof log !== "function") {
    refuse("The log option must be a function", log);
  }
  if (
    inspectorSignal !== undefined && inspectorSignal !== "refuse" &&
    inspectorSignal !== "allow" && inspectorSignal !== "host"
  ) {
    refuse(
      'The inspectorSignal option must be "refuse", "allow" or "host"',
      inspectorSignal,
    );
  }
  for (const name of ["host", "socket", "token", "program"] as const) {
    const value = options[name];
    if (value !== undefined && typeof value !== "string") {
      refuse(`The ${name} option must be a string`, value);
    }
  }
}

/** The main module's file name, made safe to print. */
function mainModuleName(): string {
  let name = "deno";
  try {
    const path = new URL(Deno.mainModule).pathname;
    name = decodeURIComponent(path.slice(path.lastIndexOf("/") + 1)) || name;
  } catch {
    // No main module (a REPL, an eval): "deno".
  }
  name = name.replace(new RegExp(CONTROL_CHARACTER, "g"), "?");
  return name.slice(0, MAX_PROGRAM_CHARS);
}

function checkProgram(program: unknown): string {
  if (
    typeof program !== "string" || program.trim() === "" ||
    program.length > MAX_PROGRAM_CHARS || CONTROL_CHARACTER.test(program)
  ) {
    throw new ConsoleConfigError(
      `The program name must be 1 to ${MAX_PROGRAM_CHARS} printable characters: received ${
        JSON.stringify(String(program).slice(0, 120))
      }`,
    );
  }
  return program;
}

/** A missing socket directory inside the state directory is made, mode 0700. */
async function createSocketDirectory(socket: string): Promise<void> {
  const path = absolutePath(socket);
  const directory = path.slice(0, path.lastIndexOf("/")) || "/";
  let state: string;
  try {
    state = stateDirectory();
  } catch {
    return;
  }
  if (directory === state || directory.startsWith(`${state}/`)) {
    try {
      await ensurePrivateDirectory(directory);
    } catch (error) {
      throw new ConsoleConfigError(
        `Cannot create the socket directory ${directory}: ${
          error instanceof Error ? error.message : error
        }`,
      );
    }
  }
}

function absolutePath(path: string): string {
  if (path.startsWith("/")) return path;
  try {
    return `${Deno.cwd()}/${path}`;
  } catch {
    return path;
  }
}
