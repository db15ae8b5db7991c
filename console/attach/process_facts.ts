/**
 * What the system tells about a process before anything touches it: its
 * executable and runtime, command line, state, owner, age and start time,
 * namespaces, and whether it catches SIGUSR1, read with `ps` and
 * `readlink` (see system_tool.ts for why not `/proc` directly). Nothing
 * here signals or opens the process.
 *
 * @module
 */

import { runTool } from "./system_tool.ts";

/** The runtimes whose inspector attach can open and drive. */
export type Runtime = "deno" | "node";

/** A process's user ids, which decide who may signal it. */
export interface Uids {
  /** Real uid. */
  real: number;
  /** Effective uid. */
  effective: number;
  /** Saved uid. */
  saved: number;
}

/** A process as `ps` shows it. */
export interface ProcessFacts {
  /** Its pid. */
  pid: number;
  /** Its executable, when this user may read it; else its command name. */
  exe: string;
  /** The runtime its executable (or command) name says, if Deno or Node. */
  runtime: Runtime | undefined;
  /** Its command line, split on spaces (as `ps` shows it). */
  argv: string[];
  /** Its state letter: `S`, `R`, `Z` (zombie), `T` (stopped), ... */
  state: string;
  /** Its user ids. */
  uids: Uids;
  /** When it started (tells a reused pid apart, to the second). */
  started: string;
  /** How long it has been running, in ms (to the second). */
  ageMs: number;
  /** Its network namespace's inode. */
  netNamespace: string;
  /** Its pid namespace's inode. */
  pidNamespace: string;
  /** Whether it has a handler for SIGUSR1 (bit 10 of its caught mask). */
  catchesSigusr1: boolean;
}

/** SIGUSR1's number on Linux. */
export const SIGUSR1 = 10;

const FIELDS =
  "pid=,stat=,ruid=,euid=,suid=,etimes=,caught=,netns=,pidns=,lstart=";

/**
 * Reads a process's facts.
 *
 * @param pid The process.
 * @returns Its facts, or `undefined` when there is no such process.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readProcess } from "./process_facts.ts";
 * const self = await readProcess(Deno.pid);
 * assert.equal(self?.runtime, "deno");
 * assert.equal(typeof self?.catchesSigusr1, "boolean");
 * assert.equal(await readProcess(4_194_303), undefined);
 * ```
 */
export async function readProcess(
  pid: number,
): Promise<ProcessFacts | undefined> {
  return (await readProcesses([pid])).get(pid);
}

/**
 * Reads several processes' facts with two `ps` runs in all (each `ps` reads
 * all of `/proc`: on a busy machine one run takes tens of ms).
 *
 * @param pids The processes.
 * @returns Their facts by pid; a pid with no process is missing.
 */
export async function readProcesses(
  pids: number[],
): Promise<Map<number, ProcessFacts>> {
  const list = pids.join(",");
  const [fields, args, ...exes] = await Promise.all([
    runTool("ps", ["-o", FIELDS, "-p", list]),
    runTool("ps", ["-ww", "-o", "pid=,args=", "-p", list]),
    ...pids.map((pid) => runTool("readlink", ["-n", `/proc/${pid}/exe`])),
  ]);
  const argvs = new Map<number, string[]>();
  for (const line of args.stdout.split("\n")) {
    const [pid, ...words] = line.trim().split(/\s+/);
    if (pid !== undefined && /^\d+$/.test(pid)) argvs.set(Number(pid), words);
  }
  const facts = new Map<number, ProcessFacts>();
  for (const line of fields.stdout.split("\n")) {
    const match = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (match === null) continue;
    const pid = Number(match[1]);
    const parsed = parseFields(match[2]!);
    const index = pids.indexOf(pid);
    if (parsed === undefined || index === -1) continue;
    const argv = argvs.get(pid) ?? [];
    const exe = exes[index]!;
    // Another user's executable cannot be read: the command line says.
    const name = exe.code === 0 && exe.stdout !== ""
      ? exe.stdout
      : argv[0] ?? "?";
    facts.set(pid, {
      pid,
      exe: name,
      runtime: runtimeOf(name),
      argv,
      ...parsed,
    });
  }
  return facts;
}

/**
 * Parses one line of `ps -o stat=,ruid=,euid=,suid=,etimes=,caught=,
 * netns=,pidns=,lstart=`.
 *
 * @param line The line.
 * @returns The fields, or `undefined` when the line is not such a line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFields } from "./process_facts.ts";
 * const facts = parseFields(
 *   "Sl    1000  1000  1000      34 0000000100004643 4026531833 4026531836 Sun Dec  6 14:36:40 2026",
 * );
 * assert.equal(facts?.state, "S");
 * assert.equal(facts?.catchesSigusr1, true);
 * assert.equal(facts?.ageMs, 34_000);
 * assert.equal(facts?.started, "Sun Dec 6 14:36:40 2026");
 * ```
 */
export function parseFields(
  line: string,
): Omit<ProcessFacts, "pid" | "exe" | "runtime" | "argv"> | undefined {
  const words = line.trim().split(/\s+/);
  if (words.length < 13) return undefined;
  const [stat, real, effective, saved, etimes, caught, net, pidns] = words;
  const numbers = [real, effective, saved, etimes].map(Number);
  if (numbers.some((n) => !Number.isInteger(n))) return undefined;
  return {
    state: stat!.slice(0, 1),
    uids: { real: numbers[0]!, effective: numbers[1]!, saved: numbers[2]! },
    ageMs: numbers[3]! * 1000,
    catchesSigusr1: maskHas(caught!, SIGUSR1),
    netNamespace: net!,
    pidNamespace: pidns!,
    started: words.slice(8).join(" "),
  };
}

