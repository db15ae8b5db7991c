/**
 * Builds small V8-format heap snapshots with a known graph, for tests.
 *
 * @module
 */

import { Session } from "node:inspector";

/** One edge of a hand-made node. */
export interface FixtureEdge {
  /** Edge type: `property`, `element`, `internal`, `weak`, `context`... */
  type: string;
  /** Property name, or element index. */
  name: string | number;
  /** Target node index in the fixture list. */
  to: number;
}

/** One hand-made node. */
export interface FixtureNode {
  /** Node type: `object`, `string`, `synthetic`, `closure`... */
  type: string;
  /** Node name (constructor name, string value...). */
  name: string;
  /** Shallow size. */
  size: number;
  /** Outgoing edges. */
  edges?: FixtureEdge[];
}

const NODE_TYPES = [
  "hidden",
  "array",
  "string",
  "object",
  "code",
  "closure",
  "regexp",
  "number",
  "native",
  "synthetic",
  "concatenated string",
  "sliced string",
  "symbol",
  "bigint",
  "object shape",
];
const EDGE_TYPES = [
  "context",
  "element",
  "property",
  "internal",
  "hidden",
  "shortcut",
  "weak",
];

/**
 * Serialises nodes as a V8 heap snapshot. Node i gets id `i * 2 + 1`.
 *
 * @param nodes The graph; node 0 is the root.
 * @param options `traceNodeId` adds Node 20's seventh node field.
 * @returns Snapshot text.
 */
export function makeSnapshot(
  nodes: FixtureNode[],
  options: {
    traceNodeId?: boolean;
    /** Closure positions: node index, 0-based line and column. */
    locations?: Array<[number, number, number]>;
  } = {},
): string {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const str = (s: string) => {
    let i = index.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      index.set(s, i);
    }
    return i;
  };
  const nodeFields = ["type", "name", "id", "self_size", "edge_count"];
  if (options.traceNodeId) nodeFields.push("trace_node_id");
  nodeFields.push("detachedness");
  const nf = nodeFields.length;
  const flatNodes: number[] = [];
  const flatEdges: number[] = [];
  nodes.forEach((n, i) => {
    const type = NODE_TYPES.indexOf(n.type);
    if (type < 0) throw new Error(`bad node type ${n.type}`);
    const row = [type, str(n.name), i * 2 + 1, n.size, n.edges?.length ?? 0];
    if (options.traceNodeId) row.push(0);
    row.push(0);
    flatNodes.push(...row);
    for (const e of n.edges ?? []) {
      const et = EDGE_TYPES.indexOf(e.type);
      if (et < 0) throw new Error(`bad edge type ${e.type}`);
      const name = e.type === "element" || e.type === "hidden"
        ? Number(e.name)
        : str(String(e.name));
      flatEdges.push(et, name, e.to * nf);
    }
  });
  const meta = {
    node_fields: nodeFields,
    node_types: [NODE_TYPES, "string", "number", "number", "number", "number"],
    edge_fields: ["type", "name_or_index", "to_node"],
    edge_types: [EDGE_TYPES, "string_or_number", "node"],
    trace_function_info_fields: [],
    trace_node_fields: [],
    sample_fields: [],
    location_fields: ["object_index", "script_id", "line", "column"],
  };
  const locations = (options.locations ?? []).flatMap((
    [node, line, column],
  ) => [node * nf, 1, line, column]);
  return `{"snapshot":{"meta":${
    JSON.stringify(meta)
  },"node_count":${nodes.length},"edge_count":${
    flatEdges.length / 3
  },"trace_function_count":0},\n"nodes":[${flatNodes.join(",")}],\n"edges":[${
    flatEdges.join(",")
  }],\n"trace_function_infos":[],\n"trace_tree":[[1,2,[3]],[]],\n"samples":[],\n"locations":[${
    locations.join(",")
  }],\n"strings":[${strings.map((s) => JSON.stringify(s)).join(",\n")}]}`;
}

/**
 * Captures a real snapshot of this test process through the inspector.
 *
 * @returns The inspector's chunks.
 */
export async function captureChunks(): Promise<string[]> {
  const session = new Session();
  session.connect();
  const chunks: string[] = [];
  session.on("HeapProfiler.addHeapSnapshotChunk", (m) => {
    chunks.push(m.params.chunk);
  });
  const keepAlive = setInterval(() => {}, 50);
  try {
    await new Promise<void>((resolve, reject) =>
      session.post(
        "HeapProfiler.takeHeapSnapshot",
        {},
        (err) => err ? reject(err) : resolve(),
      )
    );
  } finally {
    clearInterval(keepAlive);
    session.disconnect();
  }
  return chunks;
}

/**
 * Splits text into pieces of the given size.
 *
 * @param text The text.
 * @param size Piece length.
 * @returns The pieces.
 */
export function split(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}
