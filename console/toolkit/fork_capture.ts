/**
 * Heap snapshots taken in a forked child, the way Redis `BGSAVE` saves: the
 * service forks (a few ms of pause), the child — a copy of the service's
 * memory with only the calling thread — writes the snapshot with
 * `node:v8`'s synchronous `writeHeapSnapshot()` and `_exit`s without ever
 * returning to the event loop, and the service reaps it from a timer.
 *
 * What the child inherits, and why it is harmless:
 * - V8 marks its memory `MADV_DONTFORK`; one `madvise(MADV_DOFORK)` over the
 *   whole address space right before `fork()` gives the child the heap.
 * - Listening sockets, the console's unix socket, the token file, the
 *   SQLite code cache: the child closes every descriptor from 3 up before
 *   it snapshots, and never runs JavaScript's event loop, so it cannot
 *   accept a connection, answer a request, write or remove a file. Only
 *   `writeHeapSnapshot` opens a file: the one it is told to write.
 * - stdout and stderr go to a private log file (what V8 or Deno print when
 *   the child fails becomes the failure's line), and `_exit` skips
 *   `atexit` handlers and never flushes the service's buffered output.
 * - Signal handlers: the child resets them to the default, so a stop
 *   signal (a terminal's Ctrl-C or a group kill reach the child too) ends
 *   it instead of being queued for an event loop that will never run, and
 *   it dies with the service (`PR_SET_PDEATHSIG`).
 * - Other threads' locks: threads do not survive `fork()`, so a lock one
 *   held stays held in the child. A child that waits on one is hung: the
 *   service kills it when its CPU time stops moving (one that spins ends at
 *   its `RLIMIT_CPU`; `alarm()` is the wall-clock backstop), and the capture
 *   is retried once. The hangs seen came
 *   from V8's background compilation threads; the `start:fork` task turns
 *   them off (`--no-concurrent-recompilation` and kin): 0 hangs in 60
 *   captures under load, against 6 in 60 with `--single-threaded-gc` only.
 * - Memory: the child's address space is capped (`RLIMIT_AS`) at what it
 *   has plus the admission estimate, so a capture that needs more than
 *   estimated dies in the child, never takes the machine or the service.
 *
 * The first `writeHeapSnapshot` of a process loads two modules, reading
 * Deno's SQLite code cache; in a child that has closed its descriptors that
 * spins forever, so the service loads them before it first forks
 * ({@linkcode warmUpForkCapture}).
 *
 * @module
 */

// Loaded here, in the service: writeHeapSnapshot loads it lazily, and a
// child must never load a module (see warmUpForkCapture).
import "node:fs";
import { writeHeapSnapshot } from "node:v8";
import { cString, errno, type Libc, libc, readProcFile } from "./libc.ts";

/** Why a child failed, as {@linkcode ForkCaptureError} tells it. */
export type ChildFailure =
  | "hung"
  | "capped"
  | "crashed"
  | "failed"
  | "fork";

/** A snapshot written by a child. */
export interface ChildSnapshot {
  /** How long the service was blocked: `beforeFork`, then `fork()`, ms. */
  pauseMs: number;
  /** From `fork()` to the child reaped, in ms. */
  durationMs: number;
  /** The child's peak RSS, bytes (its share of the service's pages included). */
  childPeakRss: number;
  /** The service's RSS when it forked, bytes. */
  rssAtFork: number;
  /**
   * The memory the child added at its peak, bytes: its anonymous RSS
   * (`RssAnon` of /proc/<pid>/status, sampled every 100 ms) less the
   * service's when it forked. Its whole RSS would also count the pages of
   * the deno executable it faults back in, which cost nothing more; the
   * pages it inherited and rewrote (copy-on-write, a few MiB of GC marks)
   * are not counted. (`smaps_rollup` counts those too, but reading it takes
   * ~25 ms of the service's thread for a 700 MiB child.)
   */
  childGrowth: number;
  /** Tries it took: 1, or 2 after a hung or crashed child. */
  attempts: number;
  /** The child's pid (still running when `ready` was given). */
  pid: number;
}

/** A capture whose child failed, once retried if that could help. */
export class ForkCaptureError extends Error {
  /**
   * @param reason Why, in one word.
   * @param message The line to print.
   */
  constructor(readonly reason: ChildFailure, message: string) {
    super(message);
    this.name = "ForkCaptureError";
  }
}

