/**
 * Answers a {@linkcode Query} about an analysed snapshot: the one switch
 * the analysis worker and a fork mode's analysis child share.
 *
 * @module
 */

import type { HeapAnalysis } from "./analysis.ts";
import type { Query } from "./worker_messages.ts";

/**
 * The answer to one question about a snapshot, as plain data (it crosses a
 * thread or a process).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeapAnalysis } from "./analysis.ts";
 * import { answerQuery } from "./answer.ts";
 * import { SnapshotParser } from "./parser.ts";
 * const parser = new SnapshotParser();
 * parser.push(JSON.stringify({
 *   snapshot: {
 *     meta: {
 *       node_fields: ["type", "name", "id", "self_size", "edge_count", "detachedness"],
 *       node_types: [["hidden", "object", "synthetic"], "string", "number", "number", "number", "number"],
 *       edge_fields: ["type", "name_or_index", "to_node"],
 *       edge_types: [["element", "property", "internal"], "string_or_number", "node"],
 *     },
 *     node_count: 2,
 *     edge_count: 1,
 *   },
 *   nodes: [2, 0, 1, 0, 1, 0, 1, 1, 3, 64, 0, 0],
 *   edges: [1, 2, 6],
 *   strings: ["", "Widget", "w"],
 * }));
 * const analysis = HeapAnalysis.from(parser.finish());
 * const top = answerQuery(analysis, { kind: "top", n: 1 }) as Array<{ name: string }>;
 * assert.equal(top[0]!.name, "Widget");
 * ```
 *
 * @param analysis The analysed snapshot.
 * @param q The question.
 * @returns Its answer.
 */
export function answerQuery(analysis: HeapAnalysis, q: Query): unknown {
  switch (q.kind) {
    case "top":
      return analysis.top(q.n, q);
    case "deltas":
      return analysis.deltas(q.since, q);
    case "largest":
      return analysis.largest(q.n, q);
    case "groups":
      return analysis.largestGroups(q.n, q);
    case "leaks":
      return analysis.leakReport(q.since, q.n, q);
    case "path": {
      if (typeof q.target === "string") {
        const picked = analysis.pick(q.target, q);
        return picked ? { ...analysis.path(picked.node), picked } : null;
      }
      const node = analysis.resolve(q.target, q);
      return node < 0 ? null : analysis.path(node);
    }
    case "graph": {
      const node = analysis.resolve(q.target, q);
      if (node < 0) return null;
      return analysis.retainerGraph(node, q);
    }
  }
}
