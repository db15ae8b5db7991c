/**
 * The `attach` subcommand: checks the target, opens its inspector, runs
 * the client's REPL, `-e` or piped mode on a {@linkcode RemoteSession}, and
 * whatever ends it (the user, an error, a lost connection, a signal) leaves
 * the target as found.
 *
 * @module
 */

import { ConsoleClientError } from "../client/connection.ts";
import { reportFailure, runSession, writeText } from "../client/run.ts";
import {
  describeInspectorAddress,
  findInspectorTarget,
  type InspectorAddress,
  type InspectorEndpoint,
  isLoopback,
} from "./inspector_endpoint.ts";
import { ATTACH_HELP, type AttachConfig, parseAttachArgs } from "./flags.ts";
import { formatSeconds, leaveTarget } from "./leave_target.ts";
import { listensOn, portHolders } from "./listening_sockets.ts";
import { notOpenedMessage, openInspector } from "./open_inspector.ts";
import {
  type AttachPlan,
  AttachRefusedError,
  checkTarget,
} from "./preflight.ts";
import { ownFacts, readProcess, type Runtime } from "./process_facts.ts";
import { RemoteSession } from "./remote_session.ts";
import { connectWebSocketLink, type WebSocketLink } from "./websocket_link.ts";

export { ATTACH_HELP } from "./flags.ts";

/** A target attached to: what leaving it needs. */
interface Attached {
  /** The pre-flight plan (absent for `--inspect` to a process not seen here). */
  plan?: AttachPlan;
  /** The target's pid, as seen here (or as it reports, without a plan). */
  pid: number;
  /** The endpoint connected to. */
  endpoint: InspectorEndpoint;
  /** The link. */
  link: WebSocketLink;
  /** The session. */
  session: RemoteSession;
  /** `performance.now()` when attach opened the inspector (not when it was open already). */
  openedAt?: number;
  /** How long the inspector took to open after the signal, in ms. */
  tookMs?: number;
}

const SIGNALS = [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
] as const;

/**
 * Runs `main.ts attach …`.
 *
 * @param args The arguments after `attach`.
 * @returns The exit code (see {@linkcode ATTACH_HELP}).
 * @throws {UsageError} On bad flags (the caller prints it, exit 2).
 *
 * @example
 * ```ts ignore
 * import { runAttach } from "./run.ts";
 * Deno.exit(await runAttach(["1234", "-e", "globalThis.cache?.size"]));
 * ```
 */
export async function runAttach(args: string[]): Promise<number> {
  const config = parseAttachArgs(args);
  if (config === "help") {
    writeText(Deno.stdout, ATTACH_HELP);
    return 0;
  }
  const colors = Deno.stdout.isTerminal() && !Deno.noColor &&
    config.json === undefined;
  const interactive = config.eval === undefined && Deno.stdin.isTerminal();
  let attached: Attached;
  try {
    attached = await attach(config, colors);
  } catch (error) {
    return reportFailure(error, config.json);
  }
  const { session } = attached;
  const stop = stopOnSignals(session, attached.pid);
  let code: number;
  try {
    if (interactive) {
      session.info.banner = banner(attached, colors);
    } else {
      say(openNotice(attached));
    }
    code = await Promise.race([
      runSession(session, {
        eval: config.eval,
        json: config.json,
        interactive,
      }),
      stop.stopped,
    ]);
  } finally {
    stop.dispose();
  }
  const left = await leave(attached);
  say(left.line);
  // A target left with its inspector open is a failure, whatever ran.
  return left.closed ? code : Math.max(code, 2);
}

