/**
 * How clients find running consoles: each console started through
 * `console/mod.ts` writes an entry, `$HOME/.leakwatch/consoles/PID.json`
 * (mode 0600, in a 0700 directory), naming its process, program and
 * endpoint, and holds an exclusive lock on it for as long as it runs. The
 * kernel drops that lock when the process ends, however it ends (even
 * `SIGKILL`), so an entry nobody locks is stale: its process is gone. No
 * permission beyond read and write on the state directory is needed to
 * tell; no network, no `/proc`, no signals to other processes.
 *
 * @module
 */

import { ensurePrivateDirectory, stateDirectory } from "./state_dir.ts";
import { isTokenFilePath } from "./token.ts";

/** Where a console listens: a TCP host and port, or a unix socket. */
export type ConsoleEndpoint = { host: string; port: number } | {
  socket: string;
};

/**
 * Names an endpoint for people: `127.0.0.1:40123`, `[::1]:40123` or the
 * socket's path.
 *
 * @param endpoint The endpoint.
 * @returns Its printable form.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeEndpoint } from "./discovery.ts";
 * assert.equal(describeEndpoint({ host: "::1", port: 7 }), "[::1]:7");
 * assert.equal(describeEndpoint({ socket: "/run/c.sock" }), "/run/c.sock");
 * ```
 */
export function describeEndpoint(endpoint: ConsoleEndpoint): string {
  if ("socket" in endpoint) return endpoint.socket;
  const host = endpoint.host.includes(":")
    ? `[${endpoint.host}]`
    : endpoint.host;
  return `${host}:${endpoint.port}`;
}

/** What a console's entry says. */
export interface ConsoleEntry {
  /** The process the console runs in. */
  pid: number;
  /** The program that started it, as the host named it (`app.ts`). */
  program: string;
  /** Where it listens. */
  endpoint: ConsoleEndpoint;
  /** The file its generated token is in; absent when the host gave one. */
  tokenFile?: string;
  /** When it started (ISO 8601). */
  startedAt: string;
}

/** A console entry found on disk, and whether its process still runs. */
export interface ListedConsole {
  /** The pid in the entry's file name. */
  pid: number;
  /** The entry's path. */
  path: string;
  /**
   * `alive`: its process holds the entry's lock. `stale`: nobody does, the
   * process is gone. `invalid`: its process runs but the entry cannot be
   * read as one (never removed).
   */
  state: "alive" | "stale" | "invalid";
  /** The entry, when it could be read. */
  entry?: ConsoleEntry;
  /** Why the entry could not be read, when it could not. */
  problem?: string;
  /** Whether a stale entry was removed (with `removeStale`). */
  removed?: boolean;
}

/** A character that would act on a terminal rather than print. */
// deno-lint-ignore no-control-regex
export const CONTROL_CHARACTER: RegExp = /[\u0000-\u001f\u007f-\u009f]/;

/** Entries longer than this are not read: a real one is a few hundred bytes. */
const MAX_ENTRY_BYTES = 16 * 1024;
/** The longest program name kept; longer ones are cut. */
export const MAX_PROGRAM_CHARS = 100;

/**
 * The directory of the entries, `$HOME/.leakwatch/consoles`.
 *
 * @returns Its path.
 * @throws {Error} When `HOME` cannot be read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { consolesDirectory } from "./discovery.ts";
 * assert.ok(consolesDirectory().endsWith("/.leakwatch/consoles"));
 * ```
 */
export function consolesDirectory(): string {
  return `${stateDirectory()}/consoles`;
}

/**
 * The entry of a process's console.
 *
 * @param pid The process id.
 * @returns `$HOME/.leakwatch/consoles/PID.json`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { entryPath } from "./discovery.ts";
 * assert.ok(entryPath(42).endsWith("/.leakwatch/consoles/42.json"));
 * ```
 */
export function entryPath(pid: number): string {
  return `${consolesDirectory()}/${pid}.json`;
}

/** A published entry: held locked until removed. */
export interface PublishedEntry {
  /** The entry's path. */
  readonly path: string;
  /**
   * Removes the entry and releases its lock, synchronously (it runs in
   * `unload` and signal listeners). Safe to call more than once.
   */
  remove(): void;
}

