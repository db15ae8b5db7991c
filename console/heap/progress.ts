/**
 * The one progress-callback type: the heap parser, the analysis phases, the
 * worker and its client, the toolkit and the console session report through
 * it, and the console client shows what arrives. It lives here because
 * `console/heap/` imports nothing from the rest of the console.
 *
 * @module
 */

/**
 * Reports progress of a long operation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProgressFn } from "./progress.ts";
 * const seen: string[] = [];
 * const progress: ProgressFn = (label, done, total) => {
 *   seen.push(`${label} ${done}/${total}`);
 * };
 * progress("analyse: paths", 1, 4);
 * assert.deepEqual(seen, ["analyse: paths 1/4"]);
 * ```
 *
 * @param label What is running: `parse`, `write`, `analyse: paths`...
 * @param done Steps (or characters) done.
 * @param total Steps (or characters) in total.
 */
export type ProgressFn = (label: string, done: number, total: number) => void;
