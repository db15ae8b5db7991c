/**
 * The snapshot's string table, kept as the text it arrived in: each string is
 * a (piece, start, end) triple decoded on demand, instead of one JS string per
 * entry (a 150 MB snapshot has ~1M strings, most never looked at).
 *
 * @module
 */

import { free } from "./scratch.ts";

const OWN = 0xffffffff;

/**
 * Strings of a heap snapshot, decoded lazily.
 *
 * @example
 * ```ts
 * import { StringTable } from "./strings.ts";
 * const table = new StringTable();
 * table.addSlice('["a\\"b","c"]', 2, 6, true);
 * table.addOwn("c");
 * if (table.get(0) !== 'a"b' || table.length !== 2) throw new Error("unexpected");
 * ```
 */
export class StringTable {
  #pieces: string[] = [];
  #lastPiece = "";
  #own: string[] = [];
  #piece: Uint32Array = new Uint32Array(1024);
  #start: Uint32Array = new Uint32Array(1024);
  #end: Uint32Array = new Uint32Array(1024);
  #escaped = new Uint8Array(1024);
  #length = 0;

  /** Number of strings. */
  get length(): number {
    return this.#length;
  }

  /**
   * Records the string between `start` and `end` (exclusive, without the
   * quotes) of a piece of snapshot text.
   *
   * @param text The piece of text.
   * @param start First character of the content.
   * @param end One past the last character of the content.
   * @param escaped Whether the content holds JSON escapes.
   */
  addSlice(text: string, start: number, end: number, escaped: boolean): void {
    if (text !== this.#lastPiece || this.#pieces.length === 0) {
      this.#pieces.push(text);
      this.#lastPiece = text;
    }
    const i = this.#slot();
    this.#piece[i] = this.#pieces.length - 1;
    this.#start[i] = start;
    this.#end[i] = end;
    this.#escaped[i] = escaped ? 1 : 0;
  }

  /**
   * Records an already decoded string.
   *
   * @param value The string.
   */
  addOwn(value: string): void {
    const i = this.#slot();
    this.#piece[i] = OWN;
    this.#start[i] = this.#own.length;
    this.#own.push(value);
  }

  /**
   * Decodes one string.
   *
   * @param index Position in the table.
   * @returns The string, or `""` when out of range.
   */
  get(index: number): string {
    if (index < 0 || index >= this.#length) return "";
    const piece = this.#piece[index]!;
    if (piece === OWN) return this.#own[this.#start[index]!]!;
    const text = this.#pieces[piece]!;
    const start = this.#start[index]!;
    const end = this.#end[index]!;
    return this.#escaped[index] === 1
      ? JSON.parse(text.slice(start - 1, end + 1))
      : text.slice(start, end);
  }

  /** Drops unused capacity once the table is complete. */
  trim(): void {
    const n = this.#length;
    const old = [this.#piece, this.#start, this.#end, this.#escaped];
    this.#piece = this.#piece.slice(0, n);
    this.#start = this.#start.slice(0, n);
    this.#end = this.#end.slice(0, n);
    this.#escaped = this.#escaped.slice(0, n);
    for (const a of old) free(a);
  }

  /**
   * Frees the table at once (its arrays and the text it points into), for
   * a snapshot read only for its ids: the next one should not be parsed on
   * top of it. The table is empty afterwards.
   */
  dispose(): void {
    for (const a of [this.#piece, this.#start, this.#end, this.#escaped]) {
      free(a);
    }
    this.#piece = new Uint32Array(0);
    this.#start = new Uint32Array(0);
    this.#end = new Uint32Array(0);
    this.#escaped = new Uint8Array(0);
    this.#pieces = [];
    this.#lastPiece = "";
    this.#own = [];
    this.#length = 0;
  }

  /**
   * Every string, decoded (for tests and small snapshots).
   *
   * @returns Every string, decoded (for tests and small snapshots).
   */
  toArray(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.#length; i++) out.push(this.get(i));
    return out;
  }

  #slot(): number {
    if (this.#length === this.#piece.length) {
      const size = Math.max(1024, this.#length * 2);
      this.#piece = grow(this.#piece, size);
      this.#start = grow(this.#start, size);
      this.#end = grow(this.#end, size);
      const escaped = new Uint8Array(size);
      escaped.set(this.#escaped);
      this.#escaped = escaped;
    }
    return this.#length++;
  }
}

function grow(array: Uint32Array, size: number): Uint32Array {
  const bigger = new Uint32Array(size);
  bigger.set(array);
  return bigger;
}
