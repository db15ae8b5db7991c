/**
 * The leak toolkit the live console puts into each session's scope: `mem`,
 * `gc`, `count`, `instances`, `heap`, `alloc`, `leak`, `help`. Importing this module does nothing:
 * the inspector session and the analysis worker start on first use.
 *
 * ```ts ignore
 * const toolkit = createToolkit({ progress: (label, done, total) => {} });
 * await toolkit.heap.top(5);
 * ```
 *
 * @module
 */

import { createAlloc } from "./alloc.ts";
import type { AllocHelpers } from "./alloc.ts";
import { count, type CountReport, instances, type TypeSpec } from "./count.ts";
import { gc, type GcReport } from "./gc.ts";
import { createHeap, type HeapHelpers } from "./heap.ts";
import { help } from "./help.ts";
import type { ProgressFn } from "../heap/progress.ts";
import { clearSourceMapCache } from "./source_positions.ts";
import { closeToolkitState } from "./toolkit_state.ts";
import { leak, type LeakReport } from "./leak.ts";
import { mem, type MemReport } from "./memory.ts";

export type {
  AllocHelpers,
  AllocSite,
  AllocStartOptions,
  AllocStatus,
  AllocTopOptions,
} from "./alloc.ts";
export type { CaptureStats } from "./capture.ts";
export { captureStats } from "./capture.ts";
export type { Constructor, CountReport, TypeSpec } from "./count.ts";
export type { GcReport } from "./gc.ts";
export type {
  GraphOptions,
  GraphReport,
  GrowthRow,
  HeapHelpers,
  LargeObject,
  RetainingPath,
  SnapshotOptions,
  SnapshotReport,
  TypeRow,
} from "./heap.ts";
export type { MemReport } from "./memory.ts";
export type { LeakReport } from "./leak.ts";
export { MEMORY_LIMIT_ENV } from "./memory.ts";
export { COST_MODELS } from "./capture_cost.ts";

/** Where the toolkit reports progress of long operations. */
export interface ToolkitIO {
  /**
   * Called as a long operation advances: `capture` (0/1, 1/1), `parse` and
   * `write` (characters), `analyse: ...` (phases).
   */
  progress: ProgressFn;
  /**
   * Aborts when the console session ends: its heap baselines go, and with
   * the last of them V8's map of object ids (toolkit_state.ts).
   */
  closed?: AbortSignal;
}

/**
 * The helpers of one console session. A type, not an interface, so that it
 * is a session scope as it is (a `Record<string, unknown>`), with no cast.
 */
export type Toolkit = {
  /**
   * Memory use, human units when printed.
   *
   * @returns Memory use, human units when printed.
   */
  mem(): MemReport;
  /**
   * Heap used before and after a full GC.
   *
   * @returns Heap used before and after a full GC.
   */
  gc(): Promise<GcReport>;
  /**
   * Counts live instances of a class without a snapshot.
   *
   * @param type A class, or a class name (`"User"`).
   * @returns Its live instances, counted without a snapshot.
   */
  count(type: TypeSpec): Promise<CountReport>;
  /**
   * Up to `n` live instances of a class, the objects themselves.
   *
   * @param type A class, or a class name.
   * @param n Most instances (default 10).
   * @returns The instances.
   */
  instances(type: TypeSpec, n?: number): Promise<unknown[]>;
  /** Snapshot-based helpers: `top`, `growth`, `path`, `largest`, `graph`, `snapshot`. */
  heap: HeapHelpers;
  /** Allocation sampling: `start`, `top`, `stop`. */
  alloc: AllocHelpers;
  /**
   * The leak alarm: state, the heap-after-GC floor's chart, the last
   * attribution, what to run next.
   *
   * @returns The alarm's state, printed as a few lines.
   */
  leak(): LeakReport;
  /**
   * One line per helper.
   *
   * @returns One line per helper.
   */
  help(): string;
};

/**
 * Makes the toolkit of one console session. Each session has its own
 * `heap.growth` baseline; the inspector session, the analysis worker and the
 * capture lock are shared by the process.
 *
 * @example
 * ```ts ignore
 * const toolkit = createToolkit({ progress: () => {} });
 * console.log(toolkit.help());
 * ```
 *
 * @param io Progress sink.
 * @returns The helpers, to put into the session's scope by name.
 */
export function createToolkit(io: ToolkitIO): Toolkit {
  const progress: ProgressFn = (label, done, total) => {
    try {
      io.progress(label, done, total);
    } catch {
      // A broken progress sink must not break the operation.
    }
  };
  return {
    mem,
    gc,
    count,
    instances,
    heap: createHeap(progress, io.closed),
    alloc: createAlloc(),
    leak,
    help,
  };
}

/**
 * Releases the process-wide resources (toolkit_state.ts): stops allocation
 * sampling, the analysis worker (which otherwise keeps the process alive
 * until idle for 2 minutes) and the inspector link, and drops cached source
 * maps. Safe to call more than once; the next helper call starts them again.
 */
export async function closeToolkit(): Promise<void> {
  clearSourceMapCache();
  await closeToolkitState();
}