/** How a child is run. */
export interface ChildOptions {
  /**
   * Most bytes the child may add to the address space it inherits
   * (`RLIMIT_AS`), or undefined for no cap.
   */
  capBytes?: number;
  /**
   * The CPU time the child may use, seconds (`RLIMIT_CPU`: a child that
   * spins on a lock is ended by it). A child that waits without using CPU
   * is stopped by the stall check; one the machine starves of CPU is slow,
   * not hung, so wall time only bounds it at thirty times this (its own
   * `alarm()`, and the service's backstop).
   */
  watchdogSeconds: number;
  /**
   * Declared hung when its CPU time has not moved for this long, in ms
   * (default 5 000).
   */
  stallMs?: number;
  /** Retry once after a hung or crashed child (default true). */
  retry?: boolean;
  /**
   * For tests: `"hang"` makes the child block in `pause()` instead of
   * snapshotting, as a child waiting on a lock held by a thread that did
   * not survive `fork()` does; `"spin"` makes it spin, as one spinning on
   * such a lock does.
   */
  fault?: "hang" | "spin";
  /** Called with each child's pid once it is forked. */
  onSpawn?: (pid: number) => void;
  /**
   * Run right before each `fork()` (the service is paused for it too);
   * resolves to how long it took, ms.
   */
  beforeFork?: () => Promise<number>;
  /**
   * What the child does instead of only writing the snapshot: it writes
   * the snapshot to `path` itself, and may then work on and never return
   * (it is `_exit`ed when it does). Synchronous: the child has no event loop.
   */
  work?: (path: string) => void;
  /**
   * Polled by the service while the child runs: once true, the capture
   * resolves with the child still running (it is then
   * {@linkcode awaitChild}'s and {@linkcode endChild}'s to watch and end).
   */
  ready?: () => boolean;
}

// Linux's numbers, the same on x86-64 and AArch64 (asm-generic).
const SIGHUP = 1;
const SIGINT = 2;
const SIGQUIT = 3;
const SIGKILL = 9;
const SIGUSR1 = 10;
const SIGUSR2 = 12;
const SIGPIPE = 13;
const SIGALRM = 14;
const SIGTERM = 15;
const SIGCHLD = 17;
const SIGXCPU = 24;
const SIG_DFL = 0n;
const SIG_SETMASK = 2;
const PRIO_PROCESS = 0;
const RLIMIT_CPU = 0;
const RLIMIT_CORE = 4;
const RLIMIT_AS = 9;
const PR_SET_PDEATHSIG = 1;
const PR_SET_NAME = 15;
const MADV_DOFORK = 11;
const WNOHANG = 1;
const O_RDONLY = 0;
const O_WRONLY = 1;
const O_WRONLY_CREAT_TRUNC = 0o1101;
const ENOMEM = 12;
/** Exit codes of the child, read back by `failure()`. */
const EXIT_THREW = 70;
const EXIT_ORPHANED = 71;
/** The child's scheduling priority (nice). */
const CHILD_NICE = 10;
/** Wall time a child may take, in units of its CPU time limit. */
export const WALL_TIME_FACTOR = 30;
/** `RLIM_INFINITY` of Linux. */
const RLIM_INFINITY = 0xffffffffffffffffn;
const RUSAGE_SELF = 0;
/** Parent polling period while a child runs. */
const POLL_MS = 25;
/** How often the child's memory is sampled. */
const MEMORY_SAMPLE_MS = 100;
/** How often the child's CPU time is sampled for the hang check. */
const STALL_SAMPLE_MS = 250;

/** Children not yet reaped, by pid. */
const unreaped = new Set<number>();
/** Children {@linkcode stopChildren} killed and reaped. */
const stopped = new Set<number>();
let warmedUp: WarmUp | undefined;

/**
 * Whether this process can capture in a child: Linux on x86-64 or AArch64,
 * `--allow-ffi` on libc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forkCaptureAvailable } from "./fork_capture.ts";
 * assert.equal(forkCaptureAvailable(), false); // no --allow-ffi in tests
 * ```
 *
 * @returns True when {@linkcode snapshotInChild} can run.
 */
export function forkCaptureAvailable(): boolean {
  return addressSpaceEnd() !== undefined && libc() !== null;
}

