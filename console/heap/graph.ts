/**
 * The heap graph: typed-array access to a parsed snapshot's nodes and edges
 * by ordinal, with field offsets read from `snapshot.meta`.
 *
 * @module
 */

import type { RawSnapshot } from "./parser.ts";
import type { StringTable } from "./strings.ts";

/** Node type names V8 uses for string-like nodes. */
const STRING_TYPES = new Set([
  "string",
  "concatenated string",
  "sliced string",
]);

/**
 * A heap snapshot as a graph. Nodes and edges are addressed by ordinal
 * (0-based position), never by field offset.
 *
 * @example
 * ```ts ignore
 * const graph = new HeapGraph(parser.finish());
 * console.log(graph.nodeName(0), graph.edgeCountOf(0));
 * ```
 */
export class HeapGraph {
  /** Number of nodes. */
  readonly nodeCount: number;
  /** Number of edges. */
  readonly edgeCount: number;
  /** Raw node fields, `nodeFieldCount` per node. */
  readonly nodes: Uint32Array;
  /** Raw edge fields, `edgeFieldCount` per edge; `to_node` holds an ordinal. */
  readonly edges: Uint32Array;
  /** The snapshot's string table. */
  readonly strings: StringTable;
  /** Values per node (6 in Deno 2.9, 7 in Node 20). */
  readonly nodeFieldCount: number;
  /** Values per edge. */
  readonly edgeFieldCount: number;
  /** Index of each node's first edge; `firstEdge[nodeCount] === edgeCount`. */
  readonly firstEdge: Uint32Array;
  /** Node type names, indexed by the `type` field. */
  readonly nodeTypes: string[];
  /** Edge type names, indexed by the edge `type` field. */
  readonly edgeTypes: string[];
  /** Code of the `weak` edge type (-1 if absent). */
  readonly weakEdge: number;
  /** Code of the `shortcut` edge type (-1 if absent). */
  readonly shortcutEdge: number;
  /** Code of the `element` edge type. */
  readonly elementEdge: number;
  /** Code of the `hidden` edge type. */
  readonly hiddenEdge: number;
  /** Characters of snapshot text this graph was parsed from. */
  readonly textLength: number;

  /** Offset of `type` within a node's fields. */
  readonly typeOffset: number;
  /** Offset of `self_size` within a node's fields. */
  readonly sizeOffset: number;
  /** Offset of `type` within an edge's fields. */
  readonly edgeTypeOffset: number;
  /** Offset of `to_node` within an edge's fields (holds an ordinal). */
  readonly edgeToOffset: number;
  /** Offset of `name` within a node's fields. */
  readonly nameOffset: number;
  readonly #idOffset: number;
  readonly #edgeNameOffset: number;
  readonly #stringTypes: Uint8Array;
  readonly #locations: Uint32Array;
  readonly #locationFields: string[];
  #locationOf: Map<number, number> | undefined;

  /**
   * Wraps a parsed snapshot. Rewrites `to_node` offsets into ordinals in place.
   *
   * @param raw The parser's output; its arrays are adopted, not copied.
   */
  constructor(raw: RawSnapshot) {
    const { meta } = raw;
    const field = (fields: string[], name: string): number => {
      const at = fields.indexOf(name);
      if (at < 0) throw new SyntaxError(`Heap snapshot has no "${name}" field`);
      return at;
    };
    this.nodeFieldCount = meta.node_fields.length;
    this.edgeFieldCount = meta.edge_fields.length;
    this.typeOffset = field(meta.node_fields, "type");
    this.nameOffset = field(meta.node_fields, "name");
    this.#idOffset = field(meta.node_fields, "id");
    this.sizeOffset = field(meta.node_fields, "self_size");
    const edgeCountOffset = field(meta.node_fields, "edge_count");
    this.edgeTypeOffset = field(meta.edge_fields, "type");
    this.#edgeNameOffset = field(meta.edge_fields, "name_or_index");
    this.edgeToOffset = field(meta.edge_fields, "to_node");
    this.nodeTypes = asEnum(meta.node_types[this.typeOffset], "node");
    this.edgeTypes = asEnum(meta.edge_types[this.edgeTypeOffset], "edge");
    this.weakEdge = this.edgeTypes.indexOf("weak");
    this.shortcutEdge = this.edgeTypes.indexOf("shortcut");
    this.elementEdge = this.edgeTypes.indexOf("element");
    this.hiddenEdge = this.edgeTypes.indexOf("hidden");
    this.#stringTypes = new Uint8Array(this.nodeTypes.length);
    this.nodeTypes.forEach((t, i) => {
      if (STRING_TYPES.has(t)) this.#stringTypes[i] = 1;
    });
    this.nodes = raw.nodes;
    this.edges = raw.edges;
    this.strings = raw.strings;
    this.nodeCount = raw.nodeCount;
    this.edgeCount = raw.edgeCount;
    this.textLength = raw.textLength;
    this.#locations = raw.locations;
    this.#locationFields = meta.location_fields ?? [];

    const nf = this.nodeFieldCount;
    const ef = this.edgeFieldCount;
    const firstEdge = new Uint32Array(this.nodeCount + 1);
    let edge = 0;
    for (let n = 0; n < this.nodeCount; n++) {
      firstEdge[n] = edge;
      edge += this.nodes[n * nf + edgeCountOffset]!;
    }
    if (edge !== this.edgeCount) {
      throw new SyntaxError(
        `Heap snapshot edge counts add up to ${edge}, not ${this.edgeCount}`,
      );
    }
    firstEdge[this.nodeCount] = edge;
    this.firstEdge = firstEdge;
    const edges = this.edges;
    const limit = this.nodeCount * nf;
    for (let i = this.edgeToOffset; i < edges.length; i += ef) {
      const to = edges[i]!;
      const ordinal = (to / nf) >>> 0;
      if (to >= limit || ordinal * nf !== to) {
        throw new SyntaxError(`Heap snapshot edge points at bad offset ${to}`);
      }
      edges[i] = ordinal;
    }
  }

