/**
 * Renders `console.table` data as the box-drawn table Deno's console prints.
 *
 * @module
 */

import { stripColors } from "../ansi.ts";
import { inspectValue } from "./format_args.ts";

/**
 * Builds the table for `console.table(data, properties)`: one row per own
 * key of `data` (entries for a Map, values for a Set), one column per key of
 * the row objects, and a `Values` column for primitive rows. Columns whose
 * cells are all integers are right-aligned.
 *
 * @example
 * ```ts
 * import { renderConsoleTable } from "./console_table.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   renderConsoleTable([{ a: 1 }]),
 *   "┌───────┬───┐\n│ (idx) │ a │\n├───────┼───┤\n│     0 │ 1 │\n└───────┴───┘",
 * );
 * ```
 *
 * @param data An object, array, Map or Set.
 * @param properties Restricts and orders the columns.
 * @param options `Deno.inspect` options for the cells (`colors`).
 * @returns The table text, without a final newline.
 */
export function renderConsoleTable(
  data: object,
  properties?: readonly string[],
  options: Deno.InspectOptions = {},
): string {
  const cell = (value: unknown) =>
    inspectValue(value, { ...options, depth: 1 });
  const isMap = data instanceof Map;
  const isSet = data instanceof Set;
  let rows: Record<string, unknown>;
  if (isMap) {
    rows = {};
    let index = 0;
    for (const [key, value] of data) {
      rows[index++] = { Key: key, Values: value };
    }
  } else if (isSet) {
    rows = { ...[...data] };
  } else {
    rows = data as Record<string, unknown>;
  }
  const keys = Object.keys(rows);
  const columns = new Map<string, string[]>();
  for (const name of properties ?? []) {
    columns.set(name, new Array(keys.length).fill(""));
  }
  const values: string[] = [];
  let hasPrimitives = false;
  keys.forEach((key, row) => {
    const value = rows[key];
    const primitive = value === null ||
      (typeof value !== "object" && typeof value !== "function");
    if (primitive && properties === undefined) {
      hasPrimitives = true;
      values.push(cell(value));
      return;
    }
    values.push("");
    if (primitive) return;
    const record = value as Record<string, unknown>;
    for (const name of properties ?? Object.keys(record)) {
      if (!(name in record)) continue;
      let column = columns.get(name);
      if (column === undefined) {
        column = new Array(keys.length).fill("");
        columns.set(name, column);
      }
      column[row] = cell(record[name]);
    }
  });
  const header = [isMap || isSet ? "(iter idx)" : "(idx)", ...columns.keys()];
  const body = [keys, ...columns.values()];
  if (hasPrimitives && !isMap && properties === undefined) {
    header.push("Values");
    body.push(values);
  }
  return drawTable(header, body);
}

function drawTable(header: string[], columns: string[][]): string {
  const widths = header.map(textWidth);
  const rightAligned = header.map(() => true);
  const rowCount = Math.max(0, ...columns.map((column) => column.length));
  columns.forEach((column, i) => {
    for (let row = 0; row < rowCount; row++) {
      const text = column[row] ?? "";
      widths[i] = Math.max(widths[i]!, textWidth(text));
      rightAligned[i] &&= Number.isInteger(Number(stripColors(text)));
    }
  });
  const line = (left: string, middle: string, right: string) =>
    left + widths.map((width) => "─".repeat(width + 2)).join(middle) + right;
  const row = (cells: string[], align: boolean[]) =>
    "│ " + cells.map((text, i) => {
      const padding = " ".repeat(widths[i]! - textWidth(text));
      return align[i] ? padding + text : text + padding;
    }).join(" │ ") + " │";
  const lines = [line("┌", "┬", "┐"), row(header, []), line("├", "┼", "┤")];
  for (let i = 0; i < rowCount; i++) {
    lines.push(row(columns.map((column) => column[i] ?? ""), rightAligned));
  }
  lines.push(line("└", "┴", "┘"));
  return lines.join("\n");
}

/** Terminal columns taken by `text`: wide East Asian characters count twice. */
function textWidth(text: string): number {
  let width = 0;
  for (const char of stripColors(text).normalize("NFC")) {
    width += isWide(char.codePointAt(0)!) ? 2 : 1;
  }
  return width;
}

function isWide(code: number): boolean {
  return (code >= 0x1100 && code <= 0x115f) || code === 0x2329 ||
    code === 0x232a ||
    (code >= 0x2e80 && code <= 0x3247 && code !== 0x303f) ||
    (code >= 0x3250 && code <= 0x4dbf) || (code >= 0x4e00 && code <= 0xa4c6) ||
    (code >= 0xa960 && code <= 0xa97c) || (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) || (code >= 0xfe10 && code <= 0xfe19) ||
    (code >= 0xfe30 && code <= 0xfe6b) || (code >= 0xff01 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1b000 && code <= 0x1b001) ||
    (code >= 0x1f200 && code <= 0x1f251) ||
    (code >= 0x1f300 && code <= 0x1f64f) ||
    (code >= 0x20000 && code <= 0x3fffd);
}
