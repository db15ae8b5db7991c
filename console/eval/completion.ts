/**
 * Completes identifiers and member chains in console input without running
 * any of it: names come from the session scope, globals and keywords;
 * members come from walking property descriptors, so no getter runs.
 *
 * @module
 */

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
const TRAILING_WORD = /[\p{ID_Continue}$\u200c\u200d]*$/u;
// A prototype chain longer than this is a proxy playing games.
const MAX_CHAIN = 64;

/**
 * Completes the identifier, or the last property of a plain
 * `identifier.property.property` chain, that ends at `cursor`. Only such
 * chains are resolved: `foo().ba` or `a[0].b` get no candidates, and neither
 * does a position inside a string or comment. A chain through an accessor
 * property stops there, since resolving it would run the getter; a chain
 * through a proxy whose traps throw gets no candidates.
 *
 * @example
 * ```ts
 * import { completeCode } from "./completion.ts";
 * import { createSessionScope } from "./scope.ts";
 * import assert from "node:assert/strict";
 *
 * const scope = createSessionScope({ cache: new Map() });
 * assert.deepEqual(completeCode("cache.si", 8, scope), { candidates: ["size"], start: 6 });
 * ```
 *
 * @param code The input line(s).
 * @param cursor Offset of the cursor in `code`.
 * @param scope The session's names.
 * @returns Sorted distinct candidates and where the completed word starts.
 */
export function completeCode(
  code: string,
  cursor: number,
  scope: CompletionScope,
): CompletionResult {
  cursor = Math.max(0, Math.min(cursor, code.length));
  const prefix = code.slice(0, cursor);
  const partial = TRAILING_WORD.exec(prefix)![0];
  const start = cursor - partial.length;
  const none = { candidates: [], start };
  if (/^\p{Nd}/u.test(partial) || insideStringOrComment(prefix)) return none;
  const chain = memberChain(prefix.slice(0, start));
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
      const target = resolveChain(chain, scope);
      if (target === undefined) return none;
      names = propertyNames(Object(target.value), null);
    }
  } catch {
    // A proxy whose traps throw: it has no members to offer.
    return none;
  }
  const candidates = new Set<string>();
  for (const name of names) {
    if (name.startsWith(partial) && IDENTIFIER.test(name)) candidates.add(name);
  }
  return { candidates: [...candidates].sort(), start };
}

/**
 * The identifiers of the member chain that ends right before the word being
 * completed: `[]` for a bare word, `["faker", "person"]` for
 * `faker.person.fi`, `undefined` for a chain that cannot be resolved
 * statically.
 */
function memberChain(beforeWord: string): string[] | undefined {
  const chain: string[] = [];
  let rest = beforeWord;
  for (;;) {
    const dot = /(\?)?\.\s*$/.exec(rest);
    if (dot === null) return chain;
    rest = rest.slice(0, dot.index);
    // A spread (`...name`) is not a member access.
    if (dot[1] === undefined && rest.endsWith("..")) return chain;
    const word = TRAILING_WORD.exec(rest.trimEnd())![0];
    if (!IDENTIFIER.test(word)) return undefined;
    chain.unshift(word);
    rest = rest.trimEnd().slice(0, -word.length);
  }
}

/** The value a chain leads to, or `undefined` when it leads nowhere or through a getter. */
function resolveChain(
  chain: string[],
  scope: CompletionScope,
): { value: unknown } | undefined {
  const [head, ...members] = chain as [string, ...string[]];
  let current = scope.lookup(head);
  if (!current.found) current = findProperty(globalThis, head);
  for (const member of members) {
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
    names.push(...Object.getOwnPropertyNames(o));
    o = Object.getPrototypeOf(o);
  }
  return names;
}

function insideStringOrComment(prefix: string): boolean {
  let inComment = false;
  try {
    const tokens = tokenizer(prefix, {
      ecmaVersion: "latest",
      allowHashBang: true,
      onComment(_block, _text, _start, end) {
        if (end === prefix.length) inComment = true;
      },
    });
    for (const _token of tokens) {
      // Tokenizing to the end is the point.
    }
  } catch (error) {
    return error instanceof SyntaxError &&
      /^Unterminated (string|template|comment)/.test(error.message);
  }
  return inComment;
}
