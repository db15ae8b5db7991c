/**
 * Compiles console snippets into functions that run against a session's
 * scope chain, and caches them by source text so a repeated snippet (the
 * operator's `cache.size`) skips parsing and code generation.
 *
 * @module
 */

import {
  RESULT_VARIABLE,
  rewriteSnippet,
  type SnippetDeclarations,
} from "./rewrite.ts";
import {
  type IncompleteSnippet,
  lineAndColumn,
  type ParseOutcome,
  parseSnippet,
  type SnippetSyntaxError,
} from "./syntax.ts";
import { mightBeTypeScript, stripTypes } from "./transpile.ts";

/** The objects a compiled snippet resolves free identifiers against. */
export interface ScopeLayers {
  /** Session declarations (innermost). */
  vars: object;
  /** Session bindings: `_`, `_error` and the evaluator's `scope` option. */
  session: object;
  /** The namespace members and `main`. */
  namespace: object;
  /** Catches assignments to undeclared names (outermost). */
  fallback: object;
}

/** A snippet turned into a function factory, shared by every session. */
export interface CompiledSnippet extends SnippetDeclarations {
  /** Tells a compiled snippet from the other outcomes. */
  kind: "compiled";
  /** Unique per compilation; appears in stack traces as `<console:id>`. */
  id: number;
  /** Whether the run function is async (the snippet awaits at top level). */
  isAsync: boolean;
  /**
   * Creates the run function for one session. A sync run returns the
   * snippet's value; an async one resolves to `[value]`, boxed so that a
   * promise value is not adopted.
   */
  bind(layers: ScopeLayers): () => unknown;
  /** Maps a 1-based line and column of a stack frame back into the snippet. */
  mapLocation(line: number, column: number): { line: number; column: number };
}

/** What {@linkcode compileSnippet} produced. */
export type CompileOutcome =
  | CompiledSnippet
  | IncompleteSnippet
  | SnippetSyntaxError;

/** The parameter through which generated code reaches its scope layers. */
export const LAYERS_PARAMETER = "__ce$";

/** Lines that `new Function` puts before the body, plus the generated header line. */
export const HEADER_LINES = 3;
const CACHE_LIMIT = 256;
const cache = new Map<string, CompiledSnippet>();
const byId = new Map<number, CompiledSnippet>();
let nextId = 1;

/**
 * Compiles `code`, reusing an earlier compilation of the same text.
 * TypeScript is tried first, JavaScript where TypeScript cannot parse the
 * snippet; a snippet without TypeScript-only tokens (`:`, `<`, `!`, `?`,
 * `as`, `interface`, ...) never loads the transpiler.
 *
 * @example
 * ```ts
 * import { compileSnippet } from "./snippet_compiler.ts";
 * import assert from "node:assert/strict";
 *
 * const compiled = await compileSnippet("let x = 1; x + 1");
 * assert.equal(compiled.kind, "compiled");
 * assert.equal((await compileSnippet("foo(")).kind, "incomplete");
 * ```
 *
 * @param code The snippet text.
 * @returns The compiled snippet, incomplete, or a syntax error.
 */
export async function compileSnippet(code: string): Promise<CompileOutcome> {
  const cached = findCachedSnippet(code);
  if (cached !== undefined) return cached;
  const parsed = await parseTypeScriptFirst(code);
  if (parsed.kind !== "ok") return parsed;
  let compiled: CompiledSnippet;
  try {
    compiled = build(parsed.code, parsed.wrapped, parsed.program);
  } catch (error) {
    // V8 rejected what acorn accepted (an early error acorn does not check).
    if (!(error instanceof SyntaxError)) throw error;
    return {
      kind: "error",
      message: error.message,
      pos: 0,
      line: 1,
      column: 0,
    };
  }
  remember(code, compiled);
  return compiled;
}

/**
 * Reads a snippet as TypeScript first, as `deno repl` does, so that
 * `id<number>(7)` is a generic call and not two comparisons; JavaScript is
 * the fallback for what the TypeScript reading (sucrase) cannot parse.
 *
 * The transpiler is skipped where both readings give the same program: a
 * snippet without any TypeScript-only token, and JavaScript that parses and
 * has no `<` (TypeScript's syntax is a superset of JavaScript's; the `<` of
 * type arguments is the one place where valid JavaScript reads differently).
 */
