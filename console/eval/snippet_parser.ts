/**
 * Reads a console snippet into what the compiler needs: the snippet parsed
 * (TypeScript first, as `deno repl` does), its top-level declarations
 * rewritten to outlive it, and the map back to its offsets. Plain data in,
 * plain data out, so the same code runs on the service's thread for short
 * JavaScript and in the parse worker for the rest.
 *
 * @module
 */

import { type OffsetMap, rewriteSnippet } from "./rewrite.ts";
import type { SnippetDeclarations } from "./rewrite.ts";
import {
  type IncompleteSnippet,
  type ParsedSnippet,
  type ParseOutcome,
  parseSnippet,
  type SnippetSyntaxError,
} from "./syntax.ts";
import { mightBeTypeScript, stripTypes } from "./transpile.ts";

/** A snippet parsed and rewritten, ready for `new Function`. */
export interface PreparedSnippet extends SnippetDeclarations {
  /** Tells a prepared snippet from the other outcomes. */
  kind: "prepared";
  /**
   * The text that was parsed: the snippet, `(snippet)` for an object
   * literal, or the JavaScript sucrase made of TypeScript (same lines).
   */
  code: string;
  /** Whether `code` is the snippet wrapped in parentheses. */
  wrapped: boolean;
  /** The rewritten body (see `rewriteSnippet`). */
  body: string;
  /** Whether `await` (or `for await`) is used outside any function. */
  hasTopLevelAwait: boolean;
  /** Maps offsets in `body` back to `code`. */
  offsets: OffsetMap;
}

/** What preparing a snippet gives. */
export type PrepareOutcome =
  | PreparedSnippet
  | IncompleteSnippet
  | SnippetSyntaxError;

/**
 * Prepares a snippet, reading it as TypeScript first (see
 * {@linkcode prepareWithoutTranspiler} for when that is skipped). Loads the
 * transpiler when the snippet needs it: the parse worker calls this.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { prepareSnippet } from "./snippet_parser.ts";
 *
 * const prepared = await prepareSnippet("let n: number = 1; n");
 * assert.equal(prepared.kind === "prepared" && prepared.body, "void (n = 1); __ce$r = (n)");
 * assert.equal((await prepareSnippet("foo(")).kind, "incomplete");
 * ```
 *
 * @param code The snippet text.
 * @returns The prepared snippet, incomplete, or a syntax error.
 */
export async function prepareSnippet(code: string): Promise<PrepareOutcome> {
  return prepareWithoutTranspiler(code) ??
    prepared(await parseTypeScriptFirst(code));
}

/**
 * Prepares a snippet when its TypeScript and JavaScript readings are the
 * same program, so no transpiler is needed: a snippet without any
 * TypeScript-only token, or JavaScript that parses (or is merely
 * incomplete) and has no `<` (TypeScript's syntax is a superset of
 * JavaScript's; the `<` of type arguments is the one place where valid
 * JavaScript reads differently).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { prepareWithoutTranspiler } from "./snippet_parser.ts";
 *
 * assert.equal(prepareWithoutTranspiler("cache.size")?.kind, "prepared");
 * assert.equal(prepareWithoutTranspiler("id<number>(7)"), undefined);
 * ```
 *
 * @param code The snippet text.
 * @returns The outcome, or `undefined` when the TypeScript reading is needed.
 */
export function prepareWithoutTranspiler(
  code: string,
): PrepareOutcome | undefined {
  if (!mightBeTypeScript(code)) return prepared(parseSnippet(code));
  if (code.includes("<")) return undefined;
  const plain = parseSnippet(code);
  return plain.kind === "error" ? undefined : prepared(plain);
}

/**
 * Reads a snippet as TypeScript first, so that `id<number>(7)` is a
 * generic call and not two comparisons; JavaScript is the fallback for what
 * the TypeScript reading (sucrase) cannot parse.
 */
async function parseTypeScriptFirst(code: string): Promise<ParseOutcome> {
  const stripped = await stripTypes(code);
  if (stripped.kind === "ok") {
    const parsed = parseSnippet(stripped.code);
    if (parsed.kind === "ok") return parsed;
    // sucrase let through what is not JavaScript either: try the snippet as
    // written before reporting the error of the TypeScript reading.
    const plain = parseSnippet(code);
    return plain.kind === "ok" ? plain : parsed;
  }
  const plain = parseSnippet(code);
  if (plain.kind === "ok" || plain.kind === "incomplete") return plain;
  if (stripped.kind === "incomplete") return stripped;
  // Both readings failed: the one that got further has the relevant error.
  return stripped.pos > plain.pos ? stripped : plain;
}

function prepared(outcome: ParseOutcome): PrepareOutcome {
  return outcome.kind === "ok" ? rewritten(outcome) : outcome;
}

function rewritten(parsed: ParsedSnippet): PreparedSnippet {
  const { body, hasTopLevelAwait, offsets, ...declarations } = rewriteSnippet(
    parsed.code,
    parsed.program,
  );
  return {
    kind: "prepared",
    code: parsed.code,
    wrapped: parsed.wrapped,
    body,
    hasTopLevelAwait,
    offsets,
    lexicalNames: declarations.lexicalNames,
    varNames: declarations.varNames,
    functionNames: declarations.functionNames,
    assignedNames: declarations.assignedNames,
  };
}