/** The warm-up as done. */
export interface WarmUp {
  /** How long it took, ms. */
  ms: number;
}

/**
 * Readies this process for fork captures, once, right before the first
 * fork: the modules `writeHeapSnapshot` loads on its first call are loaded
 * in the service, never in a child (a child that compiles one reads Deno's
 * SQLite code cache through descriptors it has closed, and spins forever:
 * every capture hung without this). node:fs is imported by this module;
 * the path check's module loads on a call with an invalid name, which
 * throws before any snapshot is taken. ~1 ms, where a whole warm-up
 * snapshot at start-up took 0.6–2.4 s and left +100 MiB of RSS
 * (docs/capture.md).
 *
 * @returns What was done, or undefined when fork capture is unavailable.
 */
export function warmUpForkCapture(): WarmUp | undefined {
  if (warmedUp) return warmedUp;
  if (!forkCaptureAvailable()) return undefined;
  const started = performance.now();
  try {
    writeHeapSnapshot("\0");
  } catch {
    // Expected: an invalid name.
  }
  warmedUp = { ms: performance.now() - started };
  return warmedUp;
}

/**
 * The warm-up done, if any.
 *
 * @returns It, or undefined before.
 */
export function forkWarmUp(): WarmUp | undefined {
  return warmedUp;
}

/**
 * The C library, for a capture in a child.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ForkCaptureError, forkLibc } from "./fork_capture.ts";
 * assert.throws(() => forkLibc(), ForkCaptureError); // no --allow-ffi in tests
 * ```
 *
 * @returns It.
 * @throws {ForkCaptureError} When the process may not call it.
 */
export function forkLibc(): Libc {
  const lib = libc();
  if (lib === null) {
    throw new ForkCaptureError(
      "fork",
      "Fork capture needs --allow-ffi on libc (deno task start:fork)",
    );
  }
  return lib;
}

/**
 * Writes a heap snapshot of this process to `path` from a forked child,
 * retrying once when the child hung or crashed. The service pauses only
 * for `fork()`; the child's failure never reaches it beyond the error.
 *
 * @param path The file to write (created or truncated by the child; the
 * directory must be writable with the process's permissions).
 * @param logPath Where the child's stdout and stderr go (owner-only).
 * @param options Cap, watchdog, stall detection, retry.
 * @returns Timings and the child's peak RSS.
 * @throws {ForkCaptureError} When the child failed (hung, capped, crashed).
 */
export async function snapshotInChild(
  path: string,
  logPath: string,
  options: ChildOptions,
): Promise<ChildSnapshot> {
  const lib = forkLibc();
  // Lazily, right before the first fork: loading two modules, ~1 ms.
  warmUpForkCapture();
  const attempts = options.retry === false ? 1 : 2;
  let last: ForkCaptureError | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const done = await runChild(lib, path, logPath, options);
      return { ...done, attempts: attempt };
    } catch (error) {
      if (!(error instanceof ForkCaptureError)) throw error;
      last = error;
      // A cap or a clean failure would fail again the same way.
      if (error.reason !== "hung" && error.reason !== "crashed") break;
    }
  }
  throw attempts > 1 && last!.reason !== "capped" && last!.reason !== "failed"
    ? new ForkCaptureError(last!.reason, `${last!.message} (after a retry)`)
    : last!;
}

/**
 * Kills every child still running (the toolkit's `close()`) and reaps it;
 * a capture waiting on one fails with a clear error.
 *
 * @example
 * ```ts
 * import { stopChildren } from "./fork_capture.ts";
 * stopChildren();
 * ```
 */
export function stopChildren(): void {
  if (unreaped.size === 0) return;
  const lib = libc();
  if (lib === null) return;
  const status = new Uint8Array(4);
  const usage = new Uint8Array(144);
  for (const pid of [...unreaped]) {
    stopped.add(pid);
    lib.kill(pid, SIGKILL);
    // SIGKILL cannot be caught: the wait is short.
    lib.wait4(pid, status, 0, usage);
    unreaped.delete(pid);
  }
}

/**
 * Watches a child left running by a `ready` capture until `done()` comes
 * true: killed when its CPU time stops moving for `stallMs` or past
 * `watchdogSeconds`, like a capturing child.
 *
 * @param pid The child.
 * @param done Polled every 25 ms.
 * @param options The stall and time limits, the child's memory cap and
 * where its output goes (for the failure's line).
 * @returns The child's anonymous memory at its peak meanwhile, bytes.
 * @throws {ForkCaptureError} When the child ended or was killed first.
 */
