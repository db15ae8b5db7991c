/**
 * Giving freed memory back to the system after a capture. A capture's
 * native garbage (V8's snapshot generator, the inspector's messages) is
 * freed to glibc's malloc but stays in the process's RSS: 72 → 325 MiB for a
 * 28 MiB heap, and neither a GC nor `MALLOC_TRIM_THRESHOLD_`,
 * `MALLOC_ARENA_MAX` or `MALLOC_MMAP_THRESHOLD_` change that (the pieces are
 * small and scattered). glibc's `malloc_trim(0)` returns them (325 → 77 MiB).
 * Deno reaches it only through FFI on libc (libc.ts), granted by
 * `--allow-ffi=<path of libc.so.6>` (the `start:fork` task). Without it,
 * nothing happens here; a jemalloc or mimalloc `LD_PRELOAD` does the same
 * job without FFI (docs/capture.md compares them).
 *
 * @module
 */

import { libc } from "./libc.ts";

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
  return libc()?.malloc_trim != null;
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
  const trim = libc()?.malloc_trim;
  if (trim == null) return false;
  try {
    trim(0n);
    return true;
  } catch {
    return false;
  }
}