async function parseTypeScriptFirst(
  code: string,
): Promise<ParseOutcome> {
  if (!mightBeTypeScript(code)) return parseSnippet(code);
  if (!code.includes("<")) {
    const plain = parseSnippet(code);
    if (plain.kind !== "error") return plain;
  }
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

/**
 * Returns the cached compilation of `code`, if any, without waiting: the
 * evaluator's hot path (the same snippet again) then needs no `await`.
 *
 * @example
 * ```ts
 * import { compileSnippet, findCachedSnippet } from "./snippet_compiler.ts";
 * import assert from "node:assert/strict";
 *
 * const compiled = await compileSnippet("2 + 2");
 * assert.equal(findCachedSnippet("2 + 2"), compiled);
 * assert.equal(findCachedSnippet("never compiled"), undefined);
 * ```
 *
 * @param code The snippet text.
 * @returns The compiled snippet, or `undefined` when it is not cached.
 */
export function findCachedSnippet(code: string): CompiledSnippet | undefined {
  const cached = cache.get(code);
  if (cached === undefined) return undefined;
  // Least recently used first: a hit moves to the end.
  cache.delete(code);
  cache.set(code, cached);
  return cached;
}

/**
 * Finds a compiled snippet by the id shown in stack traces, while it is
 * still in the cache.
 *
 * @example
 * ```ts
 * import { compileSnippet, findCompiledSnippet } from "./snippet_compiler.ts";
 * import assert from "node:assert/strict";
 *
 * const compiled = await compileSnippet("1");
 * assert.equal(compiled.kind === "compiled" && findCompiledSnippet(compiled.id), compiled);
 * ```
 *
 * @param id The number in `<console:id>`.
 * @returns The snippet, or `undefined` once it was evicted.
 */
export function findCompiledSnippet(id: number): CompiledSnippet | undefined {
  return byId.get(id);
}

function remember(code: string, compiled: CompiledSnippet): void {
  cache.set(code, compiled);
  byId.set(compiled.id, compiled);
  if (cache.size > CACHE_LIMIT) {
    const [oldestCode, oldest] = cache.entries().next().value!;
    cache.delete(oldestCode);
    byId.delete(oldest.id);
  }
}

function build(
  parsedCode: string,
  wrappedInParens: boolean,
  program: Parameters<typeof rewriteSnippet>[1],
): CompiledSnippet {
  const rewritten = rewriteSnippet(parsedCode, program);
  const id = nextId++;
  const isAsync = rewritten.hasTopLevelAwait;
  const p = LAYERS_PARAMETER;
  const hoists = rewritten.functionNames.map((name) =>
    `${p}.vars.${name} = ${name};`
  ).join(" ");
  // Sloppy-mode `with` puts the layers between the snippet and the globals;
  // the header stays on one line so snippet line N is generated line N + 1.
  const source =
    `with (${p}.fallback) with (${p}.namespace) with (${p}.session) ` +
    `with (${p}.vars) return ${isAsync ? "async " : ""}function () { ` +
    `var ${RESULT_VARIABLE}; ${hoists}\n${rewritten.body}\n` +
    `;return ${isAsync ? `[${RESULT_VARIABLE}]` : RESULT_VARIABLE} }\n` +
    `//# sourceURL=<console:${id}>`;
  const factory = new Function(p, source) as (
    layers: ScopeLayers,
  ) => () => unknown;
  const body = rewritten.body;
  // Stack positions are reported in the snippet as written (for TypeScript:
  // in sucrase's output, which keeps the lines).
  const shift = wrappedInParens ? 1 : 0;
  const shownCode = wrappedInParens ? parsedCode.slice(1, -1) : parsedCode;
  return {
    kind: "compiled",
    id,
    isAsync,
    lexicalNames: rewritten.lexicalNames,
    varNames: rewritten.varNames,
    functionNames: rewritten.functionNames,
    assignedNames: rewritten.assignedNames,
    bind: factory,
    mapLocation(line, column) {
      const bodyLine = line - HEADER_LINES;
      if (bodyLine < 1) return { line: 1, column: 1 };
      const offset = offsetOf(body, bodyLine, column - 1);
      const source = Math.max(0, rewritten.toSourceOffset(offset) - shift);
      const location = lineAndColumn(shownCode, source);
      return { line: location.line, column: location.column + 1 };
    },
  };
}

function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let i = 1; i < line; i++) {
    const next = text.indexOf("\n", offset);
    if (next === -1) break;
    offset = next + 1;
  }
  return offset + column;
}
