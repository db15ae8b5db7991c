/**
 * The error for "attach will not touch this target": one line saying why
 * and what to do instead (exit 2, like the client's connection failures).
 *
 * @module
 */

import { ConsoleClientError } from "../client/connection.ts";

/**
 * Attach refused to touch the target, or could not reach it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AttachRefusedError } from "./refusal.ts";
 * const error = new AttachRefusedError("no process with pid 1");
 * assert.equal(error.name, "AttachRefusedError");
 * ```
 */
export class AttachRefusedError extends ConsoleClientError {
  /** @param message Why, and what to do instead. */
  constructor(message: string) {
    super(message);
    this.name = "AttachRefusedError";
  }
}
