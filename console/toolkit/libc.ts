/**
 * The C library through FFI, for the two things Deno has no API for:
 * handing freed memory back (`malloc_trim`) and fork-based heap capture
 * (`fork`, `madvise`, `wait4`, the child's limits and descriptors). The
 * process gets it only when started with `--allow-ffi=<path of libc.so.6>`
 * (the `start:fork` task): FFI can call anything in libc, so it is opt-in,
 * and nothing here prompts or fails without it.
 *
 * Deno 2.9.6 resolves a library name without a slash against the working
 * directory (`Deno.dlopen("libc.so.6")` opens `./libc.so.6`), so glibc's
 * soname cannot be used as is: the library is named by its path, the first
 * `<libdir>/libc.so.6` that exists ({@linkcode libcCandidates}). Run as a
 * script, this module prints that path for the task's `--allow-ffi`.
 *
 * ```sh
 * deno run --allow-read=/lib,/lib64,/usr/lib,/usr/lib64 console/toolkit/libc.ts
 * # /lib/x86_64-linux-gnu/libc.so.6
 * ```
 *
 * @module
 */

/** The symbols used, as `Deno.dlopen` declares them. */
const SYMBOLS = {
  malloc_trim: { parameters: ["usize"], result: "i32", optional: true },
  fork: { parameters: [], result: "i32" },
  _exit: { parameters: ["i32"], result: "void" },
  madvise: { parameters: ["usize", "usize", "i32"], result: "i32" },
  wait4: { parameters: ["i32", "buffer", "i32", "buffer"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  alarm: { parameters: ["u32"], result: "u32" },
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  umask: { parameters: ["u32"], result: "u32" },
  signal: { parameters: ["i32", "usize"], result: "usize" },
  sigprocmask: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  // prctl and open are variadic in C; called with integer arguments only,
  // which the x86-64 and AArch64 Linux calling conventions pass alike.
  prctl: {
    parameters: ["i32", "u64", "u64", "u64", "u64"],
    result: "i32",
  },
  prctl_name: {
    name: "prctl",
    parameters: ["i32", "buffer", "u64", "u64", "u64"],
    result: "i32",
  },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  dup2: { parameters: ["i32", "i32"], result: "i32" },
  close_range: {
    parameters: ["u32", "u32", "i32"],
    result: "i32",
    optional: true,
  },
  getpid: { parameters: [], result: "i32" },
  setpriority: { parameters: ["i32", "u32", "i32"], result: "i32" },
  getpagesize: { parameters: [], result: "i32" },
  pause: { parameters: [], result: "i32" },
  usleep: { parameters: ["u32"], result: "i32" },
  getrusage: { parameters: ["i32", "buffer"], result: "i32" },
  getppid: { parameters: [], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  // Copies errno out: reading through a pointer directly
  // (Deno.UnsafePointerView) needs FFI on everything.
  memcpy: { parameters: ["buffer", "pointer", "usize"], result: "pointer" },
} as const;

/** The opened library. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/**
 * Where glibc's shared library lives on the usual Linux distributions
 * (Debian's multiarch directories, the lib64 of Fedora and SUSE, Arch's
 * plain lib), this machine's architecture first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { libcCandidates } from "./libc.ts";
 * assert.ok(libcCandidates().every((path) => path.endsWith("/libc.so.6")));
 * ```
 *
 * @returns Absolute paths, most likely first.
 */
export function libcCandidates(): string[] {
  const arch = Deno.build.arch;
  const other = arch === "x86_64" ? "aarch64" : "x86_64";
  return [
    `/lib/${arch}-linux-gnu/libc.so.6`,
    `/usr/lib/${arch}-linux-gnu/libc.so.6`,
    "/lib64/libc.so.6",
    "/usr/lib64/libc.so.6",
    "/usr/lib/libc.so.6",
    "/lib/libc.so.6",
    `/lib/${other}-linux-gnu/libc.so.6`,
    `/usr/lib/${other}-linux-gnu/libc.so.6`,
  ];
}

/**
 * The C library's path on this machine: the first candidate that exists.
 *
 * @returns The path, or undefined when none exists (or may be read).
 */
export function findLibc(): string | undefined {
  if (Deno.build.os !== "linux") return undefined;
  for (const path of libcCandidates()) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // Missing, or not readable: the next one.
    }
  }
  return undefined;
}

let opened: { lib: Deno.DynamicLibrary<typeof SYMBOLS>; path: string } | null =
  null;
let tried = false;

/**
 * The C library when this process may call it (Linux, `--allow-ffi` on one
 * of {@linkcode libcCandidates}); opened once, on first use, and kept open:
 * libc is never unloaded, and a capture's child may need it at any time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { libc } from "./libc.ts";
 * // The test task grants no FFI.
 * assert.equal(libc(), null);
 * ```
 *
 * @returns The symbols, or null.
 */
export function libc(): Libc | null {
  if (!tried) {
    tried = true;
    opened = openGranted();
  }
  return opened?.lib.symbols ?? null;
}

/**
 * The path of the library {@linkcode libc} opened.
 *
 * @returns The path, or null when FFI on libc is not granted.
 */
export function libcPath(): string | null {
  libc();
  return opened?.path ?? null;
}

/**
 * The calling thread's `errno` (meaningful right after a call that failed).
 *
 * @param lib The library.
 * @returns The error number.
 */
export function errno(lib: Libc): number {
  const out = new Int32Array(1);
  lib.memcpy(new Uint8Array(out.buffer), lib.__errno_location(), 4n);
  return out[0]!;
}

/**
 * A C string: the text's UTF-8 bytes and a terminating zero.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cString } from "./libc.ts";
 * assert.deepEqual([...cString("ab")], [97, 98, 0]);
 * ```
 *
 * @param text The text.
 * @returns The bytes.
 */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(text);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/**
 * Reads a file with the C library, bypassing Deno's permissions: for
 * `/proc/<pid>/…`, which Deno 2.9 opens only to `--allow-all`.
 *
 * @param lib The library.
 * @param path The file.
 * @param maxBytes Most bytes read (default 64 KiB).
 * @returns Its text, or undefined when it cannot be read.
 */
export function readProcFile(
  lib: Libc,
  path: string,
  maxBytes = 65536,
): string | undefined {
  const O_RDONLY_CLOEXEC = 0o2000000;
  const fd = lib.open(cString(path), O_RDONLY_CLOEXEC, 0);
  if (fd < 0) return undefined;
  try {
    let buffer = new Uint8Array(Math.min(maxBytes, 65536));
    let used = 0;
    while (true) {
      if (used === buffer.length) {
        if (buffer.length >= maxBytes) break;
        const grown = new Uint8Array(Math.min(maxBytes, buffer.length * 4));
        grown.set(buffer);
        buffer = grown;
      }
      const n = Number(lib.read(
        fd,
        buffer.subarray(used),
        BigInt(
          buffer.length - used,
        ),
      ));
      if (n <= 0) break;
      used += n;
    }
    return new TextDecoder().decode(buffer.subarray(0, used));
  } finally {
    lib.close(fd);
  }
}

function openGranted(): {
  lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  path: string;
} | null {
  if (Deno.build.os !== "linux") return null;
  for (const path of libcCandidates()) {
    // Query first: an ungranted dlopen would prompt on a terminal.
    let state: Deno.PermissionState;
    try {
      state = Deno.permissions.querySync({ name: "ffi", path }).state;
    } catch {
      continue;
    }
    if (state !== "granted") continue;
    try {
      return { lib: Deno.dlopen(path, SYMBOLS), path };
    } catch {
      // Not there, or not glibc.
    }
  }
  return null;
}

if (import.meta.main) {
  const path = findLibc();
  if (path === undefined) {
    console.error(
      `libc.ts: no glibc found at ${
        libcCandidates().join(", ")
      }: fork capture is unavailable`,
    );
    // A path that cannot exist: --allow-ffi with an empty value would
    // grant FFI on everything.
    console.log("/nonexistent/libc.so.6");
  } else {
    console.log(path);
  }
}
