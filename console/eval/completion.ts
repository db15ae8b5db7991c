/**
 * Completes identifiers and member chains in console input without running
 * any of it: names come from the session scope, globals and keywords;
 * members come from walking property descriptors, so no getter runs.
 *
 * @module
 */

import { types } from "node:util";
import { tokenizer } from "../npm/acorn.ts";
import type { BindingLookup } from "./scope.ts";

/** The part of a session scope completion needs. */
export interface CompletionScope {
  /** Every bare name the session adds to the globals. */
  names(): string[];
  /** Resolves a bare name, globals excluded, without running getters. */
  lookup(name: string): BindingLookup;
}

/** Candidates replacing `code.slice(start, cursor)`. */
export interface CompletionResult {
  /** Sorted, distinct replacements for `code.slice(start, cursor)`. */
  candidates: string[];
  /** Where the word being completed starts. */
  start: number;
}

const KEYWORDS = [
  "async",
  "await",
  "break",
  "case",
  "catch",
  "class",
  "const",
  "continue",
  "debugger",
  "default",
  "delete",
  "do",
  "else",
  "enum",
  "extends",
  "false",
  "finally",
  "for",
  "function",
  "if",
  "import",
  "in",
  "instanceof",
  "interface",
  "let",
  "new",
  "null",
  "of",
  "return",
  "super",
  "switch",
  "this",
  "throw",
  "true",
  "try",
  "type",
  "typeof",
  "var",
  "void",
  "while",
  "with",
  "yield",
];

const IDENTIFIER = /^[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*$/u;
const IDENTIFIER_PART = /^[\p{ID_Continue}$\u200c\u200d]$/u;
const WHITESPACE = /^\s$/;
// A prototype chain longer than this is a proxy playing games.
const MAX_CHAIN = 64;
// Arrays, typed arrays and strings longer than this have their indices
// left out of the names completion looks at.
const MAX_LISTED_ELEMENTS = 10_000;
const typedArrayLength = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  "length",
)!.get as (this: unknown) => number;
// How often (in loop steps) the time budget is checked.
const BUDGET_STEP = 1024;

/**
 * The longest code before the cursor that completion reads: past it, a
 * `complete` request gets a {@linkcode CompletionError} at once. A line
 * being typed is far shorter; the limit keeps a pasted megabyte from
 * costing the service anything.
 */
export const MAX_COMPLETION_CHARS = 64 * 1024;

/**
 * The most time one completion may take: it gives up with a
 * {@linkcode CompletionError} past it (an object with millions of
 * properties, say), so the service's event loop is never held longer.
 */
export const COMPLETION_BUDGET_MS = 100;

/** Completion refused its input (too long) or gave up (over its time budget). */
export class CompletionError extends Error {
  /** @param message What was refused, and why. */
  constructor(message: string) {
    super(message);
    this.name = "CompletionError";
  }
}

/** Limits of one completion; the defaults are the exported constants. */
export interface CompletionLimits {
  /** The longest code before the cursor; {@linkcode MAX_COMPLETION_CHARS}. */
  maxChars?: number;
  /** The most milliseconds to spend; {@linkcode COMPLETION_BUDGET_MS}. */
  budgetMs?: number;
}

/**
 * Completes the identifier, or the last property of a plain
 * `identifier.property.property` chain, that ends at `cursor`. Only such
 * chains are resolved: `foo().ba` or `a[0].b` get no candidates, and neither
 * does a position inside a string or comment. A chain through an accessor
 * property stops there, since resolving it would run the getter; a chain
 * through a proxy whose traps throw gets no candidates.
 *
 * The work is linear in the length of the code before the cursor, which is
 * bounded, and in the number of names offered, which the time budget
 * bounds; index properties of arrays, typed arrays and strings are never
 * listed (they are not identifiers).
 *
 * @example
 * ```ts
 * import { completeCode } from "./completion.ts";
 * import { createSessionScope } from "./scope.ts";
 * import assert from "node:assert/strict";
 *
 * const scope = createSessionScope({ cache: new Map() });
 * assert.deepEqual(completeCode("cache.si", 8, scope), { candidates: ["size"], start: 6 });
 * assert.throws(
 *   () => completeCode("x".repeat(100_000), 100_000, scope),
 *   { name: "CompletionError" },
 * );
 * ```
 *
 * @param code The input line(s).
 * @param cursor Offset of the cursor in `code`.
 * @param scope The session's names.
 * @param limits The input's length limit and the time budget.
 * @returns Sorted distinct candidates and where the completed word starts.
 * @throws {CompletionError} When the code before the cursor is over the
 * length limit, or the completion takes longer than its budget.
 */
