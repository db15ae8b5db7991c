/**
 * Leak finding, memlab's three-snapshot method done live with two: the
 * objects allocated after a baseline snapshot (V8 hands out node ids in
 * allocation order, stable within one process) that are still alive, the
 * console's own left out, grouped by their nearest named holder and the
 * path from it, largest retained size first.
 *
 * @module
 */

import type { HeapAnalysis, LeakGroup } from "./analysis.ts";
import { NO_EDGE, OWNER_CONSOLE } from "./shortest_paths.ts";

/** Node types that can be a leaked object (not V8's internal storage). */
const CANDIDATE_TYPES = new Set([
  "object",
  "closure",
  "string",
  "concatenated string",
  "sliced string",
  "regexp",
  "bigint",
]);

/**
 * Groups the new live objects of an analysis.
 *
 * @param analysis The analysed snapshot.
 * @param since The baseline snapshot's highest node id.
 * @param n How many groups.
 * @param all Include the console's objects.
 * @param until The target snapshot's highest id, in the three-snapshot
 *   method: objects first seen after it are not counted.
 * @returns The largest groups.
 */
export function findLeaks(
  analysis: HeapAnalysis,
  since: number,
  n: number,
  all: boolean,
  until = Infinity,
): LeakGroup[] {
  const { graph, paths, retained, dominator } = analysis;
  const { owner, parentEdge } = paths;
  const codeType = graph.nodeTypes.indexOf("code");
  // Per node: 0 unknown, 1 hangs off code, 2 does not.
  const underCode = new Uint8Array(graph.nodeCount);
  const mask = all ? paths.reachable : analysis.counted;
  const candidateType = new Uint8Array(graph.nodeTypes.length);
  graph.nodeTypes.forEach((t, i) => {
    if (CANDIDATE_TYPES.has(t)) candidateType[i] = 1;
  });
  const isNew = (v: number) =>
    mask[v] === 1 && graph.nodeId(v) > since && graph.nodeId(v) <= until;
  // V8 internals (`system / ...`) are storage, not objects: the test is
  // cached per name string.
  const internalName = new Int8Array(graph.strings.length).fill(-1);
  const nf = graph.nodeFieldCount;
  const isCandidate = (v: number) => {
    if (candidateType[graph.nodeTypeCode(v)] !== 1) return false;
    const name = graph.nodes[v * nf + graph.nameOffset]!;
    let internal = internalName[name]!;
    if (internal < 0) {
      internal = graph.strings.get(name).startsWith("system /") ? 1 : 0;
      internalName[name] = internal;
    }
    return internal === 0;
  };
  interface Group {
    key: string;
    nodes: number[];
    size: number;
  }
  const groups = new Map<string, Group>();
  for (let v = 1; v < graph.nodeCount; v++) {
    if (!isNew(v) || !isCandidate(v)) continue;
    if (heldByNewObject(v) || isCode(v)) continue;
    const held = analysis.heldBy(v);
    const via = held.via.map(wildcard);
    const h = held.holder;
    const key = [
      h ? `${h.kind} ${h.name} ${h.url ?? ""} ${h.line ?? ""}` : "",
      owner[v] === OWNER_CONSOLE ? "console" : "",
      ...via,
      analysis.census.classes[analysis.census.classOf[v]!]!.name,
    ].join("\0");
    let group = groups.get(key);
    if (!group) {
      group = { key, nodes: [], size: 0 };
      groups.set(key, group);
    }
    group.nodes.push(v);
    group.size += retained[v]!;
  }
  const ranked = [...groups.values()]
    .sort((a, b) => b.size - a.size)
    .slice(0, n);
  return ranked.map((group) => {
    const first = group.nodes.reduce((a, b) =>
      retained[b]! > retained[a]! ? b : a
    );
    const held = analysis.heldBy(first);
    const info = analysis.info(first);
    return {
      ...(held.holder ? { holder: held.holder } : {}),
      owner: analysis.ownerOf(first),
      via: held.via.map(wildcard),
      className: info.className,
      ...(info.closure ? { closure: info.closure } : {}),
      count: group.nodes.length,
      retainedSize: group.size,
      example: analysis.path(first, false),
    };
  });

  /**
   * Whether `v` hangs off compiled code (a script's source, a function
   * reached through its shared info): module loading, not data.
   */
  function isCode(v: number): boolean {
    const walked: number[] = [];
    let answer = 0;
    let at = v;
    for (let hops = 0; hops < 100_000; hops++) {
      const known = underCode[at]!;
      if (known !== 0) {
        answer = known;
        break;
      }
      walked.push(at);
      const e = parentEdge[at]!;
      if (e === NO_EDGE) {
        answer = 2;
        break;
      }
      const from = graph.edgeSource(e);
      if (from === 0) {
        answer = 2;
        break;
      }
      if (graph.nodeTypeCode(from) === codeType) {
        answer = 1;
        break;
      }
      at = from;
    }
    for (const w of walked) underCode[w] = answer;
    return answer === 1;
  }

  /**
   * Whether another new object dominates `v` before the old part of the
   * heap does: then `v` is part of that object's retained size, not a
   * leak of its own.
   */
  function heldByNewObject(v: number): boolean {
    let at = v;
    for (let hops = 0; hops < 100_000; hops++) {
      const d = dominator[at]!;
      if (d === at || d === 0 || !isNew(d)) return false;
      if (isCandidate(d)) return true;
      at = d;
    }
    return false;
  }
}

/** An edge label with its index made generic: `[12]` → `[*]`. */
function wildcard(label: string): string {
  return label.replace(/^\[\d+\]$/, "[*]").replace(/^\{\d+\}$/, "{*}")
    .replace(/^<hidden \d+>$/, "<hidden *>");
}
