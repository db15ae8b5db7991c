/**
 * The checks before attach signals anything, so that attaching never harms
 * the target: it is a Deno or Node program (not a `deno task` runner, not
 * a tool), it runs, it is ours to signal, it shares our network, its
 * inspector port is free or already its own, and it has a SIGUSR1 handler
 * (a young Deno process has none yet, and SIGUSR1 kills it). Each refusal
 * is one line saying why and what to do instead.
 *
 * @module
 */

import {
  DEFAULT_INSPECTOR_PORT,
  type InspectorAddress,
} from "./inspector_endpoint.ts";
import { portHolders } from "./listening_sockets.ts";
import {
  childrenOf,
  environmentVariable,
  maySignal,
  type ProcessFacts,
  readProcess,
  readProcesses,
  type Runtime,
  selfFacts,
} from "./process_facts.ts";
import { AttachRefusedError } from "./refusal.ts";

export { AttachRefusedError } from "./refusal.ts";

/** What the checks found: how to reach the target's inspector. */
export interface AttachPlan {
  /** The target as `ps` showed it. */
  target: ProcessFacts;
  /** Its runtime. */
  runtime: Runtime;
  /** Where its inspector listens (or will, after SIGUSR1). */
  address: InspectorAddress;
  /**
   * Whether the target shares this process's pid namespace, so the pid it
   * reports for itself can be checked against this one.
   */
  samePidNamespace: boolean;
  /**
   * The inspector was open before attach (started with `--inspect`, or
   * left open): no signal is sent, and it is left open at detach.
   */
  alreadyOpen: boolean;
}

/** Deno subcommands that run no program of the user's. */
const DENO_TOOLS = new Set([
  "add",
  "cache",
  "check",
  "clean",
  "compile",
  "completions",
  "coverage",
  "doc",
  "fmt",
  "info",
  "init",
  "install",
  "lint",
  "lsp",
  "outdated",
  "publish",
  "remove",
  "task",
  "types",
  "uninstall",
  "upgrade",
]);

/**
 * Checks that attaching to `pid` is safe and possible, without touching it.
 *
 * @param pid The target.
 * @returns How to reach its inspector.
 * @throws {AttachRefusedError} With the reason, when it is not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkTarget } from "./preflight.ts";
 * await assert.rejects(checkTarget(0x7fffffff), /no process with pid 2147483647/);
 * await assert.rejects(checkTarget(Deno.pid), /is this attach process itself/);
 * ```
 */
export async function checkTarget(pid: number): Promise<AttachPlan> {
  if (pid === Deno.pid) {
    throw new AttachRefusedError(`pid ${pid} is this attach process itself`);
  }
  // Read at once: each is a few ps/ss runs, and a busy machine makes them slow.
  const defaultHolders = portHolders(DEFAULT_INSPECTOR_PORT);
  defaultHolders.catch(() => {});
  const read = await readProcesses([pid, Deno.pid]);
  const target = read.get(pid);
  const own = selfFacts(read.get(Deno.pid));
  if (target === undefined) {
    throw new AttachRefusedError(`no process with pid ${pid}`);
  }
  if (target.state === "Z") {
    throw new AttachRefusedError(
      `pid ${pid} has exited (a zombie its parent has not reaped)`,
    );
  }
  if (target.state === "T" || target.state === "t") {
    throw new AttachRefusedError(
      `pid ${pid} is stopped (SIGSTOP or a debugger): it could not answer; continue it first (kill -CONT ${pid})`,
    );
  }
  if (!maySignal(own.uids, target.uids)) {
    throw new AttachRefusedError(
      `pid ${pid} belongs to uid ${target.uids.real}, and this is uid ${own.uids.real}: only its user (or root) may signal it; run attach as that user`,
    );
  }
  const runtime = target.runtime;
  if (runtime === undefined) {
    throw new AttachRefusedError(
      `pid ${pid} runs ${target.exe}, which is neither Deno nor Node: SIGUSR1 would open no inspector there and might end it (a program made by deno compile has no SIGUSR1 inspector either)`,
    );
  }
  await refuseDenoTools(target, runtime);
  if (target.netNamespace !== own.netNamespace) {
    throw new AttachRefusedError(
      `pid ${pid} is in another network namespace (a container?): its inspector port is not reachable from here; run attach inside it`,
    );
  }
  const address = {
    host: "127.0.0.1",
    port: runtime === "node"
      ? await nodeInspectorPort(target)
      : DEFAULT_INSPECTOR_PORT,
  };
  const samePidNamespace = target.pidNamespace === own.pidNamespace;
  const holders = address.port === DEFAULT_INSPECTOR_PORT
    ? await defaultHolders
    : await portHolders(address.port);
  if (holders.pids.includes(pid)) {
    return { target, runtime, address, samePidNamespace, alreadyOpen: true };
  }
  if (holders.sockets.length > 0) {
    throw new AttachRefusedError(
      `port ${address.port}, where pid ${pid} would open its inspector, is taken by ${await describeHolders(
        holders.pids,
      )}: the target would fail to open it; stop that process or wait until it is free`,
    );
  }
  if (!target.catchesSigusr1) {
    throw new AttachRefusedError(noHandlerMessage(target, runtime));
  }
  return { target, runtime, address, samePidNamespace, alreadyOpen: false };
}