/**
 * Writes this process's entry and locks it for the process's lifetime. The
 * entry is written under a temporary name, locked, then renamed into place,
 * so a client never sees it unlocked or half written. A stale entry of an
 * earlier process with the same pid is replaced.
 *
 * @param entry What the entry says (its `pid` is this process's).
 * @returns The entry, to remove on close.
 * @throws {Error} When the directory or the file cannot be written or
 * locked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listConsoles, publishEntry } from "./discovery.ts";
 * const published = await publishEntry({
 *   pid: Deno.pid,
 *   program: "example.ts",
 *   endpoint: { host: "127.0.0.1", port: 40123 },
 *   startedAt: new Date().toISOString(),
 * });
 * const mine = (await listConsoles()).find((c) => c.pid === Deno.pid);
 * assert.equal(mine?.state, "alive");
 * assert.equal(mine?.entry?.program, "example.ts");
 * published.remove();
 * ```
 */
export async function publishEntry(
  entry: ConsoleEntry,
): Promise<PublishedEntry> {
  const directory = await ensurePrivateDirectory(consolesDirectory());
  const path = `${directory}/${entry.pid}.json`;
  const temporary = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const file = await Deno.open(temporary, {
    write: true,
    createNew: true,
    mode: 0o600,
  });
  try {
    if (!await file.tryLock(true)) {
      throw new Error(`cannot lock the fresh file ${temporary}`);
    }
    const bytes = new TextEncoder().encode(JSON.stringify(entry) + "\n");
    let written = 0;
    while (written < bytes.length) {
      written += await file.write(bytes.subarray(written));
    }
    await Deno.chmod(temporary, 0o600); // the mode passed the umask
    await Deno.rename(temporary, path);
  } catch (error) {
    file.close();
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
  let removed = false;
  return {
    path,
    remove() {
      if (removed) return;
      removed = true;
      try {
        Deno.removeSync(path);
      } catch {
        // Already gone (a client found it stale after all, or a person).
      }
      try {
        file.close();
      } catch {
        // Already closed.
      }
    },
  };
}

/**
 * Lists the entries in {@linkcode consolesDirectory}, each with whether its
 * process still runs.
 *
 * @param options `removeStale` removes the entries of processes that are
 * gone, with their token files when those are still theirs.
 * @returns The entries, by pid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listConsoles } from "./discovery.ts";
 * assert.ok(Array.isArray(await listConsoles()));
 * ```
 */
export async function listConsoles(
  options: { removeStale?: boolean } = {},
): Promise<ListedConsole[]> {
  const directory = consolesDirectory();
  const pids: number[] = [];
  try {
    for await (const item of Deno.readDir(directory)) {
      const match = item.name.match(/^([1-9]\d{0,9})\.json$/);
      if (match && item.isFile) pids.push(Number(match[1]));
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  pids.sort((a, b) => a - b);
  const listed: ListedConsole[] = [];
  for (const pid of pids) {
    const found = await inspectEntry(pid, options);
    if (found !== undefined) listed.push(found);
  }
  return listed;
}

/**
 * Reads one process's entry.
 *
 * @param pid The process id.
 * @param options `removeStale` removes it if its process is gone.
 * @returns The entry and its state, or `undefined` when there is none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findConsole } from "./discovery.ts";
 * assert.equal(await findConsole(999_999_999), undefined);
 * ```
 */
export function findConsole(
  pid: number,
  options: { removeStale?: boolean } = {},
): Promise<ListedConsole | undefined> {
  return inspectEntry(pid, options);
}

async function inspectEntry(
  pid: number,
  options: { removeStale?: boolean },
): Promise<ListedConsole | undefined> {
  const path = entryPath(pid);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    return { pid, path, state: "invalid", problem: describe(error) };
  }
  let held: boolean;
  let text: string | undefined;
  let problem: string | undefined;
  let written: Date | null = null;
  let inode: number | null = null;
  try {
    try {
      // A shared lock is refused while the console's process holds its
      // exclusive one.
      held = !await file.tryLock(false);
      if (!held) await file.unlock();
    } catch (error) {
      return { pid, path, state: "invalid", problem: describe(error) };
    }
    try {
      const { size, mtime, ino } = await file.stat();
      written = mtime;
      inode = ino;
      if (size > MAX_ENTRY_BYTES) {
        problem = `over ${MAX_ENTRY_BYTES} bytes (${size})`;
      } else {
        const bytes = new Uint8Array(size);
        let read = 0;
        while (read < size) {
          const n = await file.read(bytes.subarray(read));
          if (n === null) break;
          read += n;
        }
        text = new TextDecoder("utf-8", { fatal: true }).decode(
          bytes.subarray(0, read),
        );
      }
    } catch (error) {
      problem = describe(error);
    }
  } finally {
    file.close();
  }
  let entry: ConsoleEntry | undefined;
  if (text !== undefined) {
    try {
      entry = parseEntry(text, pid);
    } catch (error) {
      problem = describe(error);
    }
  }
  const listed: ListedConsole = {
    pid,
    path,
    state: held ? (entry === undefined ? "invalid" : "alive") : "stale",
  };
  if (entry !== undefined) listed.entry = entry;
  if (problem !== undefined) listed.problem = problem;
  if (!held && options.removeStale) {
    listed.removed = await removeStale(path, inode, entry, written);
  }
  return listed;
}

/**
 * Checks an entry's text: JSON of a {@linkcode ConsoleEntry} whose pid is
 * the one in its file name.
 *
 * @param text The entry file's text.
 * @param pid The pid in its name.
 * @returns The entry.
 * @throws {TypeError} Saying what is wrong.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseEntry } from "./discovery.ts";
 * const entry = parseEntry(
 *   '{"pid":7,"program":"app.ts","endpoint":{"host":"127.0.0.1","port":9},"startedAt":"2026-01-01T00:00:00.000Z"}',
 *   7,
 * );
 * assert.deepEqual(entry.endpoint, { host: "127.0.0.1", port: 9 });
 * assert.throws(() => parseEntry("{}", 7), /pid/);
 * ```
 */
export function parseEntry(text: string, pid: number): ConsoleEntry {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TypeError("not JSON");
  }
  if (!isRecord(value)) throw new TypeError("not a JSON object");
  if (value.pid !== pid) {
    throw new TypeError(`its pid is not ${pid}`);
  }
  const program = value.program;
  if (
    typeof program !== "string" || program === "" ||
    program.length > MAX_PROGRAM_CHARS
  ) {
    throw new TypeError(
      `its program is not a name of 1 to ${MAX_PROGRAM_CHARS} characters`,
    );
  }
  const endpoint = parseEndpoint(value.endpoint);
  const tokenFile = value.tokenFile;
  if (
    tokenFile !== undefined &&
    !(typeof tokenFile === "string" && tokenFile.startsWith("/") &&
      tokenFile.length <= 4096)
  ) {
    throw new TypeError("its tokenFile is not an absolute path");
  }
  const startedAt = value.startedAt;
  if (
    typeof startedAt !== "string" || startedAt.length > 40 ||
    Number.isNaN(Date.parse(startedAt))
  ) {
    throw new TypeError("its startedAt is not a date");
  }
  const entry: ConsoleEntry = { pid, program, endpoint, startedAt };
  if (tokenFile !== undefined) entry.tokenFile = tokenFile;
  // Everything in an entry is printed on terminals.
  const texts = [program, describeEndpoint(endpoint), tokenFile ?? ""];
  if (texts.some((text) => CONTROL_CHARACTER.test(text))) {
    throw new TypeError("it holds control characters");
  }
  return entry;
}

function parseEndpoint(value: unknown): ConsoleEndpoint {
  if (isRecord(value)) {
    const { host, port, socket } = value;
    if (
      typeof host === "string" && host !== "" && host.length <= 255 &&
      Number.isInteger(port) && typeof port === "number" && port >= 1 &&
      port <= 65535 && socket === undefined
    ) {
      return { host, port };
    }
    if (
      typeof socket === "string" && socket.startsWith("/") &&
      socket.length <= 4096 && host === undefined && port === undefined
    ) {
      return { socket };
    }
  }
  throw new TypeError(
    "its endpoint is neither {host, port} nor {socket} with an absolute path",
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Removes a stale entry, and its token file when that is still the one the
 * dead process wrote. Token files are named by port: a console that took
 * the same port since wrote its own, after this entry was written, and
 * that one stays.
 */
async function removeStale(
  path: string,
  inode: number | null,
  entry: ConsoleEntry | undefined,
  written: Date | null,
): Promise<boolean> {
  try {
    // A process that reused the pid may have put its own entry there since.
    if ((await Deno.lstat(path)).ino !== inode) return false;
    await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) return false;
  }
  const tokenFile = entry?.tokenFile;
  if (
    tokenFile === undefined || written === null || !isTokenFilePath(tokenFile)
  ) {
    return true; // only ever one of our token files, whatever an entry says
  }
  try {
    const { mtime } = await Deno.lstat(tokenFile);
    if (mtime !== null && mtime <= written) await Deno.remove(tokenFile);
  } catch {
    // Gone already, or not ours to judge.
  }
  return true;
}

function describe(error: unknown): string {
  if (error instanceof Deno.errors.NotCapable) {
    return `not permitted (grant read and write on ${stateDirectory()})`;
  }
  return error instanceof Error ? error.message : String(error);
}
