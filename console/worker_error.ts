/**
 * The error a worker's client reports when the worker fails: one that
 * could not load its code says which `--allow-read` to add.
 *
 * @module
 */

/**
 * Describes a worker's failure for the operator.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { workerError } from "./worker_error.ts";
 *
 * const folder = new URL("file:///srv/app/console/eval/");
 * assert.equal(
 *   workerError("Parse worker", folder, 'Requires read access to "x"').message,
 *   'Parse worker could not load its code: run with --allow-read=/srv/app/console/eval/ (Requires read access to "x")',
 * );
 * assert.match(
 *   workerError("Parse worker", [folder, new URL("../npm/", folder)], "x: Requires read access").message,
 *   /--allow-read=\/srv\/app\/console\/eval\/,\/srv\/app\/console\/npm\/ /,
 * );
 * assert.equal(
 *   workerError("Parse worker", folder, "boom").message,
 *   "Parse worker failed: boom",
 * );
 * ```
 *
 * @param worker The worker's name, as a sentence starts it.
 * @param folders The folders of the worker's modules (one or several).
 * @param message What the worker's error event said.
 * @returns The error to report.
 */
export function workerError(
  worker: string,
  folders: URL | URL[],
  message: string,
): Error {
  if (/Requires read access/.test(message)) {
    const paths = [folders].flat().map((folder) =>
      folder.protocol === "file:"
        ? decodeURIComponent(folder.pathname)
        : folder.href
    );
    return new Error(
      `${worker} could not load its code: run with --allow-read=${
        paths.join(",")
      } (${message})`,
    );
  }
  return new Error(`${worker} failed: ${message}`);
}