/** Checks, opens, connects and starts the session; leaves the target on any failure. */
async function attach(
  config: AttachConfig,
  colors: boolean,
): Promise<Attached> {
  if (config.pid === undefined) return await attachToInspector(config, colors);
  const plan = await checkTarget(config.pid);
  const opened = await openInspector(plan, { timeoutMs: config.openTimeoutMs });
  const openedAt = plan.alreadyOpen ? undefined : opened.openedAt;
  let link: WebSocketLink | undefined;
  let session: RemoteSession | undefined;
  try {
    const name = `pid ${plan.target.pid}'s inspector`;
    let endpoint: InspectorEndpoint;
    try {
      endpoint = await findInspectorTarget(plan.address, { name });
      link = await connectWebSocketLink(endpoint.url, { name });
    } catch (error) {
      // Open a moment ago, gone now: the target closes it itself.
      if (!await holdsPort(plan)) {
        throw new AttachRefusedError(
          await notOpenedMessage(
            plan,
            describeInspectorAddress(plan.address),
            config.openTimeoutMs,
          ),
        );
      }
      throw error;
    }
    session = await RemoteSession.open(link, {
      pid: plan.target.pid,
      colors,
      help: helpText(plan.target.pid, plan.runtime),
    });
    if (plan.samePidNamespace && session.target.pid !== plan.target.pid) {
      throw new AttachRefusedError(
        `the inspector on ${
          describeInspectorAddress(plan.address)
        } says it is pid ${session.target.pid}, not pid ${plan.target.pid}: not attaching`,
      );
    }
    return {
      plan,
      pid: plan.target.pid,
      endpoint,
      link,
      session,
      openedAt,
      tookMs: plan.alreadyOpen ? undefined : opened.tookMs,
    };
  } catch (error) {
    const left = await leaveTarget({ plan, link, session, openedAt });
    say(left.line);
    throw error;
  }
}

/** `--inspect`: a process started with `--inspect`; no signal, left open. */
async function attachToInspector(
  config: AttachConfig,
  colors: boolean,
): Promise<Attached> {
  const address: InspectorAddress = config.inspect!;
  const where = describeInspectorAddress(address);
  const plan = await planForOpenInspector(address);
  const name = plan === undefined
    ? `the inspector at ${where}`
    : `pid ${plan.target.pid}'s inspector`;
  const endpoint: InspectorEndpoint = config.inspect?.url !== undefined
    ? { ...address, url: config.inspect.url, title: "", scriptUrl: "" }
    : await findInspectorTarget(address, { name });
  const link = await connectWebSocketLink(endpoint.url, { name });
  let session: RemoteSession | undefined;
  try {
    session = await RemoteSession.open(link, {
      pid: plan?.target.pid ?? 0,
      colors,
      help: helpText(plan?.target.pid, plan?.runtime),
    });
    if (
      plan !== undefined && plan.samePidNamespace &&
      session.target.pid !== plan.target.pid
    ) {
      throw new AttachRefusedError(
        `the inspector on ${where} is held by pid ${plan.target.pid} but says it is pid ${session.target.pid}: not attaching`,
      );
    }
    return {
      plan,
      pid: plan?.target.pid ?? session.target.pid,
      endpoint,
      link,
      session,
    };
  } catch (error) {
    await session?.detach().catch(() => []);
    link.close();
    throw error;
  }
}

/** Who holds a loopback inspector's port, when this user can see it. */
async function planForOpenInspector(
  address: InspectorAddress,
): Promise<AttachPlan | undefined> {
  if (!isLoopback(address.host)) return undefined;
  const holders = await portHolders(address.port).catch(() => undefined);
  if (holders === undefined) return undefined;
  if (holders.sockets.length === 0) {
    throw new ConsoleClientError(
      `nothing listens on ${
        describeInspectorAddress(address)
      } (was the target started with --inspect=${
        describeInspectorAddress(address)
      }?)`,
    );
  }
  if (holders.pids.length !== 1) return undefined;
  const target = await readProcess(holders.pids[0]!);
  if (target?.runtime === undefined) return undefined;
  const own = await ownFacts();
  return {
    target,
    runtime: target.runtime,
    address,
    samePidNamespace: target.pidNamespace === own.pidNamespace,
    alreadyOpen: true,
  };
}

async function leave(attached: Attached) {
  const { plan, link, session } = attached;
  if (plan === undefined) {
    await session.detach().catch(() => []);
    link.close();
    return {
      line: `detached from pid ${attached.pid}; its inspector on ${
        describeInspectorAddress(attached.endpoint)
      } stays open, as it was before attach`,
      closed: true,
    };
  }
  return await leaveTarget({
    plan,
    link,
    session,
    openedAt: attached.openedAt,
  });
}

