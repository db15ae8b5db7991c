/**
 * `gc()`: a full garbage collection through the inspector.
 *
 * @module
 */

import { formatBytes, withInspect } from "./report.ts";
import { post } from "./inspector.ts";
import { readMemoryFigures } from "./toolkit_state.ts";

/** What `gc()` returns. */
export interface GcReport {
  /** Heap used before, in bytes. */
  before: number;
  /** Heap used after, in bytes. */
  after: number;
  /** `before - after`. */
  freed: number;
  /** Time taken, in ms. */
  ms: number;
}

/**
 * Runs a full garbage collection (`HeapProfiler.collectGarbage`).
 *
 * @example
 * ```ts ignore
 * await gc(); // heap used 48.1 MiB → 40.2 MiB (freed 7.9 MiB)
 * ```
 *
 * @returns Heap used before and after.
 */
export async function gc(): Promise<GcReport> {
  // This process's heap, or an attached target's (toolkit_state.ts).
  const before = (await readMemoryFigures()).heapUsed;
  const started = performance.now();
  await post("HeapProfiler.collectGarbage");
  const after = (await readMemoryFigures()).heapUsed;
  const report: GcReport = {
    before,
    after,
    freed: before - after,
    ms: Math.round(performance.now() - started),
  };
  return withInspect(
    report,
    () =>
      `heap used ${formatBytes(before)} → ${formatBytes(after)} (freed ${
        formatBytes(report.freed)
      }, ${report.ms} ms)`,
  );
}
