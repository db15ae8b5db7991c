/**
 * Renders evaluation results for the client: values through `Deno.inspect`,
 * thrown values as name, message, cleaned stack and display text, both
 * truncated past a size limit.
 *
 * @module
 */

import { ESCAPE, RESET, startsWithColor } from "../ansi.ts";
import { inspectValue } from "./format_args.ts";
import { cleanStack } from "./stack.ts";

/** Options for {@linkcode renderValue} and {@linkcode describeThrown}. */
export interface RenderOptions {
  /** Color the text with ANSI escapes. */
  colors: boolean;
  /** Truncate text longer than this many characters. */
  maxChars: number;
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
 * Inspects `value` like deno repl prints a result (strings quoted), then
 * truncates it.
 *
 * @example
 * ```ts
 * import { renderValue } from "./render.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(renderValue("a", { colors: false, maxChars: 100 }), '"a"');
 * ```
 *
 * @param value The snippet's value.
 * @param options Colors and size limit.
 * @returns The text to show.
 */
export function renderValue(value: unknown, options: RenderOptions): string {
  // Deno.inspect abbreviates strings past 10 000 characters. A string result
  // is cut by our limit alone (its count then is exact); strings inside
  // objects are abbreviated by Deno only when longer than the limit.
  const strAbbreviateSize = typeof value === "string"
    ? Infinity
    : options.maxChars;
  const inspectOptions = { colors: options.colors, strAbbreviateSize };
  return truncateText(inspectValue(value, inspectOptions), options.maxChars);
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