export async function awaitChild(
  pid: number,
  done: () => boolean,
  options: Pick<ChildOptions, "stallMs" | "watchdogSeconds" | "capBytes"> & {
    logPath?: string;
  },
): Promise<number> {
  const lib = libc();
  if (lib === null || !unreaped.has(pid)) {
    throw new ForkCaptureError("failed", "the analysis child is gone");
  }
  const status = await waitForChild(lib, pid, options, done);
  if (status.kind === "ready") return status.anonPeak;
  throw failure(status, options.capBytes, options.logPath);
}

/**
 * Whether a child left running still runs; one that ended (killed by the
 * OOM killer or an operator, its alarm) is reaped here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { childRunning } from "./fork_capture.ts";
 * assert.equal(childRunning(Deno.pid), false); // not a child of ours
 * ```
 *
 * @param pid The child.
 * @returns False once it has ended.
 */
export function childRunning(pid: number): boolean {
  const lib = libc();
  if (lib === null || !unreaped.has(pid)) return false;
  const got = lib.wait4(pid, new Uint8Array(4), WNOHANG, new Uint8Array(144));
  if (got === 0) return true;
  unreaped.delete(pid);
  return false;
}

/**
 * Kills a child left running and reaps it once it is gone (nothing when it
 * is gone already, or was never ours). The reaping waits in a timer, not in `wait4`: a child
 * holding hundreds of MiB takes tens of ms to hand them back to the
 * kernel, which a blocking wait would make the service's pause.
 *
 * @example
 * ```ts
 * import { endChild } from "./fork_capture.ts";
 * endChild(Deno.pid); // not a child of ours: nothing happens
 * ```
 *
 * @param pid The child.
 */
export function endChild(pid: number): void {
  const lib = libc();
  if (lib === null || !unreaped.has(pid)) return;
  lib.kill(pid, SIGKILL);
  const status = new Uint8Array(4);
  const usage = new Uint8Array(144);
  const reap = () => {
    if (!unreaped.has(pid)) return;
    // 0: not yet; the pid, or -1 (reaped by stopChildren): done.
    if (lib.wait4(pid, status, WNOHANG, usage) === 0) {
      Deno.unrefTimer(setTimeout(reap, POLL_MS));
      return;
    }
    unreaped.delete(pid);
  };
  reap();
}

/** One child, from fork to reaped. */
async function runChild(
  lib: Libc,
  path: string,
  logPath: string,
  options: ChildOptions,
): Promise<Omit<ChildSnapshot, "attempts">> {
  const end = addressSpaceEnd()!;
  const rssAtFork = Deno.memoryUsage().rss;
  const anonAtFork = anonymousRss(lib, "self") ?? 0;
  const cap = options.capBytes === undefined
    ? undefined
    : addressSpaceSize(lib) + options.capBytes;
  // Everything the child needs is made here: the child allocates nothing
  // it can avoid before it snapshots.
  const plan: ChildPlan = {
    path,
    log: cString(logPath),
    devNull: cString("/dev/null"),
    oomScore: cString("/proc/self/oom_score_adj"),
    oomFirst: new TextEncoder().encode("1000"),
    name: cString("leakwatch-snap"),
    parent: lib.getpid(),
    watchdogSeconds: Math.max(1, Math.ceil(options.watchdogSeconds)),
    cap: cap === undefined ? undefined : rlimit(cap),
    cpu: cpuLimit(Math.max(1, Math.ceil(options.watchdogSeconds))),
    noCore: rlimit(0),
    emptySet: new Uint8Array(128),
    fault: options.fault,
    work: options.work,
  };
  const maps = readProcFile(lib, "/proc/self/maps", 64 * 2 ** 20);
  // Last before fork(): whatever is allocated after it, the child numbers
  // on its own (the service then reuses those heap object ids).
  const readyMs = options.beforeFork ? await options.beforeFork() : 0;
  const started = performance.now();
  inheritEverything(lib, end, maps);
  const pid = lib.fork();
  if (pid === 0) childMain(lib, plan);
  const pauseMs = readyMs + performance.now() - started;
  if (pid < 0) {
    throw new ForkCaptureError(
      "fork",
      `fork() failed (errno ${errno(lib)}): the capture did not start`,
    );
  }
  unreaped.add(pid);
  options.onSpawn?.(pid);
  const status = await waitForChild(lib, pid, options, options.ready);
  const durationMs = performance.now() - started;
  // Done: ready and still running, or (without a `ready`) exited cleanly.
  if (
    status.kind === "ready" ||
    (status.kind === "exited" && status.code === 0 && !options.ready)
  ) {
    return {
      pauseMs,
      durationMs,
      childPeakRss: status.maxRss,
      rssAtFork,
      childGrowth: Math.max(0, status.anonPeak - anonAtFork),
      pid,
    };
  }
  throw failure(
    status,
    cap === undefined ? undefined : options.capBytes,
    logPath,
  );
}

