/**
 * The order of use of cache keys, for least-recently-used eviction.
 *
 * Why not just re-insert an entry into the `Map` on every hit (a `Map`
 * iterates in insertion order)? In V8 a deleted `Map` entry stays in its
 * hash chain until the table is rebuilt, so deleting and re-adding the same
 * hot key makes every later lookup of it walk all its dead copies: with
 * 100 000 entries a hit took ~60 µs instead of ~0.05 µs. A doubly linked
 * list moves a key with a few pointer writes and leaves the `Map` alone.
 *
 * @module
 */

/** One key in the list. */
interface Node {
  key: string;
  older: Node | undefined;
  newer: Node | undefined;
}

/**
 * Keys ordered from least to most recently used; every operation is O(1).
 *
 * @example
 * ```ts
 * import { Recency } from "./recency.ts";
 * import assert from "node:assert/strict";
 *
 * const recency = new Recency();
 * recency.touch("a");
 * recency.touch("b");
 * recency.touch("a");
 * assert.equal(recency.removeOldest(), "b");
 * ```
 */
export class Recency {
  #nodes = new Map<string, Node>();
  #oldest: Node | undefined;
  #newest: Node | undefined;

  /** How many keys are tracked. */
  get size(): number {
    return this.#nodes.size;
  }

  /**
   * Marks `key` as the most recently used, adding it when new.
   *
   * @param key The key used.
   */
  touch(key: string): void {
    let node = this.#nodes.get(key);
    if (node === undefined) {
      node = { key, older: undefined, newer: undefined };
      this.#nodes.set(key, node);
    } else if (node === this.#newest) {
      return;
    } else {
      this.#unlink(node);
    }
    node.older = this.#newest;
    if (this.#newest !== undefined) this.#newest.newer = node;
    this.#newest = node;
    this.#oldest ??= node;
  }

  /**
   * Removes and returns the least recently used key.
   *
   * @returns The key, or `undefined` when there is none.
   */
  removeOldest(): string | undefined {
    const node = this.#oldest;
    if (node === undefined) return undefined;
    this.#unlink(node);
    this.#nodes.delete(node.key);
    return node.key;
  }

  /** Forgets every key. */
  clear(): void {
    this.#nodes.clear();
    this.#oldest = this.#newest = undefined;
  }

  #unlink(node: Node): void {
    if (node.older !== undefined) node.older.newer = node.newer;
    else this.#oldest = node.newer;
    if (node.newer !== undefined) node.newer.older = node.older;
    else this.#newest = node.older;
    node.older = node.newer = undefined;
  }
}
