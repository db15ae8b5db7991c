/**
 * The two figures of a heap snapshot that decide what the next capture
 * costs, read from its text as it streams by: the node count and the
 * number of distinct integer edge names V8 had to make.
 *
 * V8's snapshot generator names some edges by an index: the weak edges
 * from `(Internalized strings)` (one per internalized string: every string
 * key of a Map or Set), the slots of hash tables and other arrays. Each
 * distinct index name it has not seen as a string before costs a
 * fixed-size buffer (4 KiB in Deno 2.9.6, 1 KiB in Node 20) for the whole
 * capture: 250 k Map entries cost ~2 GiB. An index name that is also some
 * node's name (a string `"42"` in the heap) was stored at its own size and
 * costs nothing more, so the figure is: integer strings in the snapshot's
 * string table that no node is named by.
 *
 * @module
 */

/** What a snapshot is made of, for the cost model. */
export interface SnapshotShape {
  /** Nodes (`snapshot.node_count`). */
  nodes: number;
  /** Edges (`snapshot.edge_count`). */
  edges: number;
  /** Distinct integer edge names that are no node's name. */
  indexNames: number;
  /** Characters of snapshot text. */
  chars: number;
  /** The highest node id (V8's heap object ids). */
  maxNodeId: number;
}

const enum Phase {
  Header,
  Nodes,
  Skip,
  Strings,
  Done,
}

const NODES_MARK = '"nodes":[';
const STRINGS_MARK = '"strings":[';
const DIGIT_0 = 48;
const DIGIT_9 = 57;
const COMMA = 44;
const CLOSE = 93;
const QUOTE = 34;
const BACKSLASH = 92;

/**
 * Reads a snapshot's text chunk by chunk (in order, any sizes) and counts
 * its shape. Keeps one bit per string-table entry and a few counters, never
 * the text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SnapshotShapeScanner } from "./snapshot_shape.ts";
 * const text = '{"snapshot":{"meta":{"node_fields":["type","name","id"]},' +
 *   '"node_count":2,"edge_count":1},"nodes":[0,1,1,0,0,3],' +
 *   '"edges":[0,3,0],"strings":["a","7","8"]}';
 * const scanner = new SnapshotShapeScanner();
 * for (const piece of text.match(/.{1,5}/g)!) scanner.push(piece);
 * // "7" names a node; "8" (an edge's name) does not.
 * assert.deepEqual(scanner.result(), {
 *   nodes: 2, edges: 1, indexNames: 1, chars: text.length, maxNodeId: 3,
 * });
 * ```
 */
export class SnapshotShapeScanner {
  #phase = Phase.Header;
  #header = "";
  #carry = "";
  #chars = 0;
  #nodes = 0;
  #edges = 0;
  #fieldCount = 0;
  #nameField = 1;
  #idField = 2;
  #maxNodeId = 0;
  // Nodes phase.
  #field = 0;
  #number = 0;
  #inNumber = false;
  #named = new Uint8Array(1024);
  // Strings phase.
  #index = 0;
  #inString = false;
  #escaped = false;
  #digitsOnly = true;
  #length = 0;
  #indexNames = 0;

  /**
   * Reads the next piece of text.
   *
   * @param text The piece.
   */
  push(text: string): void {
    this.#chars += text.length;
    switch (this.#phase) {
      case Phase.Header:
        this.#readHeader(text);
        return;
      case Phase.Nodes:
        this.#readNodes(text, 0);
        return;
      case Phase.Skip:
        this.#skip(text);
        return;
      case Phase.Strings:
        this.#readStrings(text, 0);
        return;
      case Phase.Done:
        return;
    }
  }

  /**
   * The counts. Throws when the text was not a whole snapshot.
   *
   * @returns The shape.
   */
  result(): SnapshotShape {
    if (this.#phase !== Phase.Done) {
      throw new Error(
        "Heap snapshot text ended early: no complete string table",
      );
    }
    return {
      nodes: this.#nodes,
      edges: this.#edges,
      indexNames: this.#indexNames,
      chars: this.#chars,
      maxNodeId: this.#maxNodeId,
    };
  }

