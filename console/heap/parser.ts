/**
 * Incremental parser for V8 `.heapsnapshot` text: chunks go straight into
 * typed arrays, so a snapshot never exists as one string (V8 strings stop at
 * ~512 MiB) nor as a JSON object tree (which costs ~10x its text).
 *
 * @module
 */

import { StringTable } from "./strings.ts";

/** The `snapshot.meta` block of a V8 heap snapshot. */
export interface SnapshotMeta {
  /** Names of the fields of one node, e.g. `["type", "name", "id", ...]`. */
  node_fields: string[];
  /** Per node field, either a list of enum names or a scalar type name. */
  node_types: (string[] | string)[];
  /** Names of the fields of one edge: `["type", "name_or_index", "to_node"]`. */
  edge_fields: string[];
  /** Per edge field, either a list of enum names or a scalar type name. */
  edge_types: (string[] | string)[];
  /**
   * Names of the fields of one location, e.g. `["object_index", "script_id",
   * "line", "column"]` (absent in old snapshots).
   */
  location_fields?: string[];
}

/** A parsed snapshot: flat typed arrays as V8 writes them, plus the strings. */
export interface RawSnapshot {
  /** Field layout, read from the snapshot itself. */
  meta: SnapshotMeta;
  /** Number of nodes. */
  nodeCount: number;
  /** Number of edges. */
  edgeCount: number;
  /** `nodeCount * meta.node_fields.length` values. */
  nodes: Uint32Array;
  /** `edgeCount * meta.edge_fields.length` values; `to_node` is a field offset. */
  edges: Uint32Array;
  /**
   * Source positions of closures, `meta.location_fields.length` values each
   * (`object_index` is a node field offset; line and column are 0-based).
   */
  locations: Uint32Array;
  /** The string table that `name` fields index into. */
  strings: StringTable;
  /** Characters of snapshot text consumed. */
  textLength: number;
}

const enum State {
  Header,
  Key,
  Numbers,
  Strings,
  Skip,
  Done,
}

const HEADER_LIMIT = 64 * 1024 * 1024;
const ENCODER = new TextEncoder();
const NON_ASCII = /[\u0080-\uffff]/g;

/**
 * Parses a V8 heap snapshot fed in arbitrary pieces.
 *
 * @example
 * ```ts
 * import { SnapshotParser } from "./parser.ts";
 * const parser = new SnapshotParser();
 * parser.push('{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count"],');
 * parser.push('"node_types":[["synthetic"],"string","number","number","number"],');
 * parser.push('"edge_fields":["type","name_or_index","to_node"],"edge_types":[["weak"],"string_or_number","node"]},');
 * parser.push('"node_count":1,"edge_count":0},"nodes":[0,0,1,0,0],"edges":[],"strings":[""]}');
 * const snapshot = parser.finish();
 * if (snapshot.nodeCount !== 1) throw new Error("unexpected");
 * ```
 */
export class SnapshotParser {
  #state = State.Header;
  #header = "";
  #carry = "";
  #meta: SnapshotMeta | undefined;
  #nodeCount = 0;
  #edgeCount = 0;
  #nodes: Uint32Array = new Uint32Array(0);
  #edges: Uint32Array = new Uint32Array(0);
  #locations: Uint32Array = new Uint32Array(0);
  #strings = new StringTable();
  #partial = "";
  #inPartial = false;
  #target: Uint32Array | null = null;
  #targetName = "";
  #filled = 0;
  #value = 0;
  #inNumber = false;
  #negative = false;
  #depth = 0;
  #skipInString = false;
  #skipEscape = false;
  #textLength = 0;
  #bytes = new Uint8Array(0);
  #bytesOf: string | null = null;

  /** Characters consumed so far. */
  get textLength(): number {
    return this.#textLength;
  }

