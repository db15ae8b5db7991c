/**
 * How much of a value a result shows: the default bounds (depth, entries,
 * lines) that keep a result on one screen, and the values that carry bounds
 * of their own (`inspect(value, { depth })`) or are plain text (hints,
 * `help()`).
 *
 * @module
 */

/** How much of a value to show. */
export interface InspectLimits {
  /** Levels of nesting shown; deeper objects read `[Object]`. */
  depth: number;
  /** Entries shown per array, Map or Set; the rest are counted. */
  entries: number;
  /** Lines shown; the rest are counted. */
  lines: number;
}

/** What a result shows unless asked for more. */
export const DEFAULT_LIMITS: Readonly<InspectLimits> = Object.freeze({
  depth: 2,
  entries: 20,
  lines: 40,
});

/** What `inspect(value)` shows: Deno's own defaults, every line. */
export const INSPECT_LIMITS: Readonly<InspectLimits> = Object.freeze({
  depth: 4,
  entries: 100,
  lines: Infinity,
});

/** A value to show with limits of its own. */
export interface Inspection {
  /** The value. */
  value: unknown;
  /** Its limits. */
  limits: InspectLimits;
}

// Brands kept outside the objects: reading them runs no code of the value.
const inspections = new WeakMap<object, Inspection>();
const texts = new WeakMap<object, string>();
const CUSTOM_INSPECT = Symbol.for("Deno.customInspect");

/**
 * Wraps `value` so that it renders with `limits` (as a result, and in
 * `console.log`). Wrapping a wrapper replaces its limits.
 *
 * @example
 * ```ts
 * import { inspectWith, readInspection } from "./inspection.ts";
 * import assert from "node:assert/strict";
 *
 * const shown = inspectWith([1, 2, 3], { depth: 1, entries: 2, lines: 10 });
 * assert.deepEqual(readInspection(shown)?.value, [1, 2, 3]);
 * assert.equal(Deno.inspect(shown), "[ 1, 2, ... 1 more item ]");
 * ```
 *
 * @param value The value to show.
 * @param limits How much of it.
 * @returns The wrapper.
 */
export function inspectWith(value: unknown, limits: InspectLimits): object {
  const inner = readInspection(value)?.value ?? value;
  const wrapper = Object.create(null);
  Object.defineProperty(wrapper, CUSTOM_INSPECT, {
    value: (_inspect: unknown, options: Deno.InspectOptions = {}) =>
      Deno.inspect(inner, {
        colors: options.colors,
        depth: limits.depth,
        iterableLimit: limits.entries,
      }),
  });
  inspections.set(wrapper, { value: inner, limits });
  return wrapper;
}

/**
 * The value and limits of an {@linkcode inspectWith} wrapper.
 *
 * @example
 * ```ts
 * import { readInspection } from "./inspection.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(readInspection({}), undefined);
 * ```
 *
 * @param value Any value.
 * @returns Its inspection, or `undefined` for anything else.
 */
export function readInspection(value: unknown): Inspection | undefined {
  return isObject(value) ? inspections.get(value) : undefined;
}

/**
 * A value shown as `text` itself, whatever the limits: a hint, a help
 * listing. It also works as text (`${value}`).
 *
 * @example
 * ```ts
 * import { plainText, readPlainText } from "./inspection.ts";
 * import assert from "node:assert/strict";
 *
 * const hint = plainText("use cache.size");
 * assert.equal(readPlainText(hint), "use cache.size");
 * assert.equal(`${hint}`, "use cache.size");
 * assert.equal(Deno.inspect(hint), "use cache.size");
 * ```
 *
 * @param text The text.
 * @returns A `String` object that renders unquoted.
 */
export function plainText(text: string): string {
  const boxed = new String(text);
  Object.defineProperty(boxed, CUSTOM_INSPECT, { value: () => text });
  texts.set(boxed, text);
  return boxed as string;
}

/**
 * The text of a {@linkcode plainText} value.
 *
 * @example
 * ```ts
 * import { readPlainText } from "./inspection.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(readPlainText("just a string"), undefined);
 * ```
 *
 * @param value Any value.
 * @returns Its text, or `undefined` for anything else.
 */
export function readPlainText(value: unknown): string | undefined {
  return isObject(value) ? texts.get(value) : undefined;
}

function isObject(value: unknown): value is object {
  return (typeof value === "object" && value !== null) ||
    typeof value === "function";
}
