/**
 * How the heap reports print, for the console's `heap.*` helpers and the
 * `analyze` command alike: rows built from the analysis with their holders
 * named in the developer's terms (`typeReport`, `largestReport`,
 * `kindReport`, `leakReport`, `pathReport`, `retainerDot`), the tables of
 * `top`, `growth`, `largest` and `leaks`, each saying what it left out,
 * and retaining paths edge by edge.
 *
 * @module
 */

import type {
  LargeGroup,
  LargeObject,
  LeakGroup,
  LeakReport,
  RetainerGraph,
  RetainingPath,
  TypeStats,
} from "../heap/analysis.ts";
import { renderDot } from "../heap/dot.ts";
import {
  type Column,
  formatBytes,
  formatCount,
  renderTable,
  withInspect,
} from "./report.ts";
import { heldByLine, type HolderNames, holderNames } from "./heap_names.ts";
import type {
  GrowthRow,
  KindRow,
  LargestRow,
  LeakReportRows,
  LeakRow,
  TypeRow,
} from "./heap.ts";

/**
 * How a report tells its reader to see more rows or the console's own
 * objects: the console's helpers by their arguments, `analyze` by its
 * flags.
 */
export interface Hints {
  /** How to see more rows: `heap.leaks(n) shows more`. */
  more: string;
  /** How to include the console's objects: `{ all: true } includes them`. */
  all: string;
}

