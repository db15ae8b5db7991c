/**
 * How the `heap.*` results print: the tables of `top`, `growth`,
 * `largest` and `leaks`, each saying what it left out, and retaining
 * paths edge by edge.
 *
 * @module
 */

import type { RetainingPath } from "../heap/analysis.ts";
import {
  type Column,
  formatBytes,
  formatCount,
  renderTable,
} from "./report.ts";
import { heldByLine, type HolderNames } from "./heap_names.ts";
import type {
  GrowthRow,
  KindRow,
  LargestRow,
  LeakReportRows,
  LeakRow,
  TypeRow,
} from "./heap.ts";

/** What a table left out: the console's own objects. */
export interface LeftOut {
  /** Objects left out. */
  count: number;
  /** Their shallow sizes. */
  size: number;
}

/** Retained bytes, one column for every report so they read alike. */
const RETAINED_COLUMN: Column<{ retainedSize: number }> = {
  title: "retained",
  cell: (r) => formatBytes(r.retainedSize),
  right: true,
};

/** Instance counts, one column for every report so they read alike. */
const COUNT_COLUMN: Column<{ count: number }> = {
  title: "count",
  cell: (r) => formatCount(r.count),
  right: true,
};

/** Instances a console session holds, shown when any row has some. */
const SESSION_COLUMN: Column<{ sessionCount: number }> = {
  title: "session",
  cell: (r) => r.sessionCount > 0 ? formatCount(r.sessionCount) : "",
  right: true,
};

/**
 * The line under a table that says what it left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { leftOutLine } from "./heap_render.ts";
 * assert.match(leftOutLine({ count: 1234, size: 2048 }, false), /1 234 objects \(2\.00 KiB\)/);
 * assert.equal(leftOutLine({ count: 0, size: 0 }, false), "");
 * ```
 *
 * @param left What the console holds for itself.
 * @param all Whether the table includes it after all.
 * @returns The line, or `""` when nothing was left out.
 */
export function leftOutLine(left: LeftOut, all: boolean | undefined): string {
  if (all || left.count === 0) return "";
  return `left out: the console's own ${formatCount(left.count)} objects (${
    formatBytes(left.size)
  }); { all: true } includes them`;
}

/**
 * `heap.top()` as a table.
 *
 * @param rows The rows.
 * @param leftOut The footer (see {@link leftOutLine}).
 * @returns The text.
 */
export function renderTypes(rows: TypeRow[], leftOut: string): string {
  const columns: Column<TypeRow>[] = [
    { title: "type", cell: (r) => r.type },
    COUNT_COLUMN,
    { title: "shallow", cell: (r) => formatBytes(r.shallowSize), right: true },
    RETAINED_COLUMN,
  ];
  if (rows.some((r) => r.sessionCount > 0)) columns.push(SESSION_COLUMN);
  return withFooter(renderTable<TypeRow>(rows, columns), [
    sessionNote(rows),
    leftOut,
  ]);
}

/**
 * `heap.growth()` as a table.
 *
 * @param rows The rows.
 * @param peak Whether the peak rule applied.
 * @param leftOut The footer (see {@link leftOutLine}).
 * @returns The text.
 */
export function renderGrowth(
  rows: GrowthRow[],
  peak: boolean | undefined,
  leftOut: string,
): string {
  if (rows.length === 0) {
    return withFooter(
      peak
        ? "no type rose above its peak since the last call"
        : "no type grew since the last call",
      [leftOut],
    );
  }
  const columns: Column<GrowthRow>[] = [
    { title: "type", cell: (r) => r.type },
    COUNT_COLUMN,
    {
      title: peak ? "above peak" : "increase",
      cell: (r) => `+${formatCount(r.increase)}`,
      right: true,
    },
    { title: "size", cell: (r) => formatBytes(r.size), right: true },
    { title: "size Δ", cell: (r) => signedBytes(r.sizeDelta), right: true },
    { title: "new", cell: (r) => formatCount(r.new), right: true },
    { title: "freed", cell: (r) => formatCount(r.freed), right: true },
  ];
  if (rows.some((r) => r.sessionCount > 0)) columns.push(SESSION_COLUMN);
  return withFooter(renderTable<GrowthRow>(rows, columns), [
    sessionNote(rows),
    leftOut,
  ]);
}

/**
 * `heap.largest()` as a table.
 *
 * @param rows The rows.
 * @param leftOut The footer (see {@link leftOutLine}).
 * @returns The text.
 */
export function renderLargest(rows: LargestRow[], leftOut: string): string {
  return withFooter(
    renderTable<LargestRow>(rows, [
      RETAINED_COLUMN,
      { title: "self", cell: (r) => formatBytes(r.selfSize), right: true },
      { title: "object", cell: (r) => r.label },
      { title: "held by", cell: (r) => r.heldBy },
    ]),
    [leftOut],
  );
}

/**
 * `heap.largest(n, { by: "kind" })` as a table.
 *
 * @param rows The rows.
 * @param leftOut The footer (see {@link leftOutLine}).
 * @returns The text.
 */
export function renderKinds(rows: KindRow[], leftOut: string): string {
  return withFooter(
    renderTable<KindRow>(rows, [
      RETAINED_COLUMN,
      COUNT_COLUMN,
      { title: "kind", cell: (r) => r.name },
    ]),
    [leftOut],
  );
}

