/**
 * Compiles console snippets into functions that run against a session's
 * scope chain, and caches them by source text so a repeated snippet (the
 * operator's `cache.size`) skips parsing and code generation.
 *
 * @module
 */

import {
  RESULT_VARIABLE,
  type SnippetDeclarations,
  toSourceOffset,
} from "./rewrite.ts";
import {
  type IncompleteSnippet,
  lineAndColumn,
  type SnippetSyntaxError,
} from "./syntax.ts";
import {
  type PreparedSnippet,
  prepareWithoutTranspiler,
} from "./snippet_parser.ts";
import { prepareInWorker } from "./parse_worker_client.ts";

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
  /** Characters it keeps (its parsed text and body), for the cache's bound. */
  size: number;
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
// The cache keeps each snippet's text, body and parsed code: bounded in
// characters too, or 256 snippets near the 1 MiB line limit would keep
// most of a gigabyte.
const CACHE_MAX_CHARS = 8 * 1024 * 1024;
let cachedChars = 0;
const cache = new Map<string, CompiledSnippet>();
const byId = new Map<number, CompiledSnippet>();
let nextId = 1;

/** Options for {@linkcode compileSnippet}. */
export interface CompileOptions {
  /** Aborting gives the snippet up, its reading in the worker included. */
  signal?: AbortSignal;
  /** The most milliseconds the reading may take in the worker (`PARSE_BUDGET_MS`). */
  parseBudgetMs?: number;
}

/**
 * Snippets up to this length that need no transpiler are read on the
 * service's thread (at most a few milliseconds); longer ones, and every
 * TypeScript reading, go to the parse worker, so none holds the event loop.
 */
export const INLINE_PARSE_MAX_CHARS = 32 * 1024;

/**
 * Compiles `code`, reusing an earlier compilation of the same text.
 * TypeScript is tried first, JavaScript where TypeScript cannot parse the
 * snippet. Short snippets without TypeScript-only tokens (`:`, `<`, `!`,
 * `?`, `as`, `interface`, ...) are read on this thread; the others in the
 * parse worker, within a time budget (see `prepareInWorker`).
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
 * @param options Its abort signal and parse budget.
 * @returns The compiled snippet, incomplete, or a syntax error.
 * @throws {ParseBudgetError} When reading it took longer than the budget.
 */
export async function compileSnippet(
  code: string,
  options: CompileOptions = {},
): Promise<CompileOutcome> {
  const cached = findCachedSnippet(code);
  if (cached !== undefined) return cached;
  const prepared =
    (code.length <= INLINE_PARSE_MAX_CHARS
      ? prepareWithoutTranspiler(code)
      : undefined) ??
      await prepareInWorker(code, {
        signal: options.signal,
        budgetMs: options.parseBudgetMs,
      });
  if (prepared.kind !== "prepared") return prepared;
  let compiled: CompiledSnippet;
  try {
    compiled = build(prepared);
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
  // Hashing a long text for the lookup costs more than it saves: long
  // snippets are typed (or pasted) once, each line a new text.
  if (code.length > INLINE_PARSE_MAX_CHARS) return undefined;
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
  cachedChars += code.length + compiled.size;
  // The newest stays, however big: its stack frames are mapped through it.
  while (
    cache.size > 1 &&
    (cache.size > CACHE_LIMIT || cachedChars > CACHE_MAX_CHARS)
  ) {
    const [oldestCode, oldest] = cache.entries().next().value!;
    cache.delete(oldestCode);
    byId.delete(oldest.id);
    cachedChars -= oldestCode.length + oldest.size;
  }
}

function build(prepared: PreparedSnippet): CompiledSnippet {
  const id = nextId++;
  const isAsync = prepared.hasTopLevelAwait;
  const p = LAYERS_PARAMETER;
  const hoists = prepared.functionNames.map((name) =>
    `${p}.vars.${name} = ${name};`
  ).join(" ");
  // Sloppy-mode `with` puts the layers between the snippet and the globals;
  // the header stays on one line so snippet line N is generated line N + 1.
  const source =
    `with (${p}.fallback) with (${p}.namespace) with (${p}.session) ` +
    `with (${p}.vars) return ${isAsync ? "async " : ""}function () { ` +
    `var ${RESULT_VARIABLE}; ${hoists}\n${prepared.body}\n` +
    `;return ${isAsync ? `[${RESULT_VARIABLE}]` : RESULT_VARIABLE} }\n` +
    `//# sourceURL=<console:${id}>`;
  const factory = new Function(p, source) as (
    layers: ScopeLayers,
  ) => () => unknown;
  const { body, offsets, wrapped } = prepared;
  // Stack positions are reported in the snippet as written (for TypeScript:
  // in sucrase's output, which keeps the lines).
  const shift = wrapped ? 1 : 0;
  const shownCode = wrapped ? prepared.code.slice(1, -1) : prepared.code;
  return {
    kind: "compiled",
    id,
    isAsync,
    size: prepared.code.length + body.length,
    lexicalNames: prepared.lexicalNames,
    varNames: prepared.varNames,
    functionNames: prepared.functionNames,
    assignedNames: prepared.assignedNames,
    bind: factory,
    mapLocation(line, column) {
      const bodyLine = line - HEADER_LINES;
      if (bodyLine < 1) return { line: 1, column: 1 };
      const offset = offsetOf(body, bodyLine, column - 1);
      const source = Math.max(0, toSourceOffset(offsets, offset) - shift);
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
