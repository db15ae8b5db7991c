/**
 * What a stop signal means: the first asks for a graceful shutdown, a later
 * one for an immediate exit, and a copy of the first that arrives at once is
 * the same request twice (a terminal's Ctrl-C and a group kill reach the
 * service both from the kernel and through `deno task`, which forwards them).
 *
 * @module
 */

import { EXIT_SIGNALS } from "../console/process.ts";

/**
 * The signals that stop the service gracefully: every terminating signal
 * the process can catch (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR2,
 * SIGALRM, ... on this platform; see console/exit_signals.ts for the ones
 * left out and why).
 */
export const STOP_SIGNALS: readonly Deno.Signal[] = EXIT_SIGNALS;

/**
 * How long after the first stop signal the same signal still counts as its
 * copy. `deno task` forwards within milliseconds; a person pressing Ctrl-C
 * again takes far longer than this.
 */
export const REPEAT_WINDOW_MS = 250;

/** What to do about one stop signal. */
export type StopDecision = "stop" | "repeat" | "exit";

/**
 * Counts stop requests: one shutdown per request, however many copies of
 * its signal arrive.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StopRequests } from "./stop_signals.ts";
 * const requests = new StopRequests();
 * assert.equal(requests.receive("SIGTERM", 1000), "stop");
 * assert.equal(requests.receive("SIGTERM", 1003), "repeat"); // the forwarded copy
 * assert.equal(requests.receive("SIGINT", 2500), "exit"); // a second request
 * ```
 */
export class StopRequests {
  #first: { signal: Deno.Signal; at: number } | undefined;

  /**
   * Classifies a signal as the stop request, a copy of it, or a second
   * request.
   *
   * @param signal The signal received.
   * @param now Its arrival time in milliseconds (`performance.now()`).
   * @returns `"stop"` for the first, `"repeat"` for the same signal within
   * {@linkcode REPEAT_WINDOW_MS} of it, `"exit"` for any other later one.
   */
  receive(signal: Deno.Signal, now: number): StopDecision {
    if (this.#first === undefined) {
      this.#first = { signal, at: now };
      return "stop";
    }
    const { signal: first, at } = this.#first;
    return signal === first && now - at < REPEAT_WINDOW_MS ? "repeat" : "exit";
  }

  /** Whether a stop was requested. */
  get stopping(): boolean {
    return this.#first !== undefined;
  }
}