interface ChildPlan {
  path: string;
  log: Uint8Array<ArrayBuffer>;
  devNull: Uint8Array<ArrayBuffer>;
  oomScore: Uint8Array<ArrayBuffer>;
  oomFirst: Uint8Array<ArrayBuffer>;
  name: Uint8Array<ArrayBuffer>;
  parent: number;
  watchdogSeconds: number;
  cap: Uint8Array<ArrayBuffer> | undefined;
  cpu: Uint8Array<ArrayBuffer>;
  noCore: Uint8Array<ArrayBuffer>;
  emptySet: Uint8Array<ArrayBuffer>;
  fault: ChildOptions["fault"];
  work: ChildOptions["work"];
}

/**
 * The child: limits, signals and descriptors first, then the snapshot, then
 * `_exit`. It never returns: not to the caller, not to the event loop.
 */
function childMain(lib: Libc, plan: ChildPlan): never {
  let code = EXIT_THREW;
  try {
    // The watchdog first: whatever follows may hang.
    lib.signal(SIGALRM, SIG_DFL);
    lib.sigprocmask(SIG_SETMASK, plan.emptySet, 0n);
    lib.alarm(plan.watchdogSeconds * WALL_TIME_FACTOR);
    lib.setrlimit(RLIMIT_CPU, plan.cpu);
    lib.prctl(PR_SET_PDEATHSIG, BigInt(SIGKILL), 0n, 0n, 0n);
    if (lib.getppid() !== plan.parent) lib._exit(EXIT_ORPHANED);
    lib.prctl_name(PR_SET_NAME, plan.name, 0n, 0n, 0n);
    for (
      const signal of [
        SIGHUP,
        SIGINT,
        SIGQUIT,
        SIGTERM,
        SIGUSR1,
        SIGUSR2,
        SIGPIPE,
        SIGCHLD,
      ]
    ) {
      lib.signal(signal, SIG_DFL);
    }
    // The service comes first for the CPU (nice 10: a tenth of a core it
    // shares with one busy process; 19 starved it for minutes on a loaded
    // machine), and the child first for the kernel's OOM killer.
    lib.setpriority(PRIO_PROCESS, 0, CHILD_NICE);
    const oom = lib.open(plan.oomScore, O_WRONLY, 0);
    if (oom >= 0) {
      lib.write(oom, plan.oomFirst, BigInt(plan.oomFirst.length));
      lib.close(oom);
    }
    lib.setrlimit(RLIMIT_CORE, plan.noCore);
    if (plan.cap) lib.setrlimit(RLIMIT_AS, plan.cap);
    lib.umask(0o077);
    const nothing = lib.open(plan.devNull, O_RDONLY, 0);
    if (nothing >= 0) lib.dup2(nothing, 0);
    const log = lib.open(plan.log, O_WRONLY_CREAT_TRUNC, 0o600);
    if (log >= 0) {
      lib.dup2(log, 1);
      lib.dup2(log, 2);
    }
    closeFrom(lib, 3);
    if (plan.fault === "hang") {
      // Blocks in the kernel forever, as a child waiting on a lock does.
      while (true) lib.pause();
    }
    if (plan.fault === "spin") {
      // Burns CPU forever, as a child spinning on a lock does.
      let n = 0;
      while (n >= 0) n = (n + 1) % 1e9;
    }
    if (plan.work) plan.work(plan.path);
    else writeHeapSnapshot(plan.path);
    code = 0;
  } catch (error) {
    try {
      const text = new TextEncoder().encode(
        `${(error as Error)?.stack ?? String(error)}\n`,
      );
      lib.write(2, text, BigInt(text.length));
    } catch {
      // Nothing more to say.
    }
  } finally {
    lib._exit(code);
  }
  // _exit does not return.
  while (true) lib._exit(code);
}