/**
 * `heap.leaks()` as a table: one row per leak, what the other groups add
 * up to, what was left out, and the first group's example path.
 *
 * @param report The rows and totals.
 * @param names Printed names of the holders in the rows.
 * @param all Whether the console's objects were included.
 * @returns The text.
 */
export function renderLeaks(
  report: LeakReportRows,
  names: HolderNames,
  all: boolean | undefined,
): string {
  const { rows } = report;
  const notes: string[] = [];
  const others = report.groupCount - rows.length;
  if (others > 0) {
    let shown = 0;
    for (const r of rows) shown += r.retainedSize;
    notes.push(
      `${formatCount(others)} more groups retain ${
        formatBytes(Math.max(0, report.retainedSize - shown))
      } (heap.leaks(n) shows more)`,
    );
  }
  const { console: mine, code } = report.leftOut;
  const left: string[] = [];
  if (!all && mine.count > 0) {
    left.push(
      `${formatCount(mine.count)} new objects (${
        formatBytes(mine.size)
      }) the console holds for itself ({ all: true } includes them)`,
    );
  }
  if (code.count > 0) {
    left.push(
      `${formatCount(code.count)} (${formatBytes(code.size)}) of compiled code`,
    );
  }
  if (left.length > 0) notes.push(`left out: ${left.join("; ")}`);
  if (rows.length === 0) {
    return withFooter(
      "no new objects alive since the baseline (weakly held ones do not count)",
      notes,
    );
  }
  const table = renderTable<LeakRow>(rows, [
    RETAINED_COLUMN,
    { title: "count", cell: (r) => formatCount(r.mainCount), right: true },
    {
      title: "objects",
      cell: (r) =>
        r.also === ""
          ? clip(r.mainObjects, 64)
          : `${clip(r.mainObjects, 63 - r.also.length)} ${r.also}`,
    },
    {
      title: "held by",
      cell: (r) =>
        clip(
          r.heldBy +
            (r.owner === "session" && r.holder?.kind !== "session"
              ? " (console session)"
              : ""),
          100,
        ),
    },
  ]);
  return [
    "objects allocated since the baseline and still alive, one row per leak:",
    withFooter(table, notes),
    "example of the first group:",
    renderPath(rows[0]!.example, names),
  ].join("\n");
}

/** A leak's holder and hops, on one line. */
export function leakHeldBy(
  row: Pick<LeakRow, "holder" | "via">,
  names: HolderNames,
): string {
  const name = row.holder ? names.get(row.holder) : undefined;
  return heldByLine(name?.text, row.holder?.kind, row.via);
}

/** Steps of a long path shown at each end; the rest is elided. */
const PATH_HEAD = 6;
const PATH_TAIL = 10;

/**
 * Renders a retaining path edge by edge, naming holders in the developer's
 * terms; a long path shows its root end and its target end, with the
 * middle elided (the returned data keeps every step). A target picked by
 * its type name says which group it stands for.
 *
 * @param path The path.
 * @param names Printed names of the steps' holders.
 * @returns Lines of text.
 */
export function renderPath(
  path: RetainingPath,
  names: HolderNames = new Map(),
): string {
  const lines: string[] = [];
  const picked = path.picked;
  if (picked && picked.total > 1) {
    const kind = path.target.className;
    lines.push(
      `${path.target.label} stands for the largest group of ${
        picked.since > 0 ? "new " : ""
      }${kind} held by one object: ${formatCount(picked.count)} of ${
        formatCount(picked.total)
      }${picked.since > 0 ? " allocated since the baseline" : ""}, retaining ${
        formatBytes(picked.retainedSize)
      }`,
    );
  }
  lines.push(
    `path to ${path.target.label} (${
      formatBytes(path.target.retainedSize)
    } retained)${
      path.reachable
        ? `, ${
          path.steps.length - 1
        } references from the root, weak ones skipped:`
        : ": NOT reachable through strong references (held only weakly, or garbage)"
    }`,
  );
  const steps = path.steps;
  const elide = steps.length > PATH_HEAD + PATH_TAIL + 1;
  for (const [i, step] of steps.entries()) {
    if (elide && i === PATH_HEAD) {
      lines.push(
        `    … ${
          formatCount(steps.length - PATH_HEAD - PATH_TAIL)
        } more references (all of them in the returned steps) …`,
      );
    }
    if (elide && i >= PATH_HEAD && i < steps.length - PATH_TAIL) continue;
    if (i === 0) {
      lines.push(`  ${step.node.label}`);
      continue;
    }
    const holder = step.holder ? names.get(step.holder) : undefined;
    const named = holder
      ? ` = ${holder.text}`
      : step.alias
      ? ` (also ${step.alias})`
      : "";
    const fn = step.node.closure && names.get(step.node.closure);
    const label = fn ? `${step.node.label} ${fn.text}` : step.node.label;
    lines.push(`    --${step.edge}--> ${label}${named}`);
  }
  return lines.join("\n");
}

/** A note under top/growth tables when a session holds some of a type. */
function sessionNote(rows: { sessionCount: number }[]): string {
  return rows.some((r) => r.sessionCount > 0)
    ? "session: how many of them only a console session's variables hold"
    : "";
}

function withFooter(text: string, notes: string[]): string {
  const shown = notes.filter((n) => n !== "");
  return shown.length === 0 ? text : [text, ...shown].join("\n");
}

function signedBytes(bytes: number): string {
  return bytes > 0 ? `+${formatBytes(bytes)}` : formatBytes(bytes);
}

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}