/**
 * Whether a signal mask (hexadecimal, as `ps -o caught` or `SigCgt` shows
 * it) has `signal`'s bit.
 *
 * @param mask The mask.
 * @param signal The signal's number (SIGUSR1 is 10).
 * @returns `true` when the bit is set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { maskHas } from "./process_facts.ts";
 * assert.equal(maskHas("0000000000000200", 10), true);
 * assert.equal(maskHas("0000000000004000", 10), false);
 * assert.equal(maskHas("-", 10), false);
 * ```
 */
export function maskHas(mask: string, signal: number): boolean {
  if (!/^[0-9a-f]{1,32}$/i.test(mask)) return false;
  return ((BigInt(`0x${mask}`) >> BigInt(signal - 1)) & 1n) === 1n;
}

/**
 * The runtime an executable's name says: `deno`, `node` (also `nodejs`,
 * `node20`), else `undefined`. A binary made by `deno compile` has a name
 * of its own, so it is not recognised: it has no SIGUSR1 inspector.
 *
 * @param exe The executable's path or name (maybe ending in `(deleted)`).
 * @returns The runtime, or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runtimeOf } from "./process_facts.ts";
 * assert.equal(runtimeOf("/usr/lib/node_modules/deno/deno"), "deno");
 * assert.equal(runtimeOf("/usr/bin/node20 (deleted)"), "node");
 * assert.equal(runtimeOf("/usr/bin/python3"), undefined);
 * ```
 */
export function runtimeOf(exe: string): Runtime | undefined {
  const name = exe.replace(/ \(deleted\)$/, "").split("/").at(-1) ?? "";
  if (name === "deno") return "deno";
  if (/^node(?:js)?\d*$/.test(name)) return "node";
  return undefined;
}

/**
 * This process's user ids and namespaces.
 *
 * @returns Its uids, network and pid namespaces.
 */
export async function ownFacts(): Promise<
  { uids: Uids; netNamespace: string; pidNamespace: string }
> {
  const self = await readProcess(Deno.pid);
  return selfFacts(self);
}

/**
 * This process's facts in the form {@linkcode ownFacts} gives them.
 *
 * @param self This process as {@linkcode readProcesses} read it.
 * @returns Its uids, network and pid namespaces.
 */
export function selfFacts(
  self: ProcessFacts | undefined,
): { uids: Uids; netNamespace: string; pidNamespace: string } {
  if (self === undefined) throw new Error("ps does not list this process");
  return {
    uids: self.uids,
    netNamespace: self.netNamespace,
    pidNamespace: self.pidNamespace,
  };
}

/**
 * Whether a sender with `sender`'s uids may signal a process with
 * `target`'s: root may; anyone else when its real or effective uid is the
 * target's real or saved uid (the kernel's rule, without capabilities).
 *
 * @param sender The signalling process's uids.
 * @param target The target's uids.
 * @returns Whether `kill` would be permitted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { maySignal } from "./process_facts.ts";
 * const user = { real: 1000, effective: 1000, saved: 1000 };
 * assert.equal(maySignal(user, user), true);
 * assert.equal(maySignal(user, { real: 0, effective: 0, saved: 0 }), false);
 * assert.equal(maySignal({ real: 0, effective: 0, saved: 0 }, user), true);
 * ```
 */
export function maySignal(sender: Uids, target: Uids): boolean {
  if (sender.effective === 0) return true;
  const theirs = [target.real, target.saved];
  return theirs.includes(sender.real) || theirs.includes(sender.effective);
}

/**
 * The pids of a process's children, e.g. the program a `deno task` runs.
 *
 * @param pid The parent.
 * @returns Its children's pids.
 */
export async function childrenOf(pid: number): Promise<number[]> {
  const { stdout } = await runTool("ps", ["-o", "pid=", "--ppid", String(pid)]);
  return stdout.split(/\s+/).filter((word) => /^\d+$/.test(word)).map(Number);
}

/**
 * Whether `facts.pid` is still the process `facts` describe: not gone, not
 * a zombie, not a new process that reused the number.
 *
 * @param facts What was read earlier.
 * @returns `true` while the same process runs.
 */
export async function stillRunning(facts: ProcessFacts): Promise<boolean> {
  const { code, stdout } = await runTool("ps", [
    "-o",
    "stat=,lstart=",
    "-p",
    String(facts.pid),
  ]);
  if (code !== 0) return false;
  const words = stdout.trim().split(/\s+/);
  return words[0]?.[0] !== "Z" && words.slice(1).join(" ") === facts.started;
}

/**
 * The value of one variable in a process's environment, when this user
 * may read it (`ps e`); `undefined` otherwise.
 *
 * @param pid The process.
 * @param name The variable.
 * @returns Its value (up to the next ` NAME=`: `ps` joins with spaces).
 */
export async function environmentVariable(
  pid: number,
  name: string,
): Promise<string | undefined> {
  const { stdout } = await runTool("ps", [
    "eww",
    "-o",
    "args=",
    "-p",
    String(pid),
  ]);
  const start = new RegExp(`(?:^|\\s)${name}=`).exec(stdout);
  if (start === null) return undefined;
  const rest = stdout.slice(start.index + start[0].length).trimEnd();
  const next = /\s[A-Za-z_][A-Za-z0-9_]*=/.exec(rest);
  return next === null ? rest : rest.slice(0, next.index);
}