/**
 * `madvise(MADV_DOFORK)` over the whole address space, so the child gets
 * V8's memory. One call per span rather than per mapping (V8 maps and
 * unmaps on other threads meanwhile); the spans skip the kernel's `[vvar]`
 * pages, on which the call fails with EINVAL and stops. A span that still
 * fails (some other special mapping) is done mapping by mapping.
 */
function inheritEverything(lib: Libc, end: bigint, maps: string | undefined) {
  const mappings = parseMaps(maps ?? "");
  const special = mappings.filter((m) => /^\[vvar/.test(m.name));
  let from = 0n;
  const spans: Array<[bigint, bigint]> = [];
  for (const m of special) {
    if (m.start > from) spans.push([from, m.start]);
    from = m.end;
  }
  if (end > from) spans.push([from, end]);
  for (const [start, stop] of spans) {
    if (lib.madvise(start, stop - start, MADV_DOFORK) === 0) continue;
    // ENOMEM only says the span has holes: it was applied all the same.
    if (errno(lib) === ENOMEM) continue;
    for (const m of mappings) {
      if (m.start >= start && m.end <= stop) {
        lib.madvise(m.start, m.end - m.start, MADV_DOFORK);
      }
    }
  }
}

interface Mapping {
  start: bigint;
  end: bigint;
  name: string;
}

function parseMaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of text.split("\n")) {
    const match = line.match(
      /^([0-9a-f]+)-([0-9a-f]+)\s+\S+\s+\S+\s+\S+\s+\S+\s*(.*)$/,
    );
    if (!match) continue;
    out.push({
      start: BigInt(`0x${match[1]}`),
      end: BigInt(`0x${match[2]}`),
      name: match[3]!,
    });
  }
  return out;
}

/** Closes every descriptor from `first` up. */
function closeFrom(lib: Libc, first: number): void {
  if (lib.close_range !== null && lib.close_range(first, 0xffffffff, 0) === 0) {
    return;
  }
  // Before glibc 2.34 / Linux 5.9: one by one, up to a generous bound.
  for (let fd = first; fd < 65536; fd++) lib.close(fd);
}

type ChildStatus =
  | { kind: "ready"; maxRss: number; anonPeak: number }
  | { kind: "exited"; code: number; maxRss: number; anonPeak: number }
  | {
    kind: "signaled";
    signal: number;
    maxRss: number;
    anonPeak: number;
    stalled: boolean;
    /** The kernel function a stalled child slept in (`/proc/<pid>/wchan`). */
    blockedIn?: string;
  };

/**
 * Polls the child until it ends or `ready` comes true, killing it when it
 * is stuck.
 */
