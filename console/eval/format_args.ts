/**
 * Formats `console.*` arguments the way Deno's console does: strings as they
 * are, other values through `Deno.inspect`, and `%s %d %i %f %j %o %O %c %%`
 * substitutions when the first argument is a string.
 *
 * @module
 */

/** Options for {@linkcode formatArgs} and {@linkcode inspectValue}. */
export interface FormatOptions extends Deno.InspectOptions {
  /** Spaces to put before every line (console.group nesting). */
  indent?: number;
}

/**
 * Renders a value with `Deno.inspect`. A value whose inspection throws (a
 * hostile proxy, a broken custom inspector) is shown as a short note rather
 * than breaking the caller.
 *
 * @example
 * ```ts
 * import { inspectValue } from "./format_args.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(inspectValue(new Map([["a", 1]])), 'Map(1) { "a" => 1 }');
 * ```
 *
 * @param value Any value.
 * @param options `Deno.inspect` options.
 * @returns The inspected text.
 */
export function inspectValue(
  value: unknown,
  options: Deno.InspectOptions = {},
): string {
  try {
    return Deno.inspect(value, options);
  } catch (error) {
    return `[value could not be inspected: ${describeFailure(error)}]`;
  }
}

/**
 * Joins console arguments into one line of text, like `console.log` would
 * print it (without the final newline).
 *
 * @example
 * ```ts
 * import { formatArgs } from "./format_args.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatArgs(["%s is %d", "Bob", 42.5, { a: 1 }]), "Bob is 42 { a: 1 }");
 * ```
 *
 * @param args The arguments given to the console method.
 * @param options Inspection options and the group indentation.
 * @returns The formatted text.
 */
export function formatArgs(
  args: readonly unknown[],
  options: FormatOptions = {},
): string {
  const { indent = 0, ...inspectOptions } = options;
  let text = "";
  let next = 0;
  const first = args[0];
  if (typeof first === "string" && args.length > 1) {
    next = 1;
    let copied = 0;
    for (let i = 0; i < first.length - 1; i++) {
      if (first[i] !== "%") continue;
      const specifier = first[++i]!;
      if (specifier === "%") {
        text += first.slice(copied, i - 1) + "%";
        copied = i + 1;
        continue;
      }
      if (next >= args.length) continue;
      const replacement = substitute(specifier, args[next], inspectOptions);
      if (replacement === undefined) continue;
      next++;
      text += first.slice(copied, i - 1) + replacement;
      copied = i + 1;
    }
    text += first.slice(copied);
  }
  for (; next < args.length; next++) {
    if (next > 0) text += " ";
    const arg = args[next];
    text += typeof arg === "string" ? arg : inspectValue(arg, inspectOptions);
  }
  return indentLines(text, indent);
}

/**
 * Puts `indent` spaces before every line of `text`.
 *
 * @example
 * ```ts
 * import { indentLines } from "./format_args.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(indentLines("a\nb", 2), "  a\n  b");
 * ```
 *
 * @param text The text.
 * @param indent How many spaces.
 * @returns The indented text.
 */
export function indentLines(text: string, indent: number): string {
  if (indent <= 0) return text;
  const pad = " ".repeat(indent);
  return pad + text.replaceAll("\n", `\n${pad}`);
}

function substitute(
  specifier: string,
  value: unknown,
  options: Deno.InspectOptions,
): string | undefined {
  switch (specifier) {
    case "s":
      return safely(() => String(value));
    case "d":
    case "i":
      return typeof value === "symbol"
        ? "NaN"
        : safely(() => String(parseInt(String(value))));
    case "f":
      return typeof value === "symbol"
        ? "NaN"
        : safely(() => String(parseFloat(String(value))));
    case "j":
      return safely(() => String(JSON.stringify(value)));
    case "o":
    case "O":
      return inspectValue(value, options);
    case "c":
      // CSS styling has no terminal meaning here; Deno drops it too when not coloring.
      return "";
    default:
      return undefined;
  }
}

function safely(render: () => string): string {
  try {
    return render();
  } catch (error) {
    return `[${describeFailure(error)}]`;
  }
}

function describeFailure(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : "thrown";
}
