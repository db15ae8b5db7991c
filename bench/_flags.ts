/**
 * The benches' command lines: `--name VALUE` flags, each with a default.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** What {@linkcode benchFlags} returns: each flag as its default's type. */
export type BenchFlags<T extends Record<string, number | string>> = {
  [K in keyof T]: T[K] extends number ? number : string;
};

/**
 * Parses a bench's flags. A flag whose default is a number is read as one
 * (with `Number()`: a typo is `NaN`), the others stay text; an unknown flag
 * throws, as `parseArgs` does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { benchFlags } from "./_flags.ts";
 * assert.deepEqual(
 *   benchFlags(["--rounds", "5"], { rounds: 3, out: "bench/results/x.md" }),
 *   { rounds: 5, out: "bench/results/x.md" },
 * );
 * ```
 *
 * @param args The command line, e.g. `Deno.args`.
 * @param defaults Each flag's name and default.
 * @returns Each flag's value.
 */
export function benchFlags<T extends Record<string, number | string>>(
  args: string[],
  defaults: T,
): BenchFlags<T> {
  const options: Record<string, { type: "string"; default: string }> = {};
  for (const [name, value] of Object.entries(defaults)) {
    options[name] = { type: "string", default: String(value) };
  }
  const { values } = parseArgs({ args, options });
  const flags: Record<string, number | string> = {};
  for (const [name, value] of Object.entries(defaults)) {
    const text = values[name] as string;
    flags[name] = typeof value === "number" ? Number(text) : text;
  }
  return flags as BenchFlags<T>;
}