/**
 * Refuses a `deno task` runner or a Deno tool: they run no program of the
 * user's (the task's program is their child).
 */
async function refuseDenoTools(
  target: ProcessFacts,
  runtime: Runtime,
): Promise<void> {
  if (runtime !== "deno") return;
  const subcommand = target.argv[1];
  if (subcommand === undefined || !DENO_TOOLS.has(subcommand)) return;
  const children = await childrenOf(target.pid);
  const hint = subcommand === "task" && children.length > 0
    ? `: the task's program is ${
      children.length === 1 ? "pid" : "one of pids"
    } ${children.join(", ")}`
    : "";
  throw new AttachRefusedError(
    `pid ${target.pid} is "deno ${subcommand}", which runs no program of yours${hint}`,
  );
}

function noHandlerMessage(target: ProcessFacts, runtime: Runtime): string {
  const alternative =
    `start it with --inspect=127.0.0.1:9230 and use "attach --inspect 127.0.0.1:9230"`;
  const age = `${Math.round(target.ageMs / 1000)} s`;
  if (runtime === "deno") {
    return `pid ${target.pid} (Deno, started ${age} ago) has not installed its SIGUSR1 handler (Deno does once the main module has run: a process in its first second, or still in its top-level code, has none; nor has Deno before 2.9.2): a signal now would kill it; try again in a moment, or ${alternative}`;
  }
  return `pid ${target.pid} (Node, started ${age} ago) has no SIGUSR1 handler (ps -o caught shows bit 10 clear): the signal would kill it; ${alternative}`;
}

/**
 * The port a Node process opens its inspector on at SIGUSR1: its
 * `--inspect-port` (command line or `NODE_OPTIONS`), else 9229.
 */
async function nodeInspectorPort(target: ProcessFacts): Promise<number> {
  const nodeOptions =
    (await environmentVariable(target.pid, "NODE_OPTIONS"))?.split(/\s+/) ??
      [];
  // Node's own options come before the script; the script's after it.
  const script = target.argv.findIndex((word, i) =>
    i > 0 && !word.startsWith("-")
  );
  const options = [
    ...nodeOptions,
    ...target.argv.slice(1, script === -1 ? undefined : script),
  ];
  let port = DEFAULT_INSPECTOR_PORT;
  for (let i = 0; i < options.length; i++) {
    const match = /^--(?:inspect-port|debug-port)(?:=(.*))?$/.exec(options[i]!);
    if (match === null) continue;
    const value = match[1] ?? options[i + 1] ?? "";
    const digits = /(?:^|:)(\d{1,5})$/.exec(value)?.[1];
    if (digits !== undefined && Number(digits) > 0 && Number(digits) < 65536) {
      port = Number(digits);
    }
  }
  return port;
}

async function describeHolders(pids: number[]): Promise<string> {
  if (pids.length === 0) {
    return "a process this user cannot see (another user's)";
  }
  const names: string[] = [];
  for (const pid of pids.slice(0, 3)) {
    const facts = await readProcess(pid).catch(() => undefined);
    const program = facts?.argv.slice(0, 3).join(" ").slice(0, 80);
    names.push(program ? `pid ${pid} (${program})` : `pid ${pid}`);
  }
  return names.join(", ");
}