  /**
   * Consumes the next piece of snapshot text.
   *
   * @param chunk Any slice of the text, split anywhere (even inside a string
   *   escape or a number).
   */
  push(chunk: string): void {
    this.#textLength += chunk.length;
    let s = chunk;
    if (this.#carry !== "") {
      s = this.#carry + chunk;
      this.#carry = "";
    }
    let i = 0;
    const len = s.length;
    while (i < len) {
      switch (this.#state) {
        case State.Header:
          i = this.#parseHeader(s, i);
          break;
        case State.Key:
          i = this.#parseKey(s, i);
          break;
        case State.Numbers:
          i = this.#parseNumbers(this.#bytesFor(s), i, len);
          break;
        case State.Strings:
          i = this.#parseStrings(s, i);
          break;
        case State.Skip:
          i = this.#skip(s, i);
          break;
        case State.Done:
          i = this.#trailing(s, i);
          break;
      }
    }
  }

  /**
   * Ends the input and returns the parsed snapshot.
   *
   * @returns The snapshot's typed arrays and strings.
   */
  finish(): RawSnapshot {
    if (this.#state !== State.Done || this.#meta === undefined) {
      throw new SyntaxError(
        `Heap snapshot ended early (after ${this.#textLength} characters)`,
      );
    }
    const nf = this.#meta.node_fields.length;
    const ef = this.#meta.edge_fields.length;
    if (this.#nodes.length % nf !== 0 || this.#edges.length % ef !== 0) {
      throw new SyntaxError("Heap snapshot arrays do not match its meta");
    }
    this.#strings.trim();
    this.#bytes = new Uint8Array(0);
    this.#bytesOf = null;
    return {
      meta: this.#meta,
      nodeCount: this.#nodes.length / nf,
      edgeCount: this.#edges.length / ef,
      nodes: this.#nodes,
      edges: this.#edges,
      locations: this.#locations,
      strings: this.#strings,
      textLength: this.#textLength,
    };
  }

