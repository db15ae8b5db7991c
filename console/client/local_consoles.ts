/**
 * The consoles this user runs, found by their entries
 * (`console/discovery.ts`): `--list` prints them, `--pid` connects to one.
 *
 * @module
 */

import {
  type ConsoleEndpoint,
  describeEndpoint,
  findConsole,
  type ListedConsole,
} from "../discovery.ts";
import { renderTable } from "../toolkit/report.ts";
import { ConsoleClientError } from "./connection.ts";

/**
 * Where the console of process `pid` listens, from its entry. A stale
 * entry (its process is gone) is removed on the way.
 *
 * @param pid The process id.
 * @returns Its console's endpoint.
 * @throws {ConsoleClientError} When there is no entry, it is stale, or it
 * cannot be read: the message says which, and what to run instead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { endpointOfPid } from "./local_consoles.ts";
 * await assert.rejects(endpointOfPid(4_000_000), /no console in process 4000000/);
 * ```
 */
export async function endpointOfPid(pid: number): Promise<ConsoleEndpoint> {
  let found: ListedConsole | undefined;
  try {
    found = await findConsole(pid, { removeStale: true });
  } catch (error) {
    throw new ConsoleClientError(
      `cannot look for the console of process ${pid}: ${
        error instanceof Error ? error.message : error
      }`,
    );
  }
  if (found === undefined) {
    throw new ConsoleClientError(
      `no console in process ${pid}: no entry ${
        pidEntryName(pid)
      } (--list shows the consoles running)`,
    );
  }
  if (found.state === "stale") {
    throw new ConsoleClientError(
      `no console in process ${pid}: the process is gone and left its entry ${found.path} behind (${
        found.removed ? "removed now" : "it could not be removed"
      })`,
    );
  }
  if (found.entry === undefined) {
    throw new ConsoleClientError(
      `cannot read the entry ${found.path} of process ${pid}: ${found.problem}`,
    );
  }
  return found.entry.endpoint;
}

function pidEntryName(pid: number): string {
  return `$HOME/.leakwatch/consoles/${pid}.json`;
}

/**
 * The `--list` table: one row per entry, stale ones marked with what was
 * done about them.
 *
 * @param listed The entries, from `listConsoles`.
 * @returns The table and a final newline, or a sentence when there are none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderConsoleList } from "./local_consoles.ts";
 * const text = renderConsoleList([{
 *   pid: 4242,
 *   path: "/home/u/.leakwatch/consoles/4242.json",
 *   state: "alive",
 *   entry: {
 *     pid: 4242,
 *     program: "app.ts",
 *     endpoint: { host: "127.0.0.1", port: 40123 },
 *     startedAt: "2026-12-07T10:00:01.250Z",
 *   },
 * }]);
 * assert.equal(
 *   text,
 *   " pid  program  endpoint         state  started\n" +
 *     "----  -------  ---------------  -----  --------------------\n" +
 *     "4242  app.ts   127.0.0.1:40123  alive  2026-12-07T10:00:01Z\n",
 * );
 * ```
 */
export function renderConsoleList(listed: readonly ListedConsole[]): string {
  if (listed.length === 0) return "no consoles running\n";
  return renderTable(listed, [
    { title: "pid", cell: (c) => String(c.pid), right: true },
    { title: "program", cell: (c) => c.entry?.program ?? "?" },
    {
      title: "endpoint",
      cell: (c) => c.entry ? describeEndpoint(c.entry.endpoint) : "?",
    },
    { title: "state", cell: describeState },
    {
      title: "started",
      cell: (c) => c.entry?.startedAt.replace(/\.\d+Z$/, "Z") ?? "",
    },
  ]) + "\n";
}

function describeState(listed: ListedConsole): string {
  switch (listed.state) {
    case "alive":
      return "alive";
    case "stale":
      return listed.removed ? "stale (removed)" : "stale";
    case "invalid":
      return `unreadable: ${listed.problem ?? "unknown"}`;
  }
}

/**
 * One entry as a JSON line (`--list --json`): `pid`, `state`, and what the
 * entry says (`program`, `endpoint`, `tokenFile`, `startedAt`), `removed`
 * for a stale one, `problem` for an unreadable one.
 *
 * @param listed One entry.
 * @returns The line, without its newline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { consoleListLine } from "./local_consoles.ts";
 * const line = consoleListLine({ pid: 7, path: "/x/7.json", state: "stale", removed: true });
 * assert.deepEqual(JSON.parse(line), { pid: 7, state: "stale", removed: true });
 * ```
 */
export function consoleListLine(listed: ListedConsole): string {
  return JSON.stringify({
    pid: listed.pid,
    state: listed.state,
    ...(listed.entry === undefined ? {} : {
      program: listed.entry.program,
      endpoint: listed.entry.endpoint,
      tokenFile: listed.entry.tokenFile,
      startedAt: listed.entry.startedAt,
    }),
    removed: listed.removed,
    problem: listed.problem,
  });
}