  #readHeader(text: string): void {
    this.#header += text;
    const at = this.#header.indexOf(NODES_MARK);
    if (at < 0) {
      if (this.#header.length > 1 << 20) {
        throw new Error("Not a heap snapshot: no nodes array in its first MiB");
      }
      return;
    }
    const head = this.#header.slice(0, at);
    const rest = this.#header.slice(at + NODES_MARK.length);
    this.#header = "";
    const meta = head.match(/"node_fields":\[([^\]]*)\]/);
    const fields = meta ? JSON.parse(`[${meta[1]}]`) as string[] : [];
    this.#fieldCount = fields.length;
    this.#nameField = fields.indexOf("name");
    this.#idField = fields.indexOf("id");
    this.#nodes = Number(head.match(/"node_count":(\d+)/)?.[1]);
    this.#edges = Number(head.match(/"edge_count":(\d+)/)?.[1]);
    if (this.#fieldCount === 0 || this.#nameField < 0 || !(this.#nodes >= 0)) {
      throw new Error("Not a heap snapshot: no node fields in its header");
    }
    this.#phase = Phase.Nodes;
    this.#readNodes(rest, 0);
  }

  #readNodes(text: string, from: number): void {
    const count = this.#fieldCount;
    const nameField = this.#nameField;
    const idField = this.#idField;
    for (let i = from; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= DIGIT_0 && c <= DIGIT_9) {
        this.#number = this.#number * 10 + (c - DIGIT_0);
        this.#inNumber = true;
        continue;
      }
      if (this.#inNumber) {
        if (this.#field === nameField) this.#markNamed(this.#number);
        else if (this.#field === idField && this.#number > this.#maxNodeId) {
          this.#maxNodeId = this.#number;
        }
        this.#field = this.#field + 1 === count ? 0 : this.#field + 1;
        this.#number = 0;
        this.#inNumber = false;
      }
      if (c === CLOSE) {
        this.#phase = Phase.Skip;
        this.#skip(text.slice(i + 1));
        return;
      }
    }
  }

  #markNamed(index: number): void {
    if (index >= this.#named.length * 8) {
      let size = this.#named.length;
      while (index >= size * 8) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#named);
      this.#named = grown;
    }
    this.#named[index >> 3]! |= 1 << (index & 7);
  }

  #isNamed(index: number): boolean {
    return index < this.#named.length * 8 &&
      (this.#named[index >> 3]! & (1 << (index & 7))) !== 0;
  }

  #skip(text: string): void {
    const joined = this.#carry + text;
    const at = joined.indexOf(STRINGS_MARK);
    if (at < 0) {
      this.#carry = joined.slice(-(STRINGS_MARK.length - 1));
      return;
    }
    this.#carry = "";
    this.#phase = Phase.Strings;
    this.#readStrings(joined, at + STRINGS_MARK.length);
  }

  #readStrings(text: string, from: number): void {
    for (let i = from; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.#inString) {
        if (this.#escaped) {
          this.#escaped = false;
          this.#digitsOnly = false;
          this.#length++;
        } else if (c === BACKSLASH) {
          this.#escaped = true;
        } else if (c === QUOTE) {
          this.#inString = false;
          if (
            this.#digitsOnly && this.#length > 0 && !this.#isNamed(this.#index)
          ) {
            this.#indexNames++;
          }
          this.#index++;
        } else {
          if (c < DIGIT_0 || c > DIGIT_9) this.#digitsOnly = false;
          this.#length++;
        }
        continue;
      }
      if (c === QUOTE) {
        this.#inString = true;
        this.#digitsOnly = true;
        this.#length = 0;
      } else if (c === CLOSE) {
        this.#phase = Phase.Done;
        return;
      } else if (c !== COMMA && c > 32) {
        this.#phase = Phase.Done;
        return;
      }
    }
  }
}
