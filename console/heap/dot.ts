/**
 * Graphviz DOT for a retainer graph: the target in red, the root in blue,
 * the shortest path from the root in bold.
 *
 * @module
 */

import type { GraphNode, RetainerGraph } from "./analysis.ts";

/**
 * Renders a retainer graph as DOT source.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderDot } from "./dot.ts";
 * const info = (id: number, label: string) => ({
 *   id, label, className: label, type: "object", name: label,
 *   selfSize: 8, retainedSize: 8, owner: "app" as const,
 * });
 * const dot = renderDot({
 *   target: info(3, "Leaked @3"),
 *   nodes: [
 *     { info: info(1, "(root)"), role: "root" },
 *     { info: info(3, "Leaked @3"), role: "target" },
 *   ],
 *   edges: [{ from: 1, to: 3, label: ".leak", onPath: true }],
 * });
 * assert.match(dot, /n1 -> n3 \[label="\.leak", penwidth=2\.5/);
 * ```
 *
 * @param graph The graph.
 * @param describe Extra label lines for a node (its holder's name, say).
 * @returns DOT source.
 */
export function renderDot(
  graph: Omit<RetainerGraph, "leftOut">,
  describe: (node: GraphNode) => string[] = () => [],
): string {
  const lines = [
    "digraph retainers {",
    "  rankdir=BT;",
    '  node [shape=box, style="rounded,filled", fillcolor="#f5f5f5", fontname="Helvetica", fontsize=10];',
    '  edge [fontname="Helvetica", fontsize=9, color="#777777"];',
  ];
  for (const node of graph.nodes) {
    const { info } = node;
    const label = [
      info.label,
      ...describe(node),
      `${formatSize(info.selfSize)} self, ${
        formatSize(info.retainedSize)
      } retained`,
    ].map(dotEscape).join("\\n");
    const color = node.role === "target"
      ? ', fillcolor="#ffd7d7", penwidth=2'
      : node.role === "root"
      ? ', fillcolor="#d7e8ff"'
      : "";
    lines.push(`  n${info.id} [label="${label}"${color}];`);
  }
  for (const edge of graph.edges) {
    const style = edge.onPath ? ', penwidth=2.5, color="#c0392b"' : "";
    lines.push(
      `  n${edge.from} -> n${edge.to} [label="${
        dotEscape(edge.label)
      }"${style}];`,
    );
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

function dotEscape(text: string): string {
  return text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\n\r]/g, " ");
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
