/**
 * A pool of node-sized `Uint32Array`s, so analysis phases hand their
 * temporary arrays on instead of leaving them to the GC (which keeps peak
 * memory near the live data rather than live data plus garbage).
 *
 * @module
 */

/**
 * Node-sized scratch arrays.
 *
 * @example
 * ```ts
 * import { Scratch } from "./scratch.ts";
 * const pool = new Scratch(10);
 * const a = pool.take();
 * pool.give(a);
 * if (pool.take() !== a) throw new Error("not reused");
 * ```
 */
export class Scratch {
  /** Length of every array (node count + 1). */
  readonly size: number;
  #free: Uint32Array[] = [];

  /**
   * Creates the instance.
   *
   * @param nodeCount Nodes in the graph.
   */
  constructor(nodeCount: number) {
    this.size = nodeCount + 1;
  }

  /**
   * An array of `size` elements, contents unspecified.
   *
   * @returns An array of `size` elements, contents unspecified.
   */
  take(): Uint32Array {
    return this.#free.pop() ?? new Uint32Array(this.size);
  }

  /**
   * An array of `size` zeros.
   *
   * @returns An array of `size` zeros.
   */
  takeZeroed(): Uint32Array {
    const array = this.#free.pop();
    if (!array) return new Uint32Array(this.size);
    array.fill(0);
    return array;
  }

  /**
   * Frees every pooled array now rather than at the next GC, by detaching
   * its buffer (`ArrayBuffer.prototype.transfer`).
   */
  dispose(): void {
    for (const a of this.#free.splice(0)) free(a);
  }

  /**
   * Creates the instance.
   *
   * @param arrays Arrays no longer needed.
   */
  give(...arrays: Uint32Array[]): void {
    for (const a of arrays) if (a.length === this.size) this.#free.push(a);
  }
}

/**
 * Frees a typed array's memory now by detaching its buffer; the array is
 * empty afterwards.
 *
 * @param array The array (must own its whole buffer).
 */
export function free(array: Uint32Array | Float64Array | Uint8Array): void {
  (array.buffer as ArrayBuffer).transfer(0);
}
