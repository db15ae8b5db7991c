/**
 * Renders evaluation results for the client: values through `Deno.inspect`,
 * thrown values as name, message, cleaned stack and display text, both
 * truncated past a size limit.
 *
 * @module
 */

import { ESCAPE, RESET, startsWithColor } from "../ansi.ts";
import { inspectValue } from "./format_args.ts";
import {
  DEFAULT_LIMITS,
  type InspectLimits,
  readInspection,
  readPlainText,
} from "./inspection.ts";
import { cleanStack } from "./stack.ts";

/** Options for {@linkcode renderValue} and {@linkcode describeThrown}. */
export interface RenderOptions {
  /** Color the text with ANSI escapes. */
  colors: boolean;
  /** Truncate text longer than this many characters. */
  maxChars: number;
  /** How much of a value to show; default {@linkcode DEFAULT_LIMITS}. */
  limits?: InspectLimits;
}

/** A thrown value described for the client. */
export interface ThrownDescription {
  /** The error's `name`; for a thrown non-Error value, its `typeof`. */
  name: string;
  /** The error's message; for a non-Error value, the value inspected. */
  message: string;
  /** The cleaned stack; empty for a non-Error value. */
  stack: string;
  /** What a REPL prints: `Uncaught ` and the inspected error. */
  text: string;
}

/**
 * Inspects `value` like deno repl prints a result (strings quoted), within
 * bounds: at most `limits.entries` entries per collection, and the deepest
 * rendering up to `limits.depth` that fits in `limits.lines` lines (down to
 * depth 0, then cut). A note under the text says what was left out and
 * how to see it: `inspect(_, { depth, entries, lines })`, `_` being the
 * value just shown. Values from `inspect()` bring their own limits;
 * `plainText` values (hints, help) show as they are. The result is then
 * truncated to `maxChars`.
 *
 * @example
 * ```ts
 * import { renderValue } from "./render.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(renderValue("a", { colors: false, maxChars: 100 }), '"a"');
 * const nested = { a: { b: { c: { d: 1 } } } };
 * assert.equal(
 *   renderValue(nested, { colors: false, maxChars: 1000 }),
 *   "{ a: { b: { c: [Object] } } }",
 * );
 * const tall = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i]));
 * const shown = renderValue(tall, {
 *   colors: false,
 *   maxChars: 10_000,
 *   limits: { depth: 2, entries: 20, lines: 10 },
 * });
 * assert.equal(shown.split("\n").length, 11);
 * assert.match(shown, /42 more lines: inspect\(_, \{ lines: Infinity \}\) shows all/);
 * ```
 *
 * @param value The snippet's value.
 * @param options Colors, limits and size limit.
 * @returns The text to show.
 */
export function renderValue(value: unknown, options: RenderOptions): string {
  const text = readPlainText(value);
  if (text !== undefined) return truncateText(text, options.maxChars);
  const inspection = readInspection(value);
  const limits = inspection?.limits ?? options.limits ?? DEFAULT_LIMITS;
  const shown = inspection === undefined ? value : inspection.value;
  // Deno.inspect abbreviates strings past 10 000 characters. A string result
  // is cut by our limit alone (its count then is exact); strings inside
  // objects are abbreviated by Deno only when longer than the limit.
  const strAbbreviateSize = typeof shown === "string"
    ? Infinity
    : options.maxChars;
  // Errors inside the value show the snippet's frames, not the console's.
  const inspectAt = (depth: number) =>
    cleanStack(inspectValue(shown, {
      colors: options.colors,
      strAbbreviateSize,
      depth,
      iterableLimit: limits.entries,
    }));
  let depth = limits.depth;
  let rendered = inspectAt(depth);
  // Shallower rather than cut, when that fits: a whole overview beats the
  // first screenful. When even depth 0 does not fit, the full depth is cut.
  if (lineCount(rendered) > limits.lines) {
    for (let shallower = Math.min(depth - 1, 8); shallower >= 0; shallower--) {
      const candidate = inspectAt(shallower);
      if (lineCount(candidate) <= limits.lines) {
        depth = shallower;
        rendered = candidate;
        break;
      }
    }
  }
  const notes: string[] = [];
  if (depth < limits.depth) {
    notes.push(
      `… depth ${depth} of ${limits.depth} shown to fit ${limits.lines} lines: inspect(_, { depth: ${limits.depth} }) shows more`,
    );
  }
  const lines = lineCount(rendered);
  if (lines > limits.lines) {
    const kept = rendered.split("\n", limits.lines).join("\n");
    rendered = options.colors ? `${kept}${RESET}` : kept;
    notes.push(
      `… ${
        lines - limits.lines
      } more lines: inspect(_, { lines: Infinity }) shows all`,
    );
  }
  const full = notes.length === 0
    ? rendered
    : `${rendered}\n${notes.join("\n")}`;
  return truncateText(full, options.maxChars);
}