  /**
   * The node's type name, e.g. `"object"`.
   *
   * @param node Ordinal.
   * @returns The node's type name, e.g. `"object"`.
   */
  nodeType(node: number): string {
    return this.nodeTypes[this.nodeTypeCode(node)] ?? "unknown";
  }

  /**
   * The node's type code.
   *
   * @param node Ordinal.
   * @returns The node's type code.
   */
  nodeTypeCode(node: number): number {
    return this.nodes[node * this.nodeFieldCount + this.typeOffset]!;
  }

  /**
   * Whether the node is a string of any kind.
   *
   * @param node Ordinal.
   * @returns Whether the node is a string of any kind.
   */
  isString(node: number): boolean {
    return this.#stringTypes[this.nodeTypeCode(node)] === 1;
  }

  /**
   * The node's name (constructor name for objects).
   *
   * @param node Ordinal.
   * @returns The node's name (constructor name for objects).
   */
  nodeName(node: number): string {
    return this.strings.get(
      this.nodes[node * this.nodeFieldCount + this.nameOffset]!,
    );
  }

  /**
   * The node's stable snapshot id.
   *
   * @param node Ordinal.
   * @returns The node's stable snapshot id.
   */
  nodeId(node: number): number {
    return this.nodes[node * this.nodeFieldCount + this.#idOffset]!;
  }

  /**
   * The node's shallow size in bytes.
   *
   * @param node Ordinal.
   * @returns The node's shallow size in bytes.
   */
  selfSize(node: number): number {
    return this.nodes[node * this.nodeFieldCount + this.sizeOffset]!;
  }

  /**
   * The edge's type code.
   *
   * @param edge Edge ordinal.
   * @returns The edge's type code.
   */
  edgeTypeCode(edge: number): number {
    return this.edges[edge * this.edgeFieldCount + this.edgeTypeOffset]!;
  }

  /**
   * The edge's target node ordinal.
   *
   * @param edge Edge ordinal.
   * @returns The edge's target node ordinal.
   */
  edgeTarget(edge: number): number {
    return this.edges[edge * this.edgeFieldCount + this.edgeToOffset]!;
  }

  /**
   * The edge's name, or its index for element and hidden edges.
   *
   * @param edge Edge ordinal.
   * @returns The edge's name, or its index for element and hidden edges.
   */
  edgeName(edge: number): string | number {
    const raw = this.edges[edge * this.edgeFieldCount + this.#edgeNameOffset]!;
    const type = this.edgeTypeCode(edge);
    if (type === this.elementEdge || type === this.hiddenEdge) return raw;
    return raw < this.strings.length ? this.strings.get(raw) : raw;
  }

  /**
   * The edge's raw `name_or_index`: a string index for named edges.
   *
   * @param edge Edge ordinal.
   * @returns The raw value.
   */
  edgeNameIndex(edge: number): number {
    return this.edges[edge * this.edgeFieldCount + this.#edgeNameOffset]!;
  }

  /**
   * Edge type name.
   *
   * @param edge Edge ordinal.
   * @returns Edge type name.
   */
  edgeType(edge: number): string {
    return this.edgeTypes[this.edgeTypeCode(edge)] ?? "unknown";
  }

  /**
   * The class a node is counted under: the constructor name for objects,
   * `(string)`, `(array)`, `(closure)`, `(code)`... for the rest.
   *
   * @param node Ordinal.
   * @returns A class name.
   */
  className(node: number): string {
    const type = this.nodeType(node);
    switch (type) {
      case "object":
      case "native": {
        const name = this.nodeName(node);
        return name === "" ? `(${type})` : name;
      }
      case "hidden":
        return "(system)";
      case "concatenated string":
      case "sliced string":
        return "(string)";
      default:
        return `(${type})`;
    }
  }

  /**
   * A short label for a node: `Map @1234`, `(string) "abc" @5`.
   *
   * @param node Ordinal.
   * @returns A one-line label.
   */
  label(node: number): string {
    const cls = this.className(node);
    const name = this.nodeName(node);
    let extra = "";
    if (this.isString(node)) extra = ` ${JSON.stringify(clip(name, 40))}`;
    else if (cls.startsWith("(") && name !== "" && name !== cls) {
      extra = ` ${clip(name, 60)}`;
    }
    return `${cls}${extra} @${this.nodeId(node)}`;
  }

  /**
   * How an edge is written in a path: `.name`, `[3]`, `{internal}`...
   *
   * @param edge Edge ordinal.
   * @returns A short label.
   */
  edgeLabel(edge: number): string {
    const name = this.edgeName(edge);
    switch (this.edgeType(edge)) {
      case "element":
        return `[${name}]`;
      case "property":
        return `.${name}`;
      case "context":
        return `context ${name}`;
      case "internal":
        return `{${name}}`;
      case "hidden":
        return `<hidden ${name}>`;
      case "shortcut":
        return `shortcut ${name}`;
      case "weak":
        return `weak ${name}`;
      default:
        return String(name);
    }
  }

  /**
   * The node an edge comes from (binary search over `firstEdge`).
   *
   * @param edge Edge ordinal.
   * @returns The source node's ordinal.
   */
  edgeSource(edge: number): number {
    const first = this.firstEdge;
    let lo = 0;
    let hi = this.nodeCount - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (first[mid]! <= edge) lo = mid;
      else hi = mid - 1;
    }
    // Nodes without edges share a start with the next node: take the last.
    return lo;
  }

  /**
   * Where a closure's function is defined, as the snapshot's `locations`
   * give it: 0-based line and column in the code V8 runs.
   *
   * @param node Ordinal (a closure).
   * @returns The position, or undefined when the snapshot has none.
   */
  location(node: number): { line: number; column: number } | undefined {
    const fields = this.#locationFields;
    const width = fields.length;
    if (width === 0) return undefined;
    if (this.#locationOf === undefined) {
      const objectAt = fields.indexOf("object_index");
      const map = new Map<number, number>();
      const nf = this.nodeFieldCount;
      for (let i = 0; i + width <= this.#locations.length; i += width) {
        map.set((this.#locations[i + objectAt]! / nf) >>> 0, i);
      }
      this.#locationOf = map;
    }
    const at = this.#locationOf.get(node);
    if (at === undefined) return undefined;
    return {
      line: this.#locations[at + fields.indexOf("line")]!,
      column: this.#locations[at + fields.indexOf("column")]!,
    };
  }

  /**
   * The first edge of a node with a given name (`"shared"`, `"context"`...).
   *
   * @param node Ordinal.
   * @param name Edge name.
   * @returns The target ordinal, or -1.
   */
  child(node: number, name: string): number {
    const end = this.firstEdge[node + 1]!;
    for (let e = this.firstEdge[node]!; e < end; e++) {
      if (this.edgeName(e) === name) return this.edgeTarget(e);
    }
    return -1;
  }

  /**
   * Finds a node by its snapshot id.
   *
   * @param id The snapshot id (as `HeapProfiler.getHeapObjectId` returns).
   * @returns The ordinal, or -1.
   */
  findById(id: number): number {
    const nf = this.nodeFieldCount;
    const offset = this.#idOffset;
    const nodes = this.nodes;
    // V8 writes nodes in id order for the most part; a scan is still cheap.
    for (let n = 0, i = offset; n < this.nodeCount; n++, i += nf) {
      if (nodes[i] === id) return n;
    }
    return -1;
  }
}

/**
 * A test of whether a node's name starts with `prefix`, made once per
 * name string (many nodes share one: `system / Context`, a script's URL),
 * for the passes that look at every node.
 *
 * @example
 * ```ts ignore
 * const isContext = namePrefixTest(graph, "system / Context");
 * for (let n = 0; n < graph.nodeCount; n++) if (isContext(n)) count++;
 * ```
 *
 * @param graph The graph.
 * @param prefix What the name starts with.
 * @returns The test, by node ordinal.
 */
export function namePrefixTest(
  graph: HeapGraph,
  prefix: string,
): (node: number) => boolean {
  // Per name string: 1 starts so, 0 not, -1 not tested yet.
  const known = new Int8Array(graph.strings.length).fill(-1);
  const { nodes, nodeFieldCount, nameOffset } = graph;
  return (node) => {
    const name = nodes[node * nodeFieldCount + nameOffset]!;
    let is = known[name]!;
    if (is < 0) {
      is = graph.strings.get(name).startsWith(prefix) ? 1 : 0;
      known[name] = is;
    }
    return is === 1;
  };
}

function asEnum(value: string[] | string | undefined, what: string): string[] {
  if (!Array.isArray(value)) {
    throw new SyntaxError(`Heap snapshot meta has no ${what} type names`);
  }
  return value;
}

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}
