/**
 * Strips TypeScript syntax from console snippets with sucrase, loaded on the
 * first snippet that needs it so that plain JavaScript never pays for it
 * (the parse worker, which runs it, loads it when it starts).
 *
 * @module
 */

import {
  classifyParseError,
  type IncompleteSnippet,
  type SnippetSyntaxError,
} from "./syntax.ts";

/** The JavaScript that sucrase produced for a TypeScript snippet. */
export interface StrippedSnippet {
  /** Tells stripped code from the other outcomes. */
  kind: "ok";
  /** JavaScript with the same line structure as the input. */
  code: string;
}

/** What {@linkcode stripTypes} produced. */
export type StripOutcome =
  | StrippedSnippet
  | IncompleteSnippet
  | SnippetSyntaxError;

type Sucrase = typeof import("../npm/sucrase.ts");

let sucrase: Promise<Sucrase> | undefined;

// Tokens without which a snippet reads the same as TypeScript and as
// JavaScript; a snippet with none of them skips loading sucrase.
const TYPESCRIPT_HINT =
  /[:<!?]|\b(?:as|satisfies|interface|type|enum|declare|namespace|abstract|implements|private|protected|public|readonly|keyof|infer|is|asserts|override)\b/;

/**
 * Tells whether a snippet may read differently as TypeScript than as
 * JavaScript, so it is worth handing to the TypeScript transpiler.
 *
 * @example
 * ```ts
 * import { mightBeTypeScript } from "./transpile.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(mightBeTypeScript("let x: number = 1"), true);
 * assert.equal(mightBeTypeScript("1 +* 2"), false);
 * ```
 *
 * @param code The snippet text.
 * @returns `true` when the text contains TypeScript-only syntax candidates.
 */
export function mightBeTypeScript(code: string): boolean {
  return TYPESCRIPT_HINT.test(code);
}

/**
 * Loads sucrase ahead of the first snippet that needs it (the parse worker
 * does so at start, so that loading is not counted in a snippet's time
 * budget). A failed load is retried by the next call.
 *
 * @example
 * ```ts
 * import { loadTranspiler } from "./transpile.ts";
 * await loadTranspiler();
 * ```
 *
 * @returns When sucrase is loaded.
 */
export async function loadTranspiler(): Promise<void> {
  await loadSucrase();
}

/**
 * Removes type annotations, `as` casts, interfaces, type aliases, generics
 * and the like, and turns enums into plain objects. Lines stay where they
 * were, so stack line numbers still match the snippet. Namespaces other than
 * `declare namespace` are not supported by sucrase.
 *
 * @example
 * ```ts
 * import { stripTypes } from "./transpile.ts";
 * import assert from "node:assert/strict";
 *
 * const out = await stripTypes("let x: number = 1");
 * assert.deepEqual(out, { kind: "ok", code: "let x = 1" });
 * ```
 *
 * @param code A TypeScript snippet.
 * @returns The JavaScript, or incomplete / a syntax error located in `code`.
 */
export async function stripTypes(code: string): Promise<StripOutcome> {
  const { transform } = await loadSucrase();
  try {
    const out = transform(code, {
      transforms: ["typescript"],
      disableESTransforms: true,
    });
    return { kind: "ok", code: out.code };
  } catch (error) {
    return classifyParseError(code, error);
  }
}

function loadSucrase(): Promise<Sucrase> {
  sucrase ??= import("../npm/sucrase.ts").catch((error) => {
    sucrase = undefined; // let a later snippet retry
    throw error;
  });
  return sucrase;
}