async function waitForChild(
  lib: Libc,
  pid: number,
  options: Pick<ChildOptions, "stallMs" | "watchdogSeconds">,
  ready?: () => boolean,
): Promise<ChildStatus> {
  const status = new Int32Array(1);
  const usage = new BigInt64Array(18);
  const stallMs = options.stallMs ?? 5_000;
  // The child's own limits should end it; this is the service's backstop.
  const deadline = performance.now() +
    options.watchdogSeconds * WALL_TIME_FACTOR * 1000 + 5_000;
  let cpu = -1;
  let cpuSince = performance.now();
  let sampled = 0;
  let stalled = false;
  let blockedIn: string | undefined;
  let anonPeak = 0;
  let anonSampled = 0;
  while (true) {
    if (performance.now() - anonSampled >= MEMORY_SAMPLE_MS) {
      anonSampled = performance.now();
      anonPeak = Math.max(anonPeak, anonymousRss(lib, pid) ?? 0);
    }
    const got = lib.wait4(
      pid,
      new Uint8Array(status.buffer),
      WNOHANG,
      new Uint8Array(usage.buffer),
    );
    if (got === pid) {
      unreaped.delete(pid);
      const raw = status[0]!;
      const maxRss = Number(usage[4]) * 1024;
      const signal = raw & 0x7f;
      if (signal === 0) {
        return {
          kind: "exited",
          code: (raw >> 8) & 0xff,
          maxRss,
          anonPeak,
        };
      }
      return {
        kind: "signaled",
        signal,
        maxRss,
        anonPeak,
        stalled,
        blockedIn,
      };
    }
    if (got === 0 && ready?.()) {
      return {
        kind: "ready",
        maxRss: peakRssOf(lib, pid) ?? 0,
        anonPeak: Math.max(anonPeak, anonymousRss(lib, pid) ?? 0),
      };
    }
    if (got < 0) {
      unreaped.delete(pid);
      if (stopped.delete(pid)) {
        throw new ForkCaptureError(
          "failed",
          "the capture's child was stopped: the toolkit was closed",
        );
      }
      // Reaped elsewhere (a waitpid(-1) in the runtime): nothing to tell.
      throw new ForkCaptureError(
        "failed",
        `the capture's child ${pid} was reaped by someone else (errno ${
          errno(lib)
        }): its result is unknown`,
      );
    }
    const now = performance.now();
    if (!stalled && now - sampled >= STALL_SAMPLE_MS) {
      sampled = now;
      const used = childCpu(lib, pid);
      if (used === undefined || used !== cpu) {
        cpu = used ?? cpu;
        cpuSince = now;
      } else if (now - cpuSince >= stallMs) {
        stalled = true;
        blockedIn = readProcFile(lib, `/proc/${pid}/wchan`)?.trim();
        lib.kill(pid, SIGKILL);
      }
    }
    if (!stalled && now > deadline) {
      stalled = true;
      blockedIn = readProcFile(lib, `/proc/${pid}/wchan`)?.trim();
      lib.kill(pid, SIGKILL);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * The child's CPU time in clock ticks (`/proc/<pid>/stat` utime + stime),
 * or undefined when it cannot be read or the child is running or in disk
 * wait (both count as progress).
 */
function childCpu(lib: Libc, pid: number): number | undefined {
  const stat = readProcFile(lib, `/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Running or in disk wait: progress. Sleeping or stopped: count CPU.
  if (fields[0] !== "S" && fields[0] !== "T" && fields[0] !== "t") {
    return undefined;
  }
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * Signals of a process that aborted when an allocation failed: SIGTRAP (V8's
 * fatal error), SIGABRT (Rust, glibc), SIGBUS. Not SIGSEGV: a child that
 * segfaults touched memory it did not inherit (a page V8 mapped between
 * `madvise` and `fork()`: 1 of 100 in `bench:capture --hang`, at a peak of
 * 65 MiB), which a retry gets past; taken for a cap, it was not retried.
 */
const ABORT_SIGNALS = [5, 6, 7];

/** Messages of V8, Deno and Rust when an allocation fails. */
const OUT_OF_MEMORY =
  /out of memory|allocation failed|memory allocation of \d+ bytes failed|Cannot allocate/i;

function failure(
  status: Exclude<ChildStatus, { kind: "ready" }>,
  capBytes: number | undefined,
  logPath: string | undefined,
): ForkCaptureError {
  const lines = logPath === undefined ? [] : logLines(logPath);
  const oom = lines.find((l) => OUT_OF_MEMORY.test(l));
  const said = oom ?? lines.find((l) => /fatal|error|panic/i.test(l)) ??
    lines.at(-1);
  const tail = said ? `; it said: ${said.slice(0, 300)}` : "";
  const peak = `peak RSS ${mib(status.maxRss)}`;
  if (status.kind === "exited" && status.code === EXIT_ORPHANED) {
    return new ForkCaptureError(
      "failed",
      "the capture's child lost its parent",
    );
  }
  if (
    status.kind === "signaled" &&
    (status.signal === SIGALRM || status.signal === SIGXCPU || status.stalled)
  ) {
    return new ForkCaptureError(
      "hung",
      `the capture's child hung (${
        status.signal === SIGALRM
          ? "its watchdog alarm fired"
          : status.signal === SIGXCPU
          ? "it used up its CPU time without finishing"
          : `its CPU time stopped moving${
            status.blockedIn ? ` in ${status.blockedIn}` : ""
          }; killed`
      }, ${peak}): it waited on a thread that does not survive fork()`,
    );
  }
  // Under an address-space cap, an allocation that fails aborts the child
  // (V8, Rust), sometimes before it can say so.
  const died = status.kind === "signaled" &&
    ABORT_SIGNALS.includes(status.signal);
  if (capBytes !== undefined && (oom !== undefined || died)) {
    return new ForkCaptureError(
      "capped",
      `the capture's child reached its memory cap (${
        mib(capBytes)
      } above the service's address space, ${peak}${
        oom === undefined && status.kind === "signaled"
          ? `, ended by signal ${status.signal}`
          : ""
      }) and stopped; the service is untouched${tail}`,
    );
  }
  if (status.kind === "exited") {
    return new ForkCaptureError(
      "failed",
      `the capture's child failed (exit ${status.code}, ${peak})${tail}`,
    );
  }
  if (status.signal === SIGKILL) {
    return new ForkCaptureError(
      "crashed",
      `the capture's child was killed (SIGKILL, ${peak}): the kernel's OOM killer, or an operator${tail}`,
    );
  }
  return new ForkCaptureError(
    "crashed",
    `the capture's child crashed (signal ${status.signal}, ${peak})${tail}`,
  );
}

