/**
 * The budget of failed authentications, per peer (`peer.ts`) and overall,
 * across connections: each attempt to check a token takes one unit from
 * its peer's bucket and from the overall one, a success gives it back, and
 * the buckets refill at a steady rate. An attempt that finds a bucket empty
 * is refused before its token is checked, so it teaches the sender
 * nothing: the guesses anyone can make are bounded by the refill rate, and
 * opening more connections does not raise it.
 *
 * @module
 */

/** Options for {@linkcode AuthThrottle}. */
export interface AuthThrottleOptions {
  /** Failures a peer may make at once before it is slowed down; 10. */
  burst?: number;
  /** Failures a peer regains per second; 0.5 (one every 2 s). */
  perSecond?: number;
  /** Failures all peers together may make at once; 30. */
  overallBurst?: number;
  /** Failures all peers together regain per second; 2. */
  overallPerSecond?: number;
}

/** An attempt the throttle let through: say how it ended. */
export interface AuthAttempt {
  /** Gives the unit back: the token was right (or nothing was guessed). */
  succeeded(): void;
}

/** An attempt the throttle refused, unchecked. */
export interface AuthRefusal {
  /** Whose budget is spent: the peer's own, or everyone's. */
  scope: "peer" | "overall";
  /** When a unit is back, in milliseconds. */
  retryAfterMs: number;
}

/**
 * The most peers remembered; beyond it, refilled ones are forgotten first,
 * then the oldest (whose next attempt is still bounded by the overall
 * budget).
 */
const MAX_PEERS = 4096;

/** A refilling budget. */
class Bucket {
  #level: number;
  #at: number;

  constructor(readonly burst: number, readonly perSecond: number, now: number) {
    this.#level = burst;
    this.#at = now;
  }

  level(now: number): number {
    this.#level = Math.min(
      this.burst,
      this.#level + (now - this.#at) / 1000 * this.perSecond,
    );
    this.#at = now;
    return this.#level;
  }

  add(units: number, now: number): void {
    this.#level = Math.min(this.burst, this.level(now) + units);
  }

  /** How long until a whole unit is there. */
  waitMs(now: number): number {
    const missing = 1 - this.level(now);
    if (missing <= 0) return 0;
    return this.perSecond > 0 ? missing / this.perSecond * 1000 : Infinity;
  }
}

/**
 * Throttles failed authentications per peer and overall.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AuthThrottle } from "./auth_throttle.ts";
 * const throttle = new AuthThrottle({ burst: 2, perSecond: 1 });
 * assert.ok("succeeded" in throttle.attempt("10.0.0.5")); // a wrong token
 * assert.ok("succeeded" in throttle.attempt("10.0.0.5")); // another
 * const refused = throttle.attempt("10.0.0.5");
 * assert.ok("scope" in refused && refused.scope === "peer");
 * // Another peer has its own budget.
 * assert.ok("succeeded" in throttle.attempt("10.0.0.6"));
 * ```
 */
export class AuthThrottle {
  #options: Required<AuthThrottleOptions>;
  #now: () => number;
  #peers = new Map<string, Bucket>();
  #overall: Bucket;

  /**
   * @param options The budgets.
   * @param now The clock, in milliseconds (tests pass their own).
   */
  constructor(
    options: AuthThrottleOptions = {},
    now: () => number = () => performance.now(),
  ) {
    this.#options = {
      burst: options.burst ?? 10,
      perSecond: options.perSecond ?? 0.5,
      overallBurst: options.overallBurst ?? 30,
      overallPerSecond: options.overallPerSecond ?? 2,
    };
    for (const [name, value] of Object.entries(this.#options)) {
      const least = name.endsWith("urst") ? 1 : 0;
      if (!(value >= least) || !Number.isFinite(value)) {
        throw new RangeError(
          `The authentication throttle's "${name}" must be a finite number >= ${least}: received ${value}`,
        );
      }
    }
    this.#now = now;
    this.#overall = new Bucket(
      this.#options.overallBurst,
      this.#options.overallPerSecond,
      now(),
    );
  }

  /**
   * Whether an attempt from `peer` would be refused now, without taking
   * anything: to refuse early (before a challenge) what would be refused.
   *
   * @param peer The peer.
   * @returns The refusal, or `undefined`.
   */
  check(peer: string): AuthRefusal | undefined {
    const now = this.#now();
    const own = this.#peers.get(peer);
    if (own !== undefined && own.level(now) < 1) {
      return { scope: "peer", retryAfterMs: own.waitMs(now) };
    }
    if (this.#overall.level(now) < 1) {
      return { scope: "overall", retryAfterMs: this.#overall.waitMs(now) };
    }
    return undefined;
  }

  /**
   * Takes one unit for an attempt from `peer`, or refuses it.
   *
   * @param peer The peer.
   * @returns The attempt (call `succeeded()` if the token was right), or
   * the refusal.
   */
  attempt(peer: string): AuthAttempt | AuthRefusal {
    const refusal = this.check(peer);
    if (refusal !== undefined) return refusal;
    const now = this.#now();
    const bucket = this.#peerBucket(peer, now);
    bucket.add(-1, now);
    this.#overall.add(-1, now);
    let settled = false;
    return {
      succeeded: () => {
        if (settled) return;
        settled = true;
        const at = this.#now();
        bucket.add(1, at);
        this.#overall.add(1, at);
      },
    };
  }

  #peerBucket(peer: string, now: number): Bucket {
    let bucket = this.#peers.get(peer);
    if (bucket === undefined) {
      if (this.#peers.size >= MAX_PEERS) this.#forget(now);
      bucket = new Bucket(this.#options.burst, this.#options.perSecond, now);
      this.#peers.set(peer, bucket);
    }
    return bucket;
  }

  /** Forgets refilled peers (nothing to remember), else the oldest. */
  #forget(now: number): void {
    for (const [peer, bucket] of this.#peers) {
      if (bucket.level(now) >= bucket.burst) this.#peers.delete(peer);
    }
    while (this.#peers.size >= MAX_PEERS) {
      this.#peers.delete(this.#peers.keys().next().value!);
    }
  }
}
