/**
 * Splits a byte stream into lines, bounded in length: an oversize line is
 * skipped up to its end and reported, so framing survives it.
 *
 * @module
 */

/** What {@linkcode LineReader.next} yields. */
export type LineEvent =
  | { kind: "line"; line: string }
  | { kind: "oversize"; bytes: number }
  | { kind: "eof" };

/** Anything with `read` like a `Deno.Conn`. */
export interface ByteSource {
  /** Reads into `buffer`; `null` at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * The buffer a reader starts with; it doubles as lines need. Small: the
 * console opens one per connection, and under a flood of connections the
 * allocation was the largest cost of each.
 */
const INITIAL_BYTES = 1024;

/** Stateless (no `stream`), so one serves every reader. */
const decoder = new TextDecoder();

/** Reads `\n`-terminated lines (a trailing `\r` is dropped) from a source. */
export class LineReader {
  #source: ByteSource;
  #buffer = new Uint8Array(INITIAL_BYTES);
  #start = 0;
  #end = 0;
  #eof = false;
  /** The longest line accepted, in bytes; longer lines are skipped. */
  maxBytes: number;

  /**
   * @param source Where bytes come from.
   * @param maxBytes The longest line accepted, in bytes.
   */
  constructor(source: ByteSource, maxBytes: number) {
    this.#source = source;
    this.maxBytes = maxBytes;
  }

  /** Whether bytes are waiting that have not been returned as lines yet. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Reads the next line. A line longer than `maxBytes` is consumed up to its
   * newline and reported as `oversize`; a last line without a newline is
   * returned at the end of the stream.
   *
   * @returns The next line, an oversize report, or the end.
   */
  async next(): Promise<LineEvent> {
    let skipped = 0;
    let scanFrom = this.#start;
    while (true) {
      const newline = this.#buffer.subarray(scanFrom, this.#end).indexOf(
        NEWLINE,
      );
      if (newline !== -1) {
        const lineEnd = scanFrom + newline;
        const length = lineEnd - this.#start;
        if (skipped > 0 || length > this.maxBytes) {
          this.#start = lineEnd + 1;
          return { kind: "oversize", bytes: skipped + length };
        }
        const line = this.#decode(this.#start, lineEnd);
        this.#start = lineEnd + 1;
        return { kind: "line", line };
      }
      scanFrom = this.#end;
      if (this.#end - this.#start > this.maxBytes) {
        // Too long already: forget what we have and skip to the newline.
        skipped += this.#end - this.#start;
        this.#start = this.#end = scanFrom = 0;
      }
      if (this.#eof) {
        if (skipped > 0) return { kind: "oversize", bytes: skipped };
        if (this.#end > this.#start) {
          const line = this.#decode(this.#start, this.#end);
          this.#start = this.#end;
          return { kind: "line", line };
        }
        return { kind: "eof" };
      }
      const fillFrom = this.#end - this.#start;
      await this.#fill();
      scanFrom = this.#start + fillFrom;
    }
  }

  async #fill(): Promise<void> {
    if (this.#start > 0) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#end === this.#buffer.length) {
      const bigger = new Uint8Array(this.#buffer.length * 2);
      bigger.set(this.#buffer);
      this.#buffer = bigger;
    }
    const n = await this.#source.read(this.#buffer.subarray(this.#end));
    if (n === null) this.#eof = true;
    else this.#end += n;
  }

  #decode(start: number, end: number): string {
    if (end > start && this.#buffer[end - 1] === CARRIAGE_RETURN) end--;
    return decoder.decode(this.#buffer.subarray(start, end));
  }
}
