/**
 * Open handles of this process: Deno's resources (files, sockets, fetch
 * bodies, child processes... everything `Deno.*` opens and `close()`
 * closes) counted by type, and the open file descriptors where a permission
 * allows.
 *
 * Deno's resource table needs no permission: it is read through Deno's
 * internal `core.resources()` (what `Deno.resources()` returned before Deno
 * 2 removed it). `/proc/self/fd` and `/proc/self/limits` are another
 * matter: Deno 2.9 lets only `--allow-all` read `/proc/self` (measured:
 * `--allow-read=/proc/self/fd`, `--allow-read=/proc` and an unscoped
 * `--allow-read` all fail with "Requires all access"). So the descriptor
 * count is `null` under scoped permissions, and what it would add (the
 * descriptors `node:fs`, `node:net` and native libraries open, which are
 * not Deno resources) is invisible there.
 *
 * @module
 */

/** What {@linkcode openHandles} found. */
export interface OpenHandles {
  /** Deno resources open now (stdin, stdout and stderr included). */
  resources: number;
  /** The same by type (`fsFile`, `tcpStream`, `fetchResponse`...). */
  byType: Record<string, number>;
  /** Open file descriptors, or null when `/proc/self/fd` cannot be read. */
  fds: number | null;
  /** The soft limit on open file descriptors, or null when unknown. */
  maxFds: number | null;
  /** Why `fds` is null. */
  fdsProblem?: string;
}

type ResourcesFn = () => Record<string, string>;

let resourcesFn: ResourcesFn | null | undefined;
/** Set once `/proc/self/fd` proved unreadable: permissions do not widen later. */
let fdsProblem: string | undefined;

/** Why descriptors are not counted under scoped permissions. */
export const FDS_NEED_ALL = "Deno 2.9 lets only --allow-all read /proc/self/fd";

/**
 * Counts the open handles.
 *
 * @returns Deno resources by type, and file descriptors when readable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openHandles } from "./process_handles.ts";
 * const before = openHandles();
 * const file = await Deno.open(new URL(import.meta.url));
 * const after = openHandles();
 * file.close();
 * assert.equal(after.resources, before.resources + 1);
 * assert.equal(after.byType.fsFile, (before.byType.fsFile ?? 0) + 1);
 * ```
 */
export function openHandles(): OpenHandles {
  const table = denoResources();
  const byType: Record<string, number> = {};
  let resources = 0;
  for (const name of Object.values(table)) {
    byType[name] = (byType[name] ?? 0) + 1;
    resources++;
  }
  const fds = countFds();
  return {
    resources,
    byType,
    fds,
    maxFds: fds === null ? null : readMaxFds(),
    ...(fds === null ? { fdsProblem } : {}),
  };
}

/** Hints in the developer's terms for the resource types a leak grows. */
const RESOURCE_HINTS: Record<string, string> = {
  fsFile: "files from Deno.open(), Deno.openSync() or Deno.create()",
  tcpStream: "TCP connections (Deno.connect(), or accepted from Deno.listen())",
  tlsStream: "TLS connections (Deno.connectTls(), Deno.startTls())",
  unixStream: "Unix socket connections",
  fetchResponse: "fetch() responses whose body is never read or cancelled",
  httpClient: "clients from Deno.createHttpClient()",
  child: "child processes from new Deno.Command(...).spawn()",
  fsWatcher: "watchers from Deno.watchFs()",
  tcpListener: "listeners from Deno.listen()",
  websocketStream: "WebSocketStream connections",
};

/**
 * Says which kind of code opens a resource type, for the alarm's message.
 *
 * @param type A resource type as Deno names it.
 * @returns e.g. `files from Deno.open(), ...`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeResource } from "./process_handles.ts";
 * assert.match(describeResource("fsFile"), /Deno\.open\(\)/);
 * assert.equal(describeResource("zmq"), `"zmq" resources`);
 * ```
 */
export function describeResource(type: string): string {
  return RESOURCE_HINTS[type] ?? `"${type}" resources`;
}

function denoResources(): Record<string, string> {
  if (resourcesFn === undefined) resourcesFn = findResourcesFn();
  if (resourcesFn === null) return {};
  try {
    return resourcesFn();
  } catch {
    return {};
  }
}

function findResourcesFn(): ResourcesFn | null {
  // Deno.internal is an unregistered symbol: found by its description.
  const symbol = Object.getOwnPropertySymbols(Deno).find((s) =>
    s.description === "Deno.internal"
  );
  const internal = symbol === undefined
    ? undefined
    : (Deno as unknown as Record<symbol, { core?: { resources?: unknown } }>)[
      symbol
    ];
  const fn = internal?.core?.resources;
  return typeof fn === "function" ? fn as ResourcesFn : null;
}

function countFds(): number | null {
  if (fdsProblem !== undefined) return null;
  const path = "/proc/self/fd";
  // Query first: an ungranted read could prompt on a terminal.
  let state: Deno.PermissionState;
  try {
    state = Deno.permissions.querySync({ name: "read", path }).state;
  } catch {
    state = "denied";
  }
  if (state !== "granted") {
    fdsProblem = `no read permission for ${path} (${FDS_NEED_ALL})`;
    return null;
  }
  try {
    let n = 0;
    for (const _ of Deno.readDirSync(path)) n++;
    // The listing's own descriptor was open while it ran.
    return Math.max(0, n - 1);
  } catch (error) {
    const name = (error as Error).name;
    fdsProblem = name === "NotCapable"
      ? FDS_NEED_ALL
      : `${path} unreadable (${name})`;
    return null;
  }
}

function readMaxFds(): number | null {
  try {
    const text = Deno.readTextFileSync("/proc/self/limits");
    const soft = text.match(/^Max open files\s+(\d+|unlimited)/m)?.[1];
    return soft === undefined || soft === "unlimited" ? null : Number(soft);
  } catch {
    return null;
  }
}