function holdsPort(plan: AttachPlan): Promise<boolean> {
  return listensOn(plan.address.port, plan.target.pid);
}

/** The interactive banner: what, how, and the open port's warning. */
function banner(attached: Attached, colors: boolean): string {
  const { session, endpoint } = attached;
  const where = describeInspectorAddress(endpoint);
  const program = endpoint.scriptUrl ? `: ${endpoint.scriptUrl}` : "";
  const how = attached.tookMs === undefined
    ? "already open"
    : `opened by SIGUSR1 in ${Math.round(attached.tookMs)} ms`;
  const warn = colors ? "\x1b[33mwarning:\x1b[39m" : "warning:";
  const lines = [
    `attached to pid ${attached.pid} (${session.target.runtime} ${session.target.version}${program}) through its V8 inspector on ${where}, ${how}`,
    `${warn} ${openNotice(attached).replace(/^warning: /, "")}`,
  ];
  if (session.target.skipped.length > 0) {
    lines.push(
      `note: the target already has global ${
        session.target.skipped.join(", ")
      }: this session leaves ${
        session.target.skipped.length === 1 ? "it" : "them"
      } alone (no ${session.target.skipped.join(", ")} of its own)`,
    );
  }
  lines.push(
    "This is the target's own global scope: help() lists the session's helpers; Ctrl-C stops a synchronous loop too; .exit or Ctrl-D detaches.",
  );
  return lines.join("\n");
}

/** The one line about the open port, with how long it has been open. */
function openNotice(attached: Attached): string {
  const where = describeInspectorAddress(attached.endpoint);
  if (attached.openedAt === undefined) {
    return `warning: ${where} was open before attach and stays open: anyone on this machine can run code as pid ${attached.pid}`;
  }
  return `warning: while attached, ${where} is open to every local user: anyone on this machine can run code as pid ${attached.pid} (open for ${
    formatSeconds(performance.now() - attached.openedAt)
  } so far; detaching closes it)`;
}

function helpText(pid: number | undefined, runtime?: Runtime): string {
  const modules = runtime === "node"
    ? "in Node, require.cache holds a CommonJS module's exports; process.getBuiltinModule() reaches the built-ins"
    : "in Deno, (await import(Deno.mainModule)) gives the main module's exports";
  return [
    `This session evaluates in ${
      pid ? `pid ${pid}'s` : "the target's"
    } own global scope: what the program put on globalThis is here, its modules' variables are not (${modules}).`,
    "Session (removed again at detach)",
    "  inspect(v, { depth, entries, lines })  show more of a value than a result shows (default 4, 100, all)",
    "  _  _error                              the last value, the last error",
    "  .exit  Ctrl-D                          detach: the inspector is closed again, the target keeps running",
    "  Ctrl-C                                 interrupt an evaluation; a synchronous loop is stopped too",
    "Variables declared here live in the target's global scope; detaching sets them to undefined.",
    "The leak toolkit (mem, gc, count, heap, alloc) is not available in an attached session yet.",
  ].join("\n");
}

/**
 * SIGINT, SIGTERM and SIGHUP end the session (interrupting an evaluation)
 * so the target is left as found before the process exits.
 */
function stopOnSignals(session: RemoteSession, pid: number) {
  const { promise, resolve } = Promise.withResolvers<number>();
  let stopping = false;
  const listeners = SIGNALS.map(([signal, code]) => {
    const listener = () => {
      if (stopping) {
        say(
          `${signal}: still detaching from pid ${pid} (closing its inspector)`,
        );
        return;
      }
      stopping = true;
      say(`${signal}: detaching from pid ${pid}`);
      session.interrupt().catch(() => false).finally(() => resolve(code));
    };
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  return {
    stopped: promise,
    dispose() {
      for (const [signal, listener] of listeners) {
        Deno.removeSignalListener(signal, listener);
      }
    },
  };
}

function say(line: string): void {
  writeText(Deno.stderr, line + "\n");
}
