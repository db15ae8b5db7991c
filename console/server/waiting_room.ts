/**
 * Connections that have not authenticated yet, bounded, and who leaves
 * first when a newcomer needs room. Opening connections costs an attacker
 * nothing, so the room is bounded; but evicting the oldest alone lets a
 * flood of connections that send nothing push out the operator's before it
 * has said hello. So a connection's standing follows its progress:
 *
 * 1. `failed`: told its token was wrong, waiting out the pause: leaves first;
 * 2. `silent`: has sent no hello (or token) yet;
 * 3. `greeted`: sent a valid hello and is answering the challenge: leaves
 *    only when nobody else can.
 *
 * In the first stage that holds anyone, the peer (`peer.ts`) holding the
 * most connections there loses its oldest: a flood from one address pushes
 * out its own connections, not another peer's. And no `silent` or
 * `greeted` connection is pushed out before it has had `minStayMs` in its
 * stage (time enough for a client to say hello, or to answer the
 * challenge, on a loaded machine): until then the newcomer waits
 * ({@linkcode WaitingRoom.waitMs}), in the kernel's backlog rather than in
 * the room. Under a flood, connections
 * are then taken in at most `capacity / minStayMs` a second, and every one
 * of them, the operator's included, gets its time.
 *
 * @module
 */

/** How far a connection has come in its handshake. */
export type Stage = "failed" | "silent" | "greeted";

/** The order in which stages give up their connections. */
const EVICTION_ORDER: readonly Stage[] = ["failed", "silent", "greeted"];

interface Guest {
  peer: string;
  stage: Stage;
  /** When it entered its stage. */
  since: number;
  evict: (stage: Stage) => void;
}

/** Options for {@linkcode WaitingRoom}. */
export interface WaitingRoomOptions {
  /** The most connections waiting at once (at least 1). */
  capacity: number;
  /**
   * The least time a `silent` or `greeted` connection keeps its place, in
   * milliseconds.
   */
  minStayMs: number;
  /** The clock, in milliseconds (tests pass their own). */
  now?: () => number;
}

/**
 * The waiting room of unauthenticated connections.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WaitingRoom } from "./waiting_room.ts";
 * let now = 0;
 * const evicted: string[] = [];
 * const room = new WaitingRoom<string>({ capacity: 2, minStayMs: 250, now: () => now });
 * room.enter("operator", "loopback", () => evicted.push("operator"));
 * room.advance("operator", "greeted"); // its hello arrived
 * room.enter("idle 1", "loopback", () => evicted.push("idle 1"));
 * assert.equal(room.waitMs(), 250); // full, and nobody has had its time
 * now = 250;
 * assert.equal(room.waitMs(), 0);
 * room.enter("idle 2", "loopback", () => evicted.push("idle 2"));
 * assert.deepEqual(evicted, ["idle 1"]); // the silent one made room
 * ```
 */
export class WaitingRoom<K> {
  #capacity: number;
  #minStayMs: number;
  #now: () => number;
  /** Every guest, oldest first within each stage's own map. */
  #stages = new Map<Stage, Map<K, Guest>>(
    EVICTION_ORDER.map((stage) => [stage, new Map()]),
  );
  /** How many guests each peer has in each stage, kept as they move. */
  #peerCounts = new Map<Stage, Map<string, number>>(
    EVICTION_ORDER.map((stage) => [stage, new Map()]),
  );
  /** Where each guest is, so finding one costs no search. */
  #guests = new Map<K, Guest>();

  /** @param options The capacity and the least stay. */
  constructor(options: WaitingRoomOptions) {
    const { capacity, minStayMs } = options;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(
        `The most unauthenticated connections must be an integer >= 1: received ${capacity}`,
      );
    }
    if (!(minStayMs >= 0) || !Number.isFinite(minStayMs)) {
      throw new RangeError(
        `The least stay of an unauthenticated connection must be a finite number of milliseconds >= 0: received ${minStayMs}`,
      );
    }
    this.#capacity = capacity;
    this.#minStayMs = minStayMs;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Connections waiting now. */
  get size(): number {
    return this.#guests.size;
  }

  /**
   * How long a newcomer must wait for room: 0 when there is a free place or
   * a connection that may be pushed out.
   *
   * @returns Milliseconds.
   */
  waitMs(): number {
    if (this.#guests.size < this.#capacity) return 0;
    const candidate = this.#candidate(this.#now());
    return candidate === undefined ? 0 : Math.ceil(candidate.waitMs);
  }

  /**
   * Lets a new connection in, `silent`; when the room is full, pushes one
   * out first (calling its `evict`, after it has left the room). Call
   * {@linkcode WaitingRoom.waitMs} first: when nobody may leave yet, the
   * room grows past its capacity rather than evict early.
   *
   * @param key The connection.
   * @param peer Its peer.
   * @param evict Closes it, should it be pushed out; told the stage it was
   * in.
   */
  enter(key: K, peer: string, evict: (stage: Stage) => void): void {
    const now = this.#now();
    if (this.#guests.size >= this.#capacity) {
      const victim = this.#candidate(now);
      if (victim !== undefined && victim.waitMs === 0) {
        const guest = this.#guests.get(victim.key)!;
        this.#remove(victim.key, guest);
        guest.evict(victim.stage);
      }
    }
    this.#add(key, { peer, stage: "silent", since: now, evict });
  }

  /**
   * Moves a waiting connection to another stage (it becomes the newest
   * there, with its own time to stay).
   *
   * @param key The connection.
   * @param stage Where it is now.
   */
  advance(key: K, stage: Stage): void {
    const guest = this.#guests.get(key);
    if (guest === undefined || guest.stage === stage) return;
    this.#remove(key, guest);
    guest.stage = stage;
    guest.since = this.#now();
    this.#add(key, guest);
  }

  /**
   * Lets a connection out (authenticated, refused or closed); unknown ones
   * are ignored.
   *
   * @param key The connection.
   */
  leave(key: K): void {
    const guest = this.#guests.get(key);
    if (guest !== undefined) this.#remove(key, guest);
  }

  #add(key: K, guest: Guest): void {
    this.#guests.set(key, guest);
    this.#stages.get(guest.stage)!.set(key, guest);
    const counts = this.#peerCounts.get(guest.stage)!;
    counts.set(guest.peer, (counts.get(guest.peer) ?? 0) + 1);
  }

  #remove(key: K, guest: Guest): void {
    this.#guests.delete(key);
    this.#stages.get(guest.stage)!.delete(key);
    const counts = this.#peerCounts.get(guest.stage)!;
    const count = counts.get(guest.peer)! - 1;
    if (count === 0) counts.delete(guest.peer);
    else counts.set(guest.peer, count);
  }

  /**
   * Who leaves for a newcomer: in the first stage that holds anyone, the
   * oldest guest of the peer holding the most there; `wait` when it has not
   * had its time yet (a `failed` one has no time to have).
   */
  #candidate(
    now: number,
  ): { key: K; stage: Stage; waitMs: number } | undefined {
    for (const stage of EVICTION_ORDER) {
      const guests = this.#stages.get(stage)!;
      if (guests.size === 0) continue;
      let busiest = "";
      let most = 0;
      for (const [peer, count] of this.#peerCounts.get(stage)!) {
        if (count > most) [busiest, most] = [peer, count];
      }
      // Usually the first guest (one peer floods); else a walk to its oldest.
      for (const [key, guest] of guests) {
        if (guest.peer !== busiest) continue;
        const waitMs = stage === "failed"
          ? 0
          : Math.max(0, guest.since + this.#minStayMs - now);
        return { key, stage, waitMs };
      }
    }
    return undefined;
  }
}
