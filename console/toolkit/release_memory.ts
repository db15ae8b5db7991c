/**
 * Giving freed memory back to the system after a capture. A capture's
 * native garbage (V8's snapshot generator, the inspector's messages) is
 * freed to glibc's malloc but stays in the process's RSS: 72 → 325 MiB for a
 * 28 MiB heap, and neither a GC nor `MALLOC_TRIM_THRESHOLD_`,
 * `MALLOC_ARENA_MAX` or `MALLOC_MMAP_THRESHOLD_` change that (the pieces are
 * small and scattered). glibc's `malloc_trim(0)` returns them (325 → 77 MiB).
 * Deno reaches it only through FFI, which the service gets only when it is
 * started with `--allow-ffi=<path of libc.so.6>`: FFI can call anything in
 * libc, so it is opt-in. Without it nothing happens.
 *
 * @module
 */

/**
 * Where glibc's shared library lives on the usual Linux distributions: the
 * paths `--allow-ffi` may name to let the toolkit call `malloc_trim`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LIBC_PATHS } from "./release_memory.ts";
 * assert.ok(LIBC_PATHS.every((path) => path.endsWith("/libc.so.6")));
 * ```
 */
export const LIBC_PATHS: readonly string[] = [
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
  "/lib/aarch64-linux-gnu/libc.so.6",
  "/usr/lib/aarch64-linux-gnu/libc.so.6",
  "/lib64/libc.so.6",
  "/usr/lib64/libc.so.6",
];

type Libc = Deno.DynamicLibrary<
  { malloc_trim: { parameters: ["usize"]; result: "i32" } }
>;

let libc: Libc | null | undefined;

/**
 * Whether this process may trim (Linux, glibc, `--allow-ffi` for libc).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trimAvailable } from "./release_memory.ts";
 * assert.equal(typeof trimAvailable(), "boolean");
 * ```
 *
 * @returns True when {@linkcode trimAllocator} can run.
 */
export function trimAvailable(): boolean {
  return openLibc() !== null;
}

/**
 * Returns the allocator's free memory to the system (`malloc_trim(0)`), when
 * permitted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trimAllocator, trimAvailable } from "./release_memory.ts";
 * assert.equal(trimAllocator(), trimAvailable());
 * ```
 *
 * @returns Whether it ran.
 */
export function trimAllocator(): boolean {
  const lib = openLibc();
  if (!lib) return false;
  try {
    lib.symbols.malloc_trim(0n);
    return true;
  } catch {
    return false;
  }
}

/**
 * Closes the library handle (the toolkit's `close()`).
 *
 * @example
 * ```ts
 * import { closeTrim } from "./release_memory.ts";
 * closeTrim();
 * ```
 */
export function closeTrim(): void {
  const lib = libc;
  libc = undefined;
  lib?.close();
}

function openLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (Deno.build.os !== "linux") return libc;
  for (const path of LIBC_PATHS) {
    // Query first: an ungranted dlopen would prompt on a terminal.
    let state: Deno.PermissionState;
    try {
      state = Deno.permissions.querySync({ name: "ffi", path }).state;
    } catch {
      continue;
    }
    if (state !== "granted") continue;
    try {
      libc = Deno.dlopen(path, {
        malloc_trim: { parameters: ["usize"], result: "i32" },
      });
      return libc;
    } catch {
      // Not there, or not glibc (musl has no malloc_trim).
    }
  }
  return libc;
}