/** The console's hints: the helpers' arguments. */
export const CONSOLE_HINTS: Hints = {
  more: "heap.leaks(n) shows more",
  all: "{ all: true } includes them",
};

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
 * @param hints How to include it (the console's helpers by default).
 * @returns The line, or `""` when nothing was left out.
 */
export function leftOutLine(
  left: LeftOut,
  all: boolean | undefined,
  hints: Hints = CONSOLE_HINTS,
): string {
  if (all || left.count === 0) return "";
  return `left out: the console's own ${formatCount(left.count)} objects (${
    formatBytes(left.size)
  }); ${hints.all}`;
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

/** How {@link renderLeaks} and {@link leakReport} print. */
export interface LeakPrintOptions {
  /**
   * What the objects are, above the table (default: `objects allocated
   * since the baseline and still alive`).
   */
  title?: string;
  /** Whether the console's objects were included. */
  all?: boolean;
  /** How to see more rows and the console's objects (the console's by default). */
  hints?: Hints;
}

/**
 * `heap.leaks()` as a table: one row per leak, what the other groups add
 * up to, what was left out, and the first group's example path.
 *
 * @param report The rows and totals.
 * @param names Printed names of the holders in the rows.
 * @param options The title; whether the console's objects were included;
 *   the hints.
 * @returns The text.
 */
export function renderLeaks(
  report: LeakReportRows,
  names: HolderNames,
  options: LeakPrintOptions = {},
): string {
  const {
    title = "objects allocated since the baseline and still alive",
    all,
    hints = CONSOLE_HINTS,
  } = options;
  const { rows } = report;
  const notes: string[] = [];
  const others = report.groupCount - rows.length;
  if (others > 0) {
    let shown = 0;
    for (const r of rows) shown += r.retainedSize;
    notes.push(
      `${formatCount(others)} more ${
        others === 1 ? "group retains" : "groups retain"
      } ${
        formatBytes(Math.max(0, report.retainedSize - shown))
      } (${hints.more})`,
    );
  }
  const { console: mine, code } = report.leftOut;
  const left: string[] = [];
  if (!all && mine.count > 0) {
    left.push(
      `${formatCount(mine.count)} new objects (${
        formatBytes(mine.size)
      }) the console holds for itself (${hints.all})`,
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
    `${title}, one row per leak:`,
    withFooter(table, notes),
    "example of the first group:",
    renderPath(rows[0]!.example, names),
  ].join("\n");
}

/**
 * `heap.top()`'s rows from a census: they print as a table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { typeReport } from "./heap_render.ts";
 * const rows = typeReport([
 *   { name: "Map", count: 2, shallowSize: 160, retainedSize: 4096, sessionCount: 0 },
 * ], "");
 * assert.equal(rows[0]!.type, "Map");
 * assert.match(Deno.inspect(rows), /^type +count +shallow +retained/);
 * ```
 *
 * @param stats The census rows, in the order to show.
 * @param leftOut The footer (see {@link leftOutLine}).
 * @returns The rows.
 */
export function typeReport(stats: TypeStats[], leftOut: string): TypeRow[] {
  const rows: TypeRow[] = stats.map((s) => ({
    type: s.name,
    count: s.count,
    shallowSize: s.shallowSize,
    retainedSize: s.retainedSize,
    sessionCount: s.sessionCount,
  }));
  return withInspect(rows, () => renderTypes(rows, leftOut));
}

/**
 * `heap.largest()`'s rows: each object with who holds it (and whether a
 * console session does), printing as a table.
 *
 * @example
 * ```ts ignore
 * console.log(await largestReport(analysis.largest(10), ""));
 * ```
 *
 * @param objects The objects, largest first.
 * @param leftOut The footer (see {@link leftOutLine}).
 * @returns The rows.
 */
export async function largestReport(
  objects: LargeObject[],
  leftOut: string,
): Promise<LargestRow[]> {
  const names = await holderNames(objects, (o) => [o.holder]);
  const rows: LargestRow[] = objects.map((o) => ({
    ...o,
    heldBy: (o.holder ? leakHeldBy(o, names) : o.path) +
      (o.owner === "session" && o.holder?.kind !== "session"
        ? " (console session)"
        : ""),
  }));
  return withInspect(rows, () => renderLargest(rows, leftOut));
}

/**
 * `heap.largest(n, { by: "kind" })`'s rows: kinds named (closures by their
 * function's `.ts` position), printing as a table.
 *
 * @example
 * ```ts ignore
 * console.log(await kindReport(analysis.largestGroups(10), ""));
 * ```
 *
 * @param groups The kinds, largest first.
 * @param leftOut The footer (see {@link leftOutLine}).
 * @returns The rows.
 */
export async function kindReport(
  groups: LargeGroup[],
  leftOut: string,
): Promise<KindRow[]> {
  const names = await holderNames(groups, (g) => [g.closure]);
  const rows: KindRow[] = groups.map((g) => ({
    ...g,
    name: g.closure ? `(closure) ${names.get(g.closure)!.text}` : g.kind,
  }));
  return withInspect(rows, () => renderKinds(rows, leftOut));
}

/**
 * `heap.leaks()`'s rows: one per leak, its holder and objects named,
 * printing as a table with its totals and the first group's example path.
 *
 * @example
 * ```ts ignore
 * console.log(await leakReport(analysis.leakReport(baselineMaxId)));
 * ```
 *
 * @param report The groups, largest first, and the totals.
 * @param options The title; whether the console's objects were included;
 *   the hints.
 * @returns The rows.
 */
export async function leakReport(
  report: LeakReport,
  options: LeakPrintOptions = {},
): Promise<LeakRow[]> {
  const { groups, ...totals } = report;
  const names = await holderNames(groups, (g) => [
    g.holder,
    g.closure,
    g.started,
    ...g.example.steps.map((s) => s.holder),
    ...g.example.steps.map((s) => s.node.closure),
  ]);
  const rows = groups.map((g) => leakRow(g, names));
  const shown: LeakReportRows = { ...totals, rows };
  return withInspect(rows, () => renderLeaks(shown, names, options));
}

/**
 * `heap.path()`'s result: the path, printing hop by hop with its holders
 * named in the developer's terms.
 *
 * @example
 * ```ts ignore
 * console.log(await pathReport(analysis.path(node)));
 * ```
 *
 * @param path A retaining path.
 * @returns The same path.
 */
export async function pathReport(path: RetainingPath): Promise<RetainingPath> {
  const names = await holderNames(path.steps, (s) => [s.holder]);
  return withInspect(path, () => renderPath(path, names));
}

/**
 * `heap.graph()`'s drawing: the retainer graph as Graphviz DOT, nodes
 * labelled with their functions and the bindings that hold them.
 *
 * @example
 * ```ts ignore
 * const dot = await retainerDot(analysis.retainerGraph(node));
 * ```
 *
 * @param found The retainers around a node.
 * @returns The DOT source.
 */
export async function retainerDot(found: RetainerGraph): Promise<string> {
  const names = await holderNames(
    found.nodes,
    (n) => [n.holder, n.info.closure],
  );
  return renderDot(found, (node) => {
    const lines: string[] = [];
    if (node.info.closure) lines.push(names.get(node.info.closure)!.text);
    if (node.holder) lines.push(names.get(node.holder)!.text);
    return lines;
  });
}

/** A leak group as a row: its holder line and what its objects are. */
function leakRow(g: LeakGroup, names: HolderNames): LeakRow {
  const main = g.classes[0]!;
  let objects = g.closure && main.name === "(closure)"
    ? `(closure) ${names.get(g.closure)!.text}`
    : main.name;
  if (g.started && main.name === "Promise") {
    objects = `Promise chain from ${names.get(g.started)!.text}`;
  }
  const others = g.count - main.count;
  const also = others === 0
    ? ""
    : g.classes.length === 2
    ? `+${formatCount(others)} ${g.classes[1]!.name}`
    : `+${formatCount(others)} others`;
  return {
    ...g,
    heldBy: leakHeldBy(g, names),
    objects: also === "" ? objects : `${objects} ${also}`,
    mainObjects: objects,
    also,
    mainCount: main.count,
  };
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
