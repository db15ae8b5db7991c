/**
 * The arguments of the `heap.*` helpers as an operator types them: a row
 * count and an options object, each optional, the options in whichever
 * place reads naturally (`heap.growth({ all: true })`,
 * `heap.graph(obj, { depth: 2 })`), and a clear error for anything else.
 *
 * @module
 */

/**
 * Reads `(n?, options?)`: an object in the first place is the options.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { countAndOptions } from "./heap_args.ts";
 * assert.deepEqual(
 *   countAndOptions("heap.growth()", [{ all: true }], 10, ["all"]),
 *   { n: 10, options: { all: true } },
 * );
 * assert.deepEqual(
 *   countAndOptions("heap.top()", [5, { all: true }], 10, ["all"]),
 *   { n: 5, options: { all: true } },
 * );
 * assert.throws(() => countAndOptions("heap.top()", [0], 10, []), RangeError);
 * assert.throws(
 *   () => countAndOptions("heap.top()", [{ al: true }], 10, ["all"]),
 *   /heap\.top\(\) has no option "al"/,
 * );
 * ```
 *
 * @param what The helper, for messages: `heap.top()`.
 * @param args What it was called with.
 * @param defaultN The row count when none is given.
 * @param known The option names it takes.
 * @returns The row count and the options.
 */
export function countAndOptions<T extends object>(
  what: string,
  args: readonly unknown[],
  defaultN: number,
  known: readonly string[],
): { n: number; options: T } {
  let [n, options] = args;
  if (args.length > 2) {
    throw new TypeError(
      `${what} takes a row count and an options object, got ${args.length} arguments`,
    );
  }
  if (isOptions(n) && options === undefined) {
    options = n;
    n = undefined;
  }
  const count = n === undefined || n === null ? defaultN : n;
  if (typeof count !== "number" || !Number.isInteger(count) || count < 1) {
    throw new RangeError(
      `${what} takes a positive row count, got ${describe(count)}`,
    );
  }
  return { n: count, options: checkOptions<T>(what, options, known) };
}

/**
 * Checks an options object: undefined is `{}`, anything but a plain object
 * or an unknown option name is an error that lists the known ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkOptions } from "./heap_args.ts";
 * assert.deepEqual(checkOptions("heap.path()", undefined, ["all"]), {});
 * assert.throws(() => checkOptions("heap.path()", "all", ["all"]), TypeError);
 * ```
 *
 * @param what The helper, for messages.
 * @param options What was passed.
 * @param known The option names it takes.
 * @returns The options.
 */
export function checkOptions<T extends object>(
  what: string,
  options: unknown,
  known: readonly string[],
): T {
  if (options === undefined || options === null) return {} as T;
  if (!isOptions(options)) {
    throw new TypeError(
      `${what} takes an options object, got ${describe(options)}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(
        `${what} has no option ${JSON.stringify(clip(key))}${
          known.length > 0
            ? `; it takes ${known.map((k) => `"${k}"`).join(", ")}`
            : ""
        }`,
      );
    }
  }
  return options as T;
}

/**
 * Whether a value is an options object: a plain object, not an array, a
 * function, `null` or a boxed value.
 *
 * @param value Anything.
 * @returns True for a plain object.
 */
export function isOptions(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return false;
  }
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(clip(value));
  if (typeof value === "number" || typeof value === "boolean") {
    return `"${value}"`;
  }
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : typeof value;
}

function clip(text: string): string {
  return text.length > 40 ? text.slice(0, 39) + "…" : text;
}