function lineCount(text: string): number {
  let count = 1;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) {
    count++;
  }
  return count;
}

/**
 * Describes a thrown value. Errors keep their name, message and stack with
 * engine frames removed; any other value (`throw 42`) is inspected.
 *
 * @example
 * ```ts
 * import { describeThrown } from "./render.ts";
 * import assert from "node:assert/strict";
 *
 * const thrown = describeThrown(42, { colors: false, maxChars: 100 });
 * assert.deepEqual(thrown, { name: "number", message: "42", stack: "", text: "Uncaught 42" });
 * ```
 *
 * @param thrown What was thrown.
 * @param options Colors and size limit.
 * @returns Name, message, stack and display text.
 */
export function describeThrown(
  thrown: unknown,
  options: RenderOptions,
): ThrownDescription {
  try {
    return describe(thrown, options);
  } catch {
    // Every read of the value threw (a proxy's traps): say so, do not throw.
    return {
      name: "Error",
      message: UNDESCRIBABLE,
      stack: "",
      text: `Uncaught ${UNDESCRIBABLE}`,
    };
  }
}

const UNDESCRIBABLE = "[thrown value could not be described]";

function describe(thrown: unknown, options: RenderOptions): ThrownDescription {
  const limit = (text: string) => truncateText(text, options.maxChars);
  if (isError(thrown)) {
    const name = safeString(() => thrown.name, "Error");
    const message = safeString(() => thrown.message, "");
    const rawStack = safeString(() => thrown.stack, "");
    const stack = cleanStack(
      rawStack || (message ? `${name}: ${message}` : name),
    );
    const text = `Uncaught ${
      cleanStack(inspectValue(thrown, { colors: options.colors }))
    }`;
    return {
      name,
      message: limit(message),
      stack: limit(stack),
      text: limit(text),
    };
  }
  return {
    name: thrown === null ? "null" : typeof thrown,
    message: limit(inspectValue(thrown)),
    stack: "",
    text: limit(`Uncaught ${inspectValue(thrown, { colors: options.colors })}`),
  };
}

/**
 * Cuts `text` to `maxChars` characters and says how much was left out.
 * A cut inside an ANSI color sequence or a surrogate pair is avoided, and
 * colors are reset after the cut.
 *
 * @example
 * ```ts
 * import { truncateText } from "./render.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(truncateText("abcdef", 4), "abcd… (truncated, 2 more chars)");
 * ```
 *
 * @param text The text.
 * @param maxChars The limit.
 * @returns `text`, or its beginning and a truncation marker.
 */
export function truncateText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let end = Math.max(0, maxChars);
  const escape = text.lastIndexOf(ESCAPE, end);
  if (
    escape !== -1 && escape > end - 16 &&
    !startsWithColor(text.slice(escape, end))
  ) {
    end = escape;
  }
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  const reset = text.includes(`${ESCAPE}[`) ? RESET : "";
  return `${text.slice(0, end)}${reset}… (truncated, ${
    text.length - end
  } more chars)`;
}

function isError(value: unknown): value is Error {
  const isErrorBrand = (Error as { isError?: (value: unknown) => boolean })
    .isError;
  if (isErrorBrand?.(value) === true) return true;
  try {
    // An error-like object (a subclass across realms, Object.create(Error.prototype)).
    return value instanceof Error;
  } catch {
    return false; // a proxy whose getPrototypeOf trap throws
  }
}

function safeString(read: () => unknown, fallback: string): string {
  try {
    const value = read();
    return value === undefined ? fallback : String(value);
  } catch {
    return fallback;
  }
}
