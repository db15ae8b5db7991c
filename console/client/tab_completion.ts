/**
 * Tab completion for the interactive client, answered by the console: turns
 * the server's `completions` into what `node:readline`'s completer returns.
 *
 * @module
 */

import { hasControlCharacters } from "../ansi.ts";

/** Asks the console for completions (`ConsoleConnection.complete`). */
export type CompleteFn = (
  code: string,
  cursor: number,
) => Promise<{ candidates: string[]; start: number }>;

/** A `node:readline` completer taking a callback. */
export type ReadlineCompleter = (
  line: string,
  callback: (error: Error | null, result: [string[], string]) => void,
) => void;

/**
 * Makes a completer for the line being edited. Earlier lines of an
 * incomplete snippet are sent along, so the console sees the whole snippet;
 * any failure completes nothing rather than disturbing the line.
 *
 * @param complete Asks the console.
 * @param pending The earlier lines of the snippet being typed (`""` if none).
 * @returns A function from the line before the cursor to readline's
 * `[candidates, the part they replace]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createCompleter } from "./tab_completion.ts";
 * const completer = createCompleter(
 *   (code, cursor) => Promise.resolve({ candidates: ["cache"], start: cursor - 2 }),
 *   () => "",
 * );
 * const [candidates, word] = await completer("x = ca");
 * assert.deepEqual([candidates, word], [["cache"], "ca"]);
 * ```
 */
export function createCompleter(
  complete: CompleteFn,
  pending: () => string,
): (line: string) => Promise<[string[], string]> {
  return async (line) => {
    const before = pending();
    const offset = before === "" ? 0 : before.length + 1;
    const code = before === "" ? line : `${before}\n${line}`;
    try {
      const { candidates, start } = await complete(code, code.length);
      if (
        !Array.isArray(candidates) || !Number.isInteger(start) ||
        start < offset || start > code.length
      ) {
        return [[], ""];
      }
      return [
        // Readline prints candidates and types the chosen one into the
        // line: a server's control characters must get in neither.
        candidates.filter((c) =>
          typeof c === "string" && !hasControlCharacters(c)
        ),
        code.slice(start),
      ];
    } catch {
      return [[], ""];
    }
  };
}

/**
 * Adapts a promise-returning completer to the callback form `node:readline`
 * takes.
 *
 * @param completer From {@linkcode createCompleter}.
 * @returns A completer for `readline.createInterface`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toReadlineCompleter } from "./tab_completion.ts";
 * const completer = toReadlineCompleter(() => Promise.resolve([["a"], ""]));
 * const result = await new Promise((resolve) =>
 *   completer("", (_error, result) => resolve(result))
 * );
 * assert.deepEqual(result, [["a"], ""]);
 * ```
 */
export function toReadlineCompleter(
  completer: (line: string) => Promise<[string[], string]>,
): ReadlineCompleter {
  return (line, callback) => {
    completer(line).then(
      (result) => callback(null, result),
      () => callback(null, [[], ""]),
    );
  };
}
