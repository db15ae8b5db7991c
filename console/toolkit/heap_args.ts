/**
 * The arguments of the `heap.*` helpers as an operator types them: a row
 * count and an options object, each optional, the options in whichever
 * place reads naturally (`heap.growth({ all: true })`,
 * `heap.graph(obj, { depth: 2 })`), and a clear error for anything else.
 *
 * @module
 */

/**
 * What each option of a helper takes: a boolean, an integer in a range, or
 * one of a few words.
 */
export type OptionSpec = Readonly<
  Record<
    string,
    "boolean" | { min: number; max: number } | readonly string[]
  >
>;

/**
 * Reads `(n?, options?)`: an object in the first place is the options.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { countAndOptions } from "./heap_args.ts";
 * const spec = { all: "boolean" } as const;
 * assert.deepEqual(
 *   countAndOptions("heap.growth()", [{ all: true }], 10, spec),
 *   { n: 10, options: { all: true } },
 * );
 * assert.deepEqual(
 *   countAndOptions("heap.top()", [5, { all: true }], 10, spec),
 *   { n: 5, options: { all: true } },
 * );
 * assert.throws(() => countAndOptions("heap.top()", [0], 10, spec), RangeError);
 * assert.throws(
 *   () => countAndOptions("heap.top()", [{ al: true }], 10, spec),
 *   /heap\.top\(\) has no option "al"/,
 * );
 * assert.throws(
 *   () => countAndOptions("heap.top()", [{ all: "yes" }], 10, spec),
 *   /heap\.top\(\) takes all: true or false, got "yes"/,
 * );
 * ```
 *
 * @param what The helper, for messages: `heap.top()`.
 * @param args What it was called with.
 * @param defaultN The row count when none is given.
 * @param spec The options it takes.
 * @returns The row count and the options.
 */
export function countAndOptions<T extends object>(
  what: string,
  args: readonly unknown[],
  defaultN: number,
  spec: OptionSpec,
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
  return { n: count, options: checkOptions<T>(what, options, spec) };
}

/**
 * Checks an options object: undefined is `{}`; anything but a plain object,
 * an unknown option name (the error lists the known ones) or a value of
 * the wrong kind is an error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkOptions } from "./heap_args.ts";
 * const spec = { all: "boolean", depth: { min: 1, max: 64 } } as const;
 * assert.deepEqual(checkOptions("heap.path()", undefined, spec), {});
 * assert.throws(() => checkOptions("heap.path()", "all", spec), TypeError);
 * assert.throws(
 *   () => checkOptions("heap.graph()", { depth: 1e9 }, spec),
 *   /takes depth: an integer from 1 to 64, got "1000000000"/,
 * );
 * ```
 *
 * @param what The helper, for messages.
 * @param options What was passed.
 * @param spec The options it takes.
 * @returns The options.
 */
export function checkOptions<T extends object>(
  what: string,
  options: unknown,
  spec: OptionSpec,
): T {
  if (options === undefined || options === null) return {} as T;
  if (!isOptions(options)) {
    throw new TypeError(
      `${what} takes an options object, got ${describe(options)}`,
    );
  }
  const known = Object.keys(spec);
  for (const [key, value] of Object.entries(options)) {
    const kind = spec[key];
    if (kind === undefined) {
      throw new TypeError(
        `${what} has no option ${JSON.stringify(clip(key))}${
          known.length > 0
            ? `; it takes ${known.map((k) => `"${k}"`).join(", ")}`
            : ""
        }`,
      );
    }
    if (value === undefined) continue;
    if (kind === "boolean") {
      if (typeof value !== "boolean") {
        throw new TypeError(
          `${what} takes ${key}: true or false, got ${describe(value)}`,
        );
      }
    } else if (Array.isArray(kind)) {
      if (!kind.includes(value as string)) {
        throw new TypeError(
          `${what} takes ${key}: ${
            kind.map((k) => `"${k}"`).join(" or ")
          }, got ${describe(value)}`,
        );
      }
    } else {
      const range = kind as { min: number; max: number };
      if (
        typeof value !== "number" || !Number.isInteger(value) ||
        value < range.min || value > range.max
      ) {
        throw new RangeError(
          `${what} takes ${key}: an integer from ${range.min} to ${range.max}, got ${
            describe(value)
          }`,
        );
      }
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
