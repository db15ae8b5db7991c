/**
 * Moments when the process's memory says nothing about leaks: a heap
 * capture holds its snapshot text in the heap (the floor after a GC during
 * it is the snapshot's, not the service's) and leaves RSS higher for good
 * (the allocator keeps what the capture used). The toolkit marks such work
 * here; the leak alarm ignores the samples taken during it and shortly
 * after. No dependencies: the alarm and the toolkit both import it at no
 * cost.
 *
 * @module
 */

/** The longest a disturbance may last: one that is never ended expires. */
export const MAX_DISTURBANCE_MS = 5 * 60_000;

interface Disturbance {
  reason: string;
  started: number;
  ended: number | undefined;
}

const open = new Set<Disturbance>();
let last: Disturbance | undefined;

/**
 * Marks the start of memory-disturbing work.
 *
 * @param reason What, in a few words (`"heap capture"`).
 * @returns Marks its end; calling it again does nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { beginDisturbance, recentDisturbance } from "./memory_disturbance.ts";
 * const end = beginDisturbance("heap capture");
 * assert.equal(recentDisturbance(1000)?.reason, "heap capture");
 * end();
 * assert.equal(recentDisturbance(1000)?.reason, "heap capture"); // settling
 * assert.equal(recentDisturbance(0), undefined);
 * ```
 */
export function beginDisturbance(reason: string): () => void {
  const disturbance: Disturbance = {
    reason,
    started: performance.now(),
    ended: undefined,
  };
  open.add(disturbance);
  return () => {
    if (disturbance.ended !== undefined) return;
    disturbance.ended = performance.now();
    open.delete(disturbance);
    if (last === undefined || (last.ended ?? 0) <= disturbance.ended) {
      last = disturbance;
    }
  };
}

/** A disturbance that runs now or ended lately. */
export interface RecentDisturbance {
  /** What it was. */
  reason: string;
  /** When it started (`performance.now()` milliseconds). */
  started: number;
  /** When it ended, or undefined while it runs. */
  ended: number | undefined;
}

/**
 * The disturbance that runs now, or the last one if it ended less than
 * `settleMs` ago. One left open longer than {@link MAX_DISTURBANCE_MS}
 * counts as ended then.
 *
 * @param settleMs How long after its end a disturbance still counts.
 * @param now The time (`performance.now()` milliseconds).
 * @returns The disturbance, or undefined when memory is undisturbed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { beginDisturbance, recentDisturbance } from "./memory_disturbance.ts";
 * beginDisturbance("heap capture")();
 * const ended = recentDisturbance(1000)!;
 * assert.equal(recentDisturbance(1000, ended.ended! + 999)?.reason, "heap capture");
 * assert.equal(recentDisturbance(1000, ended.ended! + 1001), undefined);
 * ```
 */
export function recentDisturbance(
  settleMs: number,
  now: number = performance.now(),
): RecentDisturbance | undefined {
  for (const d of open) {
    if (now - d.started < MAX_DISTURBANCE_MS) return { ...d };
    open.delete(d);
    d.ended = d.started + MAX_DISTURBANCE_MS;
    if (last === undefined || (last.ended ?? 0) <= d.ended) last = d;
  }
  if (last !== undefined && now - last.ended! < settleMs) return { ...last };
  return undefined;
}

/**
 * The last disturbance that ended, if any.
 *
 * @returns Its reason and times.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { beginDisturbance, lastDisturbance } from "./memory_disturbance.ts";
 * beginDisturbance("snapshot to file")();
 * assert.equal(lastDisturbance()?.reason, "snapshot to file");
 * ```
 */
export function lastDisturbance(): RecentDisturbance | undefined {
  return last === undefined ? undefined : { ...last };
}
