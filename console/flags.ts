/**
 * Command-line flag helpers shared by the subcommands: `parseArgs` with
 * clear errors, integer checks and environment fallbacks.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";

/** A mistake in the command line or environment: exit 2, no stack trace. */
export class UsageError extends Error {
  /** @param message What is wrong, for the `error: ...` line. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Runs a command-line entry point: a {@linkcode UsageError} it throws is
 * one `error: ...` line on stderr and exit 2; anything else propagates.
 *
 * @param run The command.
 * @returns Its exit code, or 2.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exitOnUsageError, UsageError } from "./flags.ts";
 * // Prints "error: no such flag" on stderr.
 * assert.equal(await exitOnUsageError(() => Promise.reject(new UsageError("no such flag"))), 2);
 * assert.equal(await exitOnUsageError(() => Promise.resolve(0)), 0);
 * ```
 */
export async function exitOnUsageError(
  run: () => Promise<number>,
): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`error: ${error.message}`);
    return 2;
  }
}

/**
 * Parses `args` strictly (unknown flags, missing values and positionals are
 * errors), turning `parseArgs` failures into {@linkcode UsageError}s.
 *
 * @param args The arguments after the subcommand.
 * @param options The flags, as `node:util` `parseArgs` takes them.
 * @returns The parsed values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFlags } from "./flags.ts";
 * const values = parseFlags(["--port", "1"], { port: { type: "string" } });
 * assert.ok(values.port === "1");
 * ```
 */
export function parseFlags<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: T,
): ReturnType<typeof parseArgs<{ options: T; allowNegative: true }>>["values"] {
  try {
    return parseArgs({ args, options, allowNegative: true, strict: true })
      .values;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const ambiguous = message.match(
      /^Option '(--[\w-]+)' argument is ambiguous/,
    );
    if (ambiguous) {
      const flag = ambiguous[1];
      throw new UsageError(
        `${flag} needs a value; for one starting with "-" write ${flag}=VALUE`,
      );
    }
    // One line: node's messages can carry a second sentence of advice.
    throw new UsageError(message.split(/\.\s/)[0]!.replace(/\.$/, ""));
  }
}

/**
 * Declares flags that each take a value, for {@linkcode parseFlags}.
 *
 * @param names The flags' names, without the dashes.
 * @returns `{ [name]: { type: "string" } }` for each name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFlags, valueFlags } from "./flags.ts";
 * const values = parseFlags(["--port", "1"], valueFlags("host", "port"));
 * assert.equal(values.port, "1");
 * ```
 */
export function valueFlags<const N extends string>(
  ...names: N[]
): Record<N, { type: "string" }> {
  return Object.fromEntries(
    names.map((name) => [name, { type: "string" }]),
  ) as Record<N, { type: "string" }>;
}

/**
 * Reads an environment variable if the process may; `undefined` otherwise,
 * so least-privilege runs never prompt or fail for a variable they were not
 * granted.
 *
 * @param name The variable.
 * @returns Its value, or `undefined` when unset or not permitted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readEnv } from "./flags.ts";
 * assert.ok(readEnv("SURELY_NOT_SET_ANYWHERE") === undefined);
 * ```
 */
export function readEnv(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  return state === "granted" ? Deno.env.get(name) : undefined;
}

/**
 * Picks a flag's value, else the environment variable's, else `undefined`,
 * and names where it came from for error messages.
 *
 * @param flag The flag's value, if given.
 * @param flagName The flag, e.g. `--port`.
 * @param envName The environment variable, e.g. `PORT`.
 * @returns The value and its source's name.
 */
export function flagOrEnv(
  flag: string | undefined,
  flagName: string,
  envName: string,
): { value: string | undefined; source: string } {
  if (flag !== undefined) return { value: flag, source: flagName };
  return { value: readEnv(envName), source: envName };
}

/**
 * Parses a whole decimal integer within `[min, max]`.
 *
 * @param value The text, e.g. `"8000"`.
 * @param name The flag or variable, for the error message.
 * @param range Inclusive bounds.
 * @returns The integer.
 * @throws {UsageError} When the text is not such an integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseInteger } from "./flags.ts";
 * assert.ok(parseInteger("80", "--port", { min: 0, max: 65535 }) === 80);
 * ```
 */
export function parseInteger(
  value: string,
  name: string,
  range: { min: number; max: number },
): number {
  const number = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (
    !Number.isSafeInteger(number) || number < range.min || number > range.max
  ) {
    throw new UsageError(
      `${name} must be an integer from ${range.min} to ${range.max}: received "${value}"`,
    );
  }
  return number;
}

/**
 * A flag's text, else its environment variable's: `undefined` when neither
 * is set, a {@linkcode UsageError} when the one given is blank.
 *
 * @param flag The flag's value, if given.
 * @param flagName The flag, e.g. `--host`.
 * @param envName The environment variable, e.g. `HOST`.
 * @returns The value, as given.
 * @throws {UsageError} When the value is empty or only spaces.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { textFlag } from "./flags.ts";
 * assert.equal(textFlag("::1", "--host", "SURELY_NOT_SET_ANYWHERE"), "::1");
 * assert.throws(() => textFlag(" ", "--host", "HOST"), /--host must not be empty/);
 * ```
 */
export function textFlag(
  flag: string | undefined,
  flagName: string,
  envName: string,
): string | undefined {
  const { value, source } = flagOrEnv(flag, flagName, envName);
  if (value !== undefined && value.trim() === "") {
    throw new UsageError(`${source} must not be empty`);
  }
  return value;
}

/**
 * A flag's whole number within `range`, else its environment variable's,
 * else `fallback`.
 *
 * @param flag The flag's value, if given.
 * @param flagName The flag, e.g. `--port`.
 * @param envName The environment variable, e.g. `PORT`.
 * @param fallback The default.
 * @param range Inclusive bounds.
 * @returns The number.
 * @throws {UsageError} When the value given is not such a number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { integerFlag } from "./flags.ts";
 * const range = { min: 0, max: 65535 };
 * assert.equal(integerFlag("80", "--port", "PORT", 8000, range), 80);
 * assert.equal(integerFlag(undefined, "--port", "SURELY_NOT_SET", 8000, range), 8000);
 * ```
 */
export function integerFlag(
  flag: string | undefined,
  flagName: string,
  envName: string,
  fallback: number,
  range: { min: number; max: number },
): number {
  const { value, source } = flagOrEnv(flag, flagName, envName);
  return value === undefined ? fallback : parseInteger(value, source, range);
}
