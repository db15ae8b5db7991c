/**
 * A time bound for one exchange with a console (connect, authenticate,
 * evaluate): at the deadline the pending evaluation is sent an interrupt
 * and the connection closed, so the instance's session slot is freed at
 * once instead of when the evaluation ends.
 *
 * @module
 */

import type { ConsoleConnection } from "./connection.ts";

/** What {@linkcode withinDeadline} returns when time ran out. */
export const TIMED_OUT: unique symbol = Symbol("timed out");

/**
 * Runs `attempt` for at most `timeoutMs`. `attempt` reports the connection
 * it opens through `opened`, so that the deadline can hang it up (also when
 * it opens only after the deadline).
 *
 * @param timeoutMs The time bound.
 * @param attempt The exchange.
 * @returns What `attempt` returned, or {@linkcode TIMED_OUT}.
 * @throws What `attempt` throws before the deadline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TIMED_OUT, withinDeadline } from "./deadline.ts";
 * assert.equal(await withinDeadline(1000, () => Promise.resolve(7)), 7);
 * const never = await withinDeadline(10, () => new Promise<number>(() => {}));
 * assert.equal(never, TIMED_OUT);
 * ```
 */
export async function withinDeadline<T>(
  timeoutMs: number,
  attempt: (opened: (connection: ConsoleConnection) => void) => Promise<T>,
): Promise<T | typeof TIMED_OUT> {
  let connection: ConsoleConnection | undefined;
  let timedOut = false;
  const work = attempt((opened) => {
    connection = opened;
    if (timedOut) opened.close().catch(() => {});
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
  });
  try {
    const result = await Promise.race([work, deadline]);
    if (result === TIMED_OUT) {
      timedOut = true;
      // Its failure, once the connection is closed, is expected.
      work.catch(() => {});
      if (connection !== undefined) abandon(connection);
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** Stops waiting: interrupt the pending evaluation, then hang up. */
function abandon(connection: ConsoleConnection): void {
  connection.interrupt().catch(() => {
    // The close below ends it either way.
  });
  connection.close().catch(() => {});
}
