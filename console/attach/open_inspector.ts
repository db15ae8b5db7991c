/**
 * Opens a checked target's inspector with SIGUSR1 and waits, with a
 * deadline, until the target itself listens on the inspector's port (read
 * in `/proc`, so a process that took the port meanwhile is never mistaken
 * for it). A target that closes it again at once (the users service's
 * guard does) or never opens it is reported in one line, never waited on
 * forever.
 *
 * @module
 */

import { findConsole } from "../discovery.ts";
import { describeInspectorAddress } from "./inspector_endpoint.ts";
import { portHolders } from "./listening_sockets.ts";
import type { AttachPlan } from "./preflight.ts";
import { stillRunning } from "./process_facts.ts";
import { AttachRefusedError } from "./refusal.ts";
import { runTool } from "./system_tool.ts";

/** When the inspector was seen open. */
export interface OpenedInspector {
  /** `performance.now()` when the signal was sent (or the inspector found open). */
  openedAt: number;
  /** How long the inspector took to listen after the signal, in ms. */
  tookMs: number;
}

/** Options for {@linkcode openInspector}. */
export interface OpenOptions {
  /** How long to wait for the port after the signal; 5 000 ms. */
  timeoutMs?: number;
}

const POLL_MS = 5;

/**
 * Sends SIGUSR1 (with `kill`: `Deno.kill` needs the right to run anything)
 * and waits until the target listens.
 *
 * @param plan What the pre-flight checks found.
 * @param options The deadline.
 * @returns When it opened.
 * @throws {AttachRefusedError} When the target changed since the checks,
 * ended, or did not open its inspector in time.
 */
export async function openInspector(
  plan: AttachPlan,
  options: OpenOptions = {},
): Promise<OpenedInspector> {
  const { target, address } = plan;
  if (plan.alreadyOpen) return { openedAt: performance.now(), tookMs: 0 };
  // The pid may have been reused since the checks: never signal a stranger.
  if (!await stillRunning(target)) {
    throw new AttachRefusedError(
      `pid ${target.pid} ended before it was signalled`,
    );
  }
  const signalledAt = performance.now();
  await sendSigusr1(target.pid);
  const timeoutMs = options.timeoutMs ?? 5_000;
  const where = describeInspectorAddress(address);
  let taken = false;
  while (performance.now() - signalledAt < timeoutMs) {
    const holders = await portHolders(address.port);
    if (holders.pids.includes(target.pid)) {
      return { openedAt: signalledAt, tookMs: performance.now() - signalledAt };
    }
    // Another process listens there (the target's socket would be in its
    // own descriptor table): the target cannot open its inspector.
    if (holders.sockets.length > 0) taken = true;
    if (!await stillRunning(target)) {
      throw new AttachRefusedError(
        `pid ${target.pid} ended after SIGUSR1 (its own output may say why)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new AttachRefusedError(
    await notOpenedMessage(plan, where, timeoutMs, taken),
  );
}

/**
 * The line for a target that did not keep its inspector open, naming its
 * own console when it runs one.
 *
 * @param plan The target.
 * @param where The inspector's address.
 * @param timeoutMs How long attach waited.
 * @param taken Whether another process held the port meanwhile.
 * @returns The message.
 */
export async function notOpenedMessage(
  plan: AttachPlan,
  where: string,
  timeoutMs: number,
  taken = false,
): Promise<string> {
  const pid = plan.target.pid;
  const listed = await findConsole(pid).catch(() => undefined);
  if (listed?.state === "alive") {
    return `pid ${pid} closed the inspector SIGUSR1 opens (it runs a leakwatch console, which refuses it unless started with --allow-inspector-signal): use its own console instead: deno task console --pid ${pid}`;
  }
  if (taken) {
    return `${where} was taken by another process while pid ${pid} opened its inspector: it could not listen there; try again when the port is free`;
  }
  return `pid ${pid} did not keep an inspector open on ${where} within ${
    timeoutMs / 1000
  } s of SIGUSR1; it is still running. It may close it itself (a program embedding the leakwatch console does, unless started with --allow-inspector-signal: use its console, main.ts console --pid ${pid}), or use SIGUSR1 for something else: start it with --inspect=127.0.0.1:9230 and use "attach --inspect 127.0.0.1:9230"`;
}

async function sendSigusr1(pid: number): Promise<void> {
  const { code, stderr } = await runTool("kill", ["-USR1", String(pid)]);
  if (code !== 0) {
    const said = stderr.trim().split("\n")[0];
    throw new AttachRefusedError(
      `kill -USR1 ${pid} failed${said ? `: ${said}` : ""}`,
    );
  }
}