export function completeCode(
  code: string,
  cursor: number,
  scope: CompletionScope,
  limits: CompletionLimits = {},
): CompletionResult {
  cursor = Math.max(0, Math.min(cursor, code.length));
  const maxChars = limits.maxChars ?? MAX_COMPLETION_CHARS;
  if (cursor > maxChars) {
    throw new CompletionError(
      `Completion reads at most ${maxChars} characters before the cursor; this request has ${cursor}`,
    );
  }
  const budget = new Budget(limits.budgetMs ?? COMPLETION_BUDGET_MS);
  const start = wordStart(code, cursor);
  const partial = code.slice(start, cursor);
  const none = { candidates: [], start };
  if (/^\p{Nd}/u.test(partial)) return none;
  const chain = memberChain(code, start);
  if (chain === undefined) return none;
  let names: Iterable<string>;
  try {
    if (chain.length === 0) {
      names = [
        ...scope.names(),
        ...propertyNames(globalThis, Object.prototype),
        ...KEYWORDS,
      ];
    } else {
      const target = resolveChain(chain, scope, budget);
      if (target === undefined) return none;
      names = propertyNames(Object(target.value), null);
    }
  } catch (error) {
    if (error instanceof CompletionError) throw error;
    // A proxy whose traps throw: it has no members to offer.
    return none;
  }
  const candidates = new Set<string>();
  let step = 0;
  for (const name of names) {
    if (++step % BUDGET_STEP === 0) budget.check();
    if (name.startsWith(partial) && IDENTIFIER.test(name)) candidates.add(name);
  }
  // Last, as the costliest step, and only when there is something to offer.
  if (
    candidates.size === 0 ||
    insideStringOrComment(code.slice(0, cursor), budget)
  ) {
    return none;
  }
  return { candidates: [...candidates].sort(), start };
}

/** The time a completion may still take; {@linkcode Budget.check} throws past it. */
class Budget {
  #ms: number;
  #deadline: number;

  constructor(ms: number) {
    this.#ms = ms;
    this.#deadline = performance.now() + ms;
  }

  check(): void {
    if (performance.now() > this.#deadline) {
      throw new CompletionError(
        `Completion gave up after its ${this.#ms} ms budget`,
      );
    }
  }
}

/**
 * Where the identifier characters that end at `end` begin: a scan back
 * over them, never further.
 */
function wordStart(code: string, end: number): number {
  let i = end;
  while (i > 0) {
    const unit = code.charCodeAt(i - 1);
    if (unit < 0x80) {
      if (!isAsciiIdentifierPart(unit)) break;
      i--;
      continue;
    }
    // A surrogate pair is one character: test both halves together.
    const width = unit >= 0xdc00 && unit <= 0xdfff && i > 1 &&
        isHighSurrogate(code.charCodeAt(i - 2))
      ? 2
      : 1;
    if (!IDENTIFIER_PART.test(code.slice(i - width, i))) break;
    i -= width;
  }
  return i;
}

function isAsciiIdentifierPart(unit: number): boolean {
  return (unit >= 0x61 && unit <= 0x7a) || (unit >= 0x41 && unit <= 0x5a) ||
    (unit >= 0x30 && unit <= 0x39) || unit === 0x24 || unit === 0x5f;
}

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

/** Where the whitespace that ends at `end` begins. */
function skipWhitespaceBack(code: string, end: number): number {
  let i = end;
  while (i > 0) {
    const unit = code.charCodeAt(i - 1);
    const space = unit === 0x20 || (unit >= 0x09 && unit <= 0x0d) ||
      (unit >= 0x80 && WHITESPACE.test(code[i - 1]!));
    if (!space) break;
    i--;
  }
  return i;
}

/**
 * The identifiers of the member chain that ends right before the word
 * starting at `wordAt`: `[]` for a bare word, `["faker", "person"]` for
 * `faker.person.fi`, `undefined` for a chain that cannot be resolved
 * statically. One scan back over the chain: linear in its length.
 */
