/**
 * How toolkit results print: human units, small text tables, and the
 * `Deno.customInspect` hook that makes plain data render as a table.
 *
 * @module
 */

const INSPECT = Symbol.for("Deno.customInspect");

/**
 * Formats a byte count in IEC units, with three significant digits at most
 * below 1 KiB (a rate such as 957.82 B/s prints as `958 B`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatBytes } from "./report.ts";
 * assert.equal(formatBytes(1536), "1.50 KiB");
 * assert.equal(formatBytes(957.8230654943757), "958 B");
 * assert.equal(formatBytes(-2.345), "-2.35 B");
 * assert.equal(formatBytes(NaN), "n/a");
 * ```
 *
 * @param bytes A size in bytes.
 * @returns e.g. `"12.3 MiB"`; `"n/a"` for a value that is not a number.
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "n/a";
  const sign = bytes < 0 ? "-" : "";
  let value = Math.abs(bytes);
  if (value < 1024) return `${sign}${roundSmall(value)} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${sign}${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** A small number with three significant digits at most, integers as they are. */
function roundSmall(value: number): string {
  if (Number.isInteger(value)) return String(value);
  const digits = value < 10 ? 2 : value < 100 ? 1 : 0;
  return String(Number(value.toFixed(digits)));
}

/**
 * Formats a rate of change per second: bytes in IEC units, a count as a
 * plain number with three significant digits at most, always signed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatRate } from "./report.ts";
 * assert.equal(formatRate(957.8230654943757, "bytes"), "+958 B/s");
 * assert.equal(formatRate(-3 * 2 ** 20, "bytes"), "-3.00 MiB/s");
 * assert.equal(formatRate(1.254, "count"), "+1.25/s");
 * assert.equal(formatRate(NaN, "count"), "n/a");
 * ```
 *
 * @param perSecond The rate.
 * @param unit `"bytes"` or `"count"`.
 * @returns e.g. `"+243.6 KiB/s"`, `"+1.25/s"`; `"n/a"` when not a number.
 */
export function formatRate(perSecond: number, unit: "bytes" | "count"): string {
  if (!Number.isFinite(perSecond)) return "n/a";
  const sign = perSecond < 0 ? "-" : "+";
  const size = Math.abs(perSecond);
  const text = unit === "bytes"
    ? formatBytes(size)
    : size >= 1000
    ? formatCount(size)
    : roundSmall(size);
  return `${sign}${text}/s`;
}

/**
 * Formats an amount of bytes or a count.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatAmount } from "./report.ts";
 * assert.equal(formatAmount(3 * 2 ** 20, "bytes"), "3.00 MiB");
 * assert.equal(formatAmount(253.4, "count"), "253");
 * ```
 *
 * @param value The amount.
 * @param unit `"bytes"` or `"count"`.
 * @returns The amount as text.
 */
export function formatAmount(value: number, unit: "bytes" | "count"): string {
  if (!Number.isFinite(value)) return "n/a";
  return unit === "bytes" ? formatBytes(value) : formatCount(value);
}

/**
 * Formats a span of time at the alarm's scale (windows, horizons): `45 s`,
 * `4 min` or `1.5 h`.
 *
 * @param ms Milliseconds.
 * @returns The text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatSpan } from "./report.ts";
 * assert.equal(formatSpan(60_000), "60 s");
 * assert.equal(formatSpan(240_000), "4 min");
 * assert.equal(formatSpan(5_400_000), "90 min");
 * assert.equal(formatSpan(9_000_000), "2.5 h");
 * ```
 */
export function formatSpan(ms: number): string {
  const s = ms / 1000;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Number((s / 60).toFixed(1))} min`;
  return `${Number((s / 3600).toFixed(1))} h`;
}

/**
 * Formats an integer with thin digit grouping.
 *
 * @example
 * ```ts
 * import { formatCount } from "./report.ts";
 * if (formatCount(12345) !== "12 345") throw new Error("unexpected");
 * ```
 *
 * @param n A count.
 * @returns e.g. `"12 345"`.
 */
export function formatCount(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, " ");
}

/** A column of {@link renderTable}. */
export interface Column<T> {
  /** Header text. */
  title: string;
  /** Cell text for a row. */
  cell(row: T): string;
  /** Right-align (numbers). */
  right?: boolean;
}

/**
 * Renders rows as an aligned text table.
 *
 * @example
 * ```ts
 * import { renderTable } from "./report.ts";
 * const text = renderTable([{ a: 1 }], [{ title: "a", cell: (r) => String(r.a) }]);
 * if (!text.includes("a")) throw new Error("unexpected");
 * ```
 *
 * @param rows The rows.
 * @param columns How to print each column.
 * @returns The table, header first.
 */
export function renderTable<T>(
  rows: readonly T[],
  columns: Column<T>[],
): string {
  const cells = rows.map((row) => columns.map((c) => c.cell(row)));
  const widths = columns.map((c, i) =>
    Math.max(c.title.length, ...cells.map((r) => r[i]!.length))
  );
  const line = (values: string[]) =>
    values.map((v, i) =>
      columns[i]!.right ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)
    ).join("  ").trimEnd();
  return [
    line(columns.map((c) => c.title)),
    line(widths.map((w) => "-".repeat(w))),
    ...cells.map(line),
  ].join("\n");
}

/**
 * Makes a value print as `render()` under `Deno.inspect` (and so in the
 * console), without changing its data: the hook is a non-enumerable symbol
 * property, so `JSON.stringify` and spreading ignore it.
 *
 * @example
 * ```ts
 * import { withInspect } from "./report.ts";
 * const value = withInspect({ n: 1 }, () => "one");
 * if (Deno.inspect(value) !== "one" || JSON.stringify(value) !== '{"n":1}') {
 *   throw new Error("unexpected");
 * }
 * ```
 *
 * @param value An object or array.
 * @param render Its printed form.
 * @returns The same value.
 */
export function withInspect<T extends object>(
  value: T,
  render: () => string,
): T {
  Object.defineProperty(value, INSPECT, {
    value: render,
    enumerable: false,
    configurable: true,
  });
  return value;
}