  #parseHeader(s: string, i: number): number {
    const start = this.#header.length;
    this.#header += i === 0 ? s : s.slice(i);
    // `"nodes"` with its closing quote cannot occur inside the meta block,
    // whose keys are `node_fields`, `node_types`, `node_count`.
    const at = this.#header.indexOf('"nodes"', Math.max(0, start - 8));
    if (at < 0) {
      if (this.#header.length > HEADER_LIMIT) {
        throw new SyntaxError("Heap snapshot header not found");
      }
      return s.length;
    }
    const head = this.#header.slice(0, at).trimEnd().replace(/,$/, "") + "}";
    const rest = this.#header.slice(at);
    this.#header = "";
    let parsed: { snapshot?: Record<string, unknown> };
    try {
      parsed = JSON.parse(head);
    } catch (error) {
      throw new SyntaxError(
        `Heap snapshot header is not JSON: ${(error as Error).message}`,
      );
    }
    const snapshot = parsed.snapshot;
    const meta = snapshot?.meta as SnapshotMeta | undefined;
    if (
      !meta || !Array.isArray(meta.node_fields) ||
      !Array.isArray(meta.edge_fields)
    ) {
      throw new SyntaxError("Heap snapshot has no snapshot.meta block");
    }
    this.#meta = meta;
    this.#nodeCount = Number(snapshot?.node_count ?? 0);
    this.#edgeCount = Number(snapshot?.edge_count ?? 0);
    this.#state = State.Key;
    // The rest is fed again through the normal path.
    this.#textLength -= rest.length;
    this.push(rest);
    return s.length;
  }

  #parseKey(s: string, i: number): number {
    const len = s.length;
    const start = i;
    i = this.#nextString(s, i, 125, State.Done, "");
    if (i < 0) return ~i;
    const close = s.indexOf('"', i + 1);
    const bracket = close < 0 ? -1 : s.indexOf("[", close);
    if (close < 0 || bracket < 0) {
      this.#carry = s.slice(start);
      return len;
    }
    const key = s.slice(i + 1, close);
    this.#targetName = key;
    this.#filled = 0;
    this.#value = 0;
    this.#inNumber = false;
    this.#negative = false;
    if (key === "nodes" || key === "edges" || key === "locations") {
      const meta = this.#meta!;
      const width = key === "nodes"
        ? meta.node_fields.length * this.#nodeCount
        : key === "edges"
        ? meta.edge_fields.length * this.#edgeCount
        : 0;
      this.#target = new Uint32Array(Math.max(width, 16));
      this.#state = State.Numbers;
    } else if (key === "strings") {
      this.#state = State.Strings;
    } else {
      this.#depth = 1;
      this.#skipInString = false;
      this.#skipEscape = false;
      this.#state = State.Skip;
    }
    return bracket + 1;
  }

  /**
   * Steps over commas and white space to the next string of a list (a key
   * of the top object, or an item of `strings`). Returns its opening quote,
   * or, bit-inverted (`~`), where to go on: the chunk's end, or past
   * `closer`, which ends the list and moves the state to `after`.
   */
  #nextString(
    s: string,
    i: number,
    closer: number,
    after: State,
    part: string,
  ): number {
    const len = s.length;
    let c = 0;
    while (i < len) {
      c = s.charCodeAt(i);
      if (c === 44 || c === 32 || c === 10 || c === 13 || c === 9) i++;
      else break;
    }
    if (i >= len) return ~len;
    if (c === 34) return i;
    if (c === closer) {
      this.#state = after;
      return ~(i + 1);
    }
    throw new SyntaxError(
      `Unexpected "${s[i]}" in heap snapshot${part} at ${
        this.#textLength - (len - i)
      }`,
    );
  }

  /**
   * The chunk as one byte per UTF-16 unit, encoded once per chunk: numbers
   * parse about twice as fast from bytes as with charCodeAt, and encoding
   * costs ~0.1 ns a character.
   */
  #bytesFor(s: string): Uint8Array {
    if (this.#bytesOf !== s) {
      if (this.#bytes.length < s.length) {
        this.#bytes = new Uint8Array(Math.max(s.length, 1 << 20));
      }
      const { read, written } = ENCODER.encodeInto(s, this.#bytes);
      if (read !== s.length || written !== s.length) {
        // Non-ASCII text (strings sharing the chunk) would shift UTF-8
        // offsets off the string's. Numbers never hold it, and a space is
        // skipped like any other non-digit, so one stands in for each unit.
        ENCODER.encodeInto(s.replace(NON_ASCII, " "), this.#bytes);
      }
      this.#bytesOf = s;
    }
    return this.#bytes;
  }

  #parseNumbers(bytes: Uint8Array, i: number, len: number): number {
    let target = this.#target!;
    let filled = this.#filled;
    if (this.#inNumber) {
      // A number cut by the previous chunk boundary: finish it first.
      let value = this.#value;
      let c = 0;
      while (i < len && ((c = bytes[i]!) - 48) >>> 0 < 10) {
        value = value * 10 + (c - 48);
        i++;
      }
      if (i === len) {
        this.#value = value;
        return len;
      }
      if (filled === target.length) target = this.#grow(target);
      target[filled++] = this.#negative ? -value >>> 0 : value;
      this.#inNumber = false;
      this.#negative = false;
    }
    let negative = this.#negative;
    while (i < len) {
      let c = bytes[i]!;
      if ((c - 48) >>> 0 < 10) {
        // Hot path: one whole number per iteration, state kept in locals.
        let value = c - 48;
        i++;
        while (i < len && ((c = bytes[i]!) - 48) >>> 0 < 10) {
          value = value * 10 + (c - 48);
          i++;
        }
        if (i === len) {
          this.#target = target;
          this.#filled = filled;
          this.#value = value;
          this.#inNumber = true;
          this.#negative = negative;
          return len;
        }
        if (filled === target.length) target = this.#grow(target);
        target[filled++] = negative ? -value >>> 0 : value;
        negative = false;
      }
      if (c === 93) {
        this.#target = target;
        this.#filled = filled;
        this.#negative = false;
        this.#endNumbers();
        return i + 1;
      }
      if (c === 45) negative = true;
      i++;
    }
    this.#target = target;
    this.#filled = filled;
    this.#negative = negative;
    return len;
  }

  #grow(target: Uint32Array): Uint32Array {
    const bigger = new Uint32Array(target.length * 2);
    bigger.set(target);
    return bigger;
  }

  #endNumbers(): void {
    const target = this.#target!;
    const exact = this.#filled === target.length
      ? target
      : target.slice(0, this.#filled);
    if (this.#targetName === "nodes") this.#nodes = exact;
    else if (this.#targetName === "edges") this.#edges = exact;
    else this.#locations = exact;
    this.#target = null;
    this.#targetName = "";
    this.#state = State.Key;
  }

  #parseStrings(s: string, i: number): number {
    const len = s.length;
    const strings = this.#strings;
    if (this.#inPartial) {
      i = this.#finishPartial(s, i);
      if (this.#inPartial) return len;
    }
    let backslash = s.indexOf("\\", i);
    for (;;) {
      i = this.#nextString(s, i, 93, State.Key, " strings");
      if (i < 0) return ~i;
      const end = closingQuote(s, i + 1, i + 1, 0);
      if (end < 0) {
        // Continues in the next chunk: only this string is copied out.
        this.#partial = s.slice(i);
        this.#inPartial = true;
        return len;
      }
      if (backslash >= 0 && backslash < i) backslash = s.indexOf("\\", i);
      strings.addSlice(s, i + 1, end, backslash >= 0 && backslash < end);
      i = end + 1;
    }
  }

  /** Completes a string cut by a chunk boundary; returns where to go on. */
  #finishPartial(s: string, i: number): number {
    const partial = this.#partial;
    // Backslashes ending the partial text escape the chunk's first character.
    let trailing = 0;
    for (
      let k = partial.length - 1;
      k > 0 && partial.charCodeAt(k) === 92;
      k--
    ) {
      trailing++;
    }
    const end = closingQuote(s, i, i, trailing);
    if (end < 0) {
      this.#partial = partial + s.slice(i);
      return s.length;
    }
    this.#strings.addOwn(JSON.parse(partial + s.slice(i, end + 1)));
    this.#partial = "";
    this.#inPartial = false;
    return end + 1;
  }

  #skip(s: string, i: number): number {
    const len = s.length;
    let depth = this.#depth;
    let inString = this.#skipInString;
    let escape = this.#skipEscape;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (inString) {
        if (escape) escape = false;
        else if (c === 92) escape = true;
        else if (c === 34) inString = false;
      } else if (c === 34) inString = true;
      else if (c === 91) depth++;
      else if (c === 93 && --depth === 0) {
        this.#state = State.Key;
        return i + 1;
      }
    }
    this.#depth = depth;
    this.#skipInString = inString;
    this.#skipEscape = escape;
    return len;
  }

  #trailing(s: string, i: number): number {
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (!(c === 32 || c === 10 || c === 13 || c === 9)) {
        throw new SyntaxError("Unexpected text after the heap snapshot");
      }
    }
    return s.length;
  }
}

/**
 * Finds the quote that closes a JSON string: the first `"` after `from`
 * preceded by an even number of backslashes (counting `carried` more that
 * precede `floor`, the start of the text).
 */
function closingQuote(
  s: string,
  from: number,
  floor: number,
  carried: number,
): number {
  for (;;) {
    const quote = s.indexOf('"', from);
    if (quote < 0) return -1;
    let k = quote - 1;
    while (k >= floor && s.charCodeAt(k) === 92) k--;
    let run = quote - 1 - k;
    if (k < floor) run += carried;
    if (run % 2 === 0) return quote;
    from = quote + 1;
  }
}