function memberChain(code: string, wordAt: number): string[] | undefined {
  const chain: string[] = [];
  let i = wordAt;
  for (;;) {
    const dot = skipWhitespaceBack(code, i);
    if (code[dot - 1] !== ".") return chain.reverse();
    const optional = code[dot - 2] === "?";
    const before = optional ? dot - 2 : dot - 1;
    // A spread (`...name`) is not a member access.
    if (!optional && code[before - 1] === "." && code[before - 2] === ".") {
      return chain.reverse();
    }
    const end = skipWhitespaceBack(code, before);
    const start = wordStart(code, end);
    const word = code.slice(start, end);
    if (!IDENTIFIER.test(word)) return undefined;
    chain.push(word);
    i = start;
  }
}

/** The value a chain leads to, or `undefined` when it leads nowhere or through a getter. */
function resolveChain(
  chain: string[],
  scope: CompletionScope,
  budget: Budget,
): { value: unknown } | undefined {
  const [head, ...members] = chain as [string, ...string[]];
  let current = scope.lookup(head);
  if (!current.found) current = findProperty(globalThis, head);
  let step = 0;
  for (const member of members) {
    if (++step % BUDGET_STEP === 0) budget.check();
    if (!current.found || current.accessor) return undefined;
    const value = current.value;
    if (value === null || value === undefined) return undefined;
    current = findProperty(Object(value), member);
  }
  if (!current.found || current.accessor) return undefined;
  if (current.value === null || current.value === undefined) return undefined;
  return { value: current.value };
}

/** Looks `name` up along the prototype chain by descriptor, never through a getter. */
function findProperty(object: object, name: string): BindingLookup {
  let depth = 0;
  for (
    let o: object | null = object;
    o !== null && depth < MAX_CHAIN;
    depth++
  ) {
    const descriptor = Object.getOwnPropertyDescriptor(o, name);
    if (descriptor !== undefined) {
      return "value" in descriptor
        ? { found: true, accessor: false, value: descriptor.value }
        : { found: true, accessor: true };
    }
    o = Object.getPrototypeOf(o);
  }
  return { found: false };
}

/** Own and inherited string keys of `object`, stopping before `stop`. */
function propertyNames(object: object, stop: object | null): string[] {
  const names: string[] = [];
  let depth = 0;
  for (
    let o: object | null = object;
    o !== null && o !== stop && depth < MAX_CHAIN;
    depth++
  ) {
    names.push(...ownNames(o));
    o = Object.getPrototypeOf(o);
  }
  return names;
}

/**
 * An object's own string keys; for an array, a typed array or a string
 * object of more than {@linkcode MAX_LISTED_ELEMENTS} elements, only its
 * non-index keys that are known without listing them (`length`): listing a
 * big one costs one string per element, and no index is an identifier.
 * Lengths are read without running any getter.
 */
function ownNames(object: object): string[] {
  if (!types.isProxy(object)) {
    if (Array.isArray(object) && object.length > MAX_LISTED_ELEMENTS) {
      return ["length"];
    }
    if (
      types.isTypedArray(object) &&
      typedArrayLength.call(object) > MAX_LISTED_ELEMENTS
    ) {
      return [];
    }
    if (
      types.isStringObject(object) &&
      String.prototype.valueOf.call(object).length > MAX_LISTED_ELEMENTS
    ) {
      return ["length"];
    }
  }
  return Object.getOwnPropertyNames(object);
}

function insideStringOrComment(prefix: string, budget: Budget): boolean {
  let inComment = false;
  try {
    const tokens = tokenizer(prefix, {
      ecmaVersion: "latest",
      allowHashBang: true,
      onComment(_block, _text, _start, end) {
        if (end === prefix.length) inComment = true;
      },
    });
    let step = 0;
    for (const _token of tokens) {
      // Tokenizing to the end is the point; the budget bounds it.
      if (++step % BUDGET_STEP === 0) budget.check();
    }
  } catch (error) {
    if (error instanceof CompletionError) throw error;
    return error instanceof SyntaxError &&
      /^Unterminated (string|template|comment)/.test(error.message);
  }
  return inComment;
}
