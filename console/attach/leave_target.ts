/**
 * Leaves the target as it was found: the session's traces removed (see
 * `RemoteSession.detach`), and the inspector attach opened closed again
 * from inside the target, then checked closed in `/proc`; an inspector that
 * was open before attach stays open. The outcome is one line, with how long
 * the port was open to every local user.
 *
 * @module
 */

import type { AttachPlan } from "./preflight.ts";
import {
  describeInspectorAddress,
  findInspectorTarget,
} from "./inspector_endpoint.ts";
import { listensOn } from "./listening_sockets.ts";
import { stillRunning } from "./process_facts.ts";
import type { RemoteSession } from "./remote_session.ts";
import { connectWebSocketLink, type WebSocketLink } from "./websocket_link.ts";

/** What leaving did. */
export interface LeaveOutcome {
  /** The one line to print. */
  line: string;
  /** Whether the port is closed now (or was never ours to close). */
  closed: boolean;
  /** How long the inspector was open, in ms (when attach opened it). */
  openMs?: number;
}

/** Options for {@linkcode leaveTarget}. */
export interface LeaveOptions {
  /** The pre-flight plan. */
  plan: AttachPlan;
  /** The link, if one was opened (it is closed here). */
  link?: WebSocketLink;
  /** The session, if one was started (it is detached here). */
  session?: RemoteSession;
  /** `performance.now()` when the inspector was opened. */
  openedAt?: number;
  /** How long to wait for the port to close; 5 000 ms. */
  timeoutMs?: number;
}

/**
 * The expression that closes the target's inspector from inside:
 * `process.getBuiltinModule` (Deno, Node ≥ 20.16) or the command line's
 * `require` (older Node), so it runs in one turn, without `import()` (which
 * Node refuses inside `Runtime.evaluate` of an ES module).
 */
export const CLOSE_INSPECTOR_EXPRESSION =
  `(globalThis.process?.getBuiltinModule?.("node:inspector") ?? require("inspector")).close()`;

const POLL_MS = 10;

/**
 * Detaches the session and, when attach opened the inspector, closes it
 * and checks that the port is closed.
 *
 * @param options The plan, the link, the session and when it opened.
 * @returns The outcome and its line.
 */
export async function leaveTarget(
  options: LeaveOptions,
): Promise<LeaveOutcome> {
  const { plan, session, openedAt } = options;
  const pid = plan.target.pid;
  const where = describeInspectorAddress(plan.address);
  const released = session === undefined ? [] : await session.detach();
  const releasedNote = released.length === 0
    ? ""
    : `; session variables released: ${released.join(", ")}`;
  if (plan.alreadyOpen) {
    options.link?.close();
    return {
      line:
        `detached from pid ${pid}; its inspector on ${where} stays open, as it was before attach${releasedNote}`,
      closed: true,
    };
  }
  const timeoutMs = options.timeoutMs ?? 5_000;
  const deadline = performance.now() + timeoutMs;
  let link = options.link;
  if (!await stillRunning(plan.target)) {
    link?.close();
    return { line: `pid ${pid} has exited: nothing left open`, closed: true };
  }
  if (await holdsPort(plan)) {
    if (link === undefined || link.closed) {
      // Lost (or never made): a new link to close it with.
      link = await reconnect(plan, deadline).catch(() => undefined);
    }
    if (link !== undefined && !link.closed) {
      // The target drops the connection as it closes: no answer comes.
      link.post("Runtime.evaluate", {
        expression: CLOSE_INSPECTOR_EXPRESSION,
        includeCommandLineAPI: true,
        silent: true,
      }, { timeoutMs: Math.max(0, deadline - performance.now()) })
        .catch(() => {});
      await Promise.race([
        link.finished(),
        new Promise((resolve) =>
          setTimeout(resolve, Math.max(0, deadline - performance.now()))
        ),
      ]);
    }
  }
  link?.close();
  while (await holdsPort(plan) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const open = await holdsPort(plan);
  const openMs = openedAt === undefined
    ? undefined
    : performance.now() - openedAt;
  const duration = openMs === undefined ? "" : ` for ${formatSeconds(openMs)}`;
  if (open) {
    return {
      line:
        `warning: could not close pid ${pid}'s inspector: ${where} stays open to every local user (anyone on this machine can run code as pid ${pid}) until the process exits; it has been open${duration}`,
      closed: false,
      openMs,
    };
  }
  return {
    line:
      `detached from pid ${pid}: its inspector is closed again (${where} was open to local users${duration})${releasedNote}`,
    closed: true,
    openMs,
  };
}

/**
 * Seconds with one decimal (two below one second).
 *
 * @param ms Milliseconds.
 * @returns E.g. `12.3 s`, `0.42 s`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatSeconds } from "./leave_target.ts";
 * assert.equal(formatSeconds(12_345), "12.3 s");
 * assert.equal(formatSeconds(420), "0.42 s");
 * ```
 */
export function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return `${seconds < 1 ? seconds.toFixed(2) : seconds.toFixed(1)} s`;
}

function holdsPort(plan: AttachPlan): Promise<boolean> {
  return listensOn(plan.address.port, plan.target.pid);
}

async function reconnect(
  plan: AttachPlan,
  deadline: number,
): Promise<WebSocketLink> {
  const remaining = () => Math.max(1, deadline - performance.now());
  const endpoint = await findInspectorTarget(plan.address, {
    timeoutMs: remaining(),
  });
  return await connectWebSocketLink(endpoint.url, {
    connectTimeoutMs: remaining(),
    name: `pid ${plan.target.pid}'s inspector`,
  });
}