/** What the child printed, line by line, blank lines left out. */
function logLines(path: string): string[] {
  try {
    return Deno.readTextFileSync(path).split("\n").map((l) => l.trim())
      .filter((l) => l !== "" && !/^[#=]+$/.test(l));
  } catch {
    return [];
  }
}

/** A process's peak RSS (`VmHWM` of /proc/<pid>/status), bytes. */
function peakRssOf(lib: Libc, pid: number): number | undefined {
  const status = readProcFile(lib, `/proc/${pid}/status`);
  const kb = status?.match(/^VmHWM:\s+(\d+) kB/m)?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}

/** A process's anonymous RSS (`RssAnon` of /proc/<pid>/status), bytes. */
function anonymousRss(lib: Libc, pid: number | "self"): number | undefined {
  const status = readProcFile(lib, `/proc/${pid}/status`);
  const kb = status?.match(/^RssAnon:\s+(\d+) kB/m)?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}

/** The address space's size now (`/proc/self/statm`, first field), bytes. */
function addressSpaceSize(lib: Libc): number {
  const statm = readProcFile(lib, "/proc/self/statm");
  const pages = Number(statm?.split(" ")[0]);
  if (!Number.isFinite(pages) || pages <= 0) {
    throw new ForkCaptureError(
      "fork",
      "cannot read /proc/self/statm to cap the child's memory",
    );
  }
  return pages * lib.getpagesize();
}

/** Past the last user-space address on this architecture, for madvise. */
function addressSpaceEnd(): bigint | undefined {
  if (Deno.build.os !== "linux") return undefined;
  switch (Deno.build.arch) {
    case "x86_64":
      return 0x7ff000000000n;
    case "aarch64":
      return 0xfff000000000n;
    default:
      return undefined;
  }
}

function rlimit(bytes: number): Uint8Array<ArrayBuffer> {
  return rlimits(bytes, bytes);
}

/** A `struct rlimit`: its soft and hard limits. */
function rlimits(
  soft: number | bigint,
  hard: number | bigint,
): Uint8Array<ArrayBuffer> {
  const limit = new BigUint64Array([BigInt(soft), BigInt(hard)]);
  return new Uint8Array(limit.buffer);
}

/**
 * `RLIMIT_CPU` at `seconds`, soft only: the kernel sends `SIGXCPU` (which
 * ends the child) there, and the limit can be raised again later (an
 * unprivileged process cannot raise a hard one).
 */
function cpuLimit(seconds: number): Uint8Array<ArrayBuffer> {
  return rlimits(seconds, RLIM_INFINITY);
}

/**
 * In a child: allows `seconds` more of CPU time from now on (the analysis
 * child, once per question).
 *
 * @param lib The C library.
 * @param seconds CPU seconds.
 */
export function allowMoreCpu(lib: Libc, seconds: number): void {
  const usage = new BigInt64Array(18);
  lib.getrusage(RUSAGE_SELF, new Uint8Array(usage.buffer));
  // ru_utime and ru_stime: seconds and microseconds each.
  const used = Number(usage[0]! + usage[2]!) + 1;
  lib.setrlimit(RLIMIT_CPU, cpuLimit(used + Math.ceil(seconds)));
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
