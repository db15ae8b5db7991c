/**
 * The benches' command lines: `--name VALUE` flags, each with a default.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** What {@linkcode benchFlags} returns: each flag as its default's type. */
export type BenchFlags<T extends Record<string, number | string | boolean>> = {
  [K in keyof T]: T[K] extends number ? number
    : T[K] extends boolean ? boolean
    : string;
};

/**
 * Parses a bench's flags. A flag whose default is a number is read as one
 * (with `Number()`: a typo is `NaN`), one whose default is a boolean is a
 * switch (`--name`), the others stay text; an unknown flag throws, as
 * `parseArgs` does.
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
export function benchFlags<
  T extends Record<string, number | string | boolean>,
>(
  args: string[],
  defaults: T,
): BenchFlags<T> {
  const options: Record<
    string,
    { type: "string"; default: string } | { type: "boolean"; default: boolean }
  > = {};
  for (const [name, value] of Object.entries(defaults)) {
    options[name] = typeof value === "boolean"
      ? { type: "boolean", default: value }
      : { type: "string", default: String(value) };
  }
  const { values } = parseArgs({ args, options });
  const flags: Record<string, number | string | boolean> = {};
  for (const [name, value] of Object.entries(defaults)) {
    const given = values[name]!;
    flags[name] = typeof value === "number" ? Number(given) : given;
  }
  return flags as BenchFlags<T>;
}
