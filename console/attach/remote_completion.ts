/**
 * Completion against the target, the way DevTools does it: the expression
 * before the last `.` is evaluated in the target with side effects refused
 * (`throwOnSideEffect`), then its property names are read along the
 * prototype chain; a bare word completes from the target's global lexical
 * names (the session's `let`s) and its global object.
 *
 * @module
 */

/** What to complete in the text before the cursor. */
export interface CompletionQuery {
  /** Where the word being completed starts. */
  start: number;
  /** The word so far. */
  partial: string;
  /** The expression whose members complete it; none for a bare word. */
  expression?: string;
}

const TRAILING_WORD = /[\p{ID_Continue}$\u200c\u200d]*$/u;
const IDENTIFIER = /^[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*$/u;
const MAX_EXPRESSION_CHARS = 1000;
const MAX_CANDIDATES = 1000;

/**
 * Finds the word before `cursor` and, after a `.` or `?.`, the member
 * expression it belongs to (identifiers, dots, and balanced `(…)` and
 * `[…]`).
 *
 * @param code The text.
 * @param cursor The cursor's offset.
 * @returns What to complete, or `undefined` for nothing (a number, `..`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { completionQuery } from "./remote_completion.ts";
 * assert.deepEqual(completionQuery("x = cache.si", 12), { start: 10, partial: "si", expression: "cache" });
 * assert.deepEqual(completionQuery("list[0]?.na", 11), { start: 9, partial: "na", expression: "list[0]" });
 * assert.deepEqual(completionQuery("ca", 2), { start: 0, partial: "ca" });
 * assert.equal(completionQuery("1.5", 3), undefined);
 * ```
 */
export function completionQuery(
  code: string,
  cursor: number,
): CompletionQuery | undefined {
  cursor = Math.max(0, Math.min(cursor, code.length));
  const prefix = code.slice(0, cursor);
  const partial = TRAILING_WORD.exec(prefix)![0];
  const start = cursor - partial.length;
  if (/^\p{Nd}/u.test(partial)) return undefined;
  const before = prefix.slice(0, start);
  const dot = /(\?)?\.\s*$/.exec(before);
  if (dot === null) return { start, partial };
  const head = before.slice(0, dot.index);
  if (dot[1] === undefined && head.endsWith(".")) return undefined; // `...spread`
  const expression = memberExpressionBefore(head);
  if (expression === undefined) return undefined;
  return { start, partial, expression };
}

/**
 * Filters and sorts names for a completion.
 *
 * @param names Candidate names (duplicates allowed).
 * @param partial The word so far.
 * @returns Distinct identifiers starting with `partial`, sorted, at most 1 000.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matchingNames } from "./remote_completion.ts";
 * assert.deepEqual(matchingNames(["size", "set", "size", "0", "s-x"], "s"), ["set", "size"]);
 * ```
 */
export function matchingNames(
  names: Iterable<string>,
  partial: string,
): string[] {
  const matches = new Set<string>();
  for (const name of names) {
    if (name.startsWith(partial) && IDENTIFIER.test(name)) matches.add(name);
  }
  return [...matches].sort().slice(0, MAX_CANDIDATES);
}

/** The member expression ending at the end of `text`, if a simple one. */
function memberExpressionBefore(text: string): string | undefined {
  let end = text.length;
  while (end > 0 && /\s/.test(text[end - 1]!)) end--;
  let i = end;
  while (i > 0) {
    const char = text[i - 1]!;
    if (char === ")" || char === "]") {
      const open = matchingOpen(text, i - 1);
      if (open === undefined) return undefined;
      i = open;
      continue;
    }
    const word = TRAILING_WORD.exec(text.slice(0, i))![0];
    if (word !== "") {
      i -= word.length;
      continue;
    }
    if (char === ".") {
      i -= text.slice(0, i).endsWith("?.") ? 2 : 1;
      continue;
    }
    break;
  }
  const expression = text.slice(i, end);
  if (expression === "" || expression.length > MAX_EXPRESSION_CHARS) {
    return undefined;
  }
  // A call or index right at the start has no object to apply to.
  return /^[([]/.test(expression) && !/^\(.*\)$/s.test(expression)
    ? undefined
    : expression;
}

/** The offset of the bracket that `close` (at `index`) closes, skipping strings. */
function matchingOpen(text: string, index: number): number | undefined {
  const pairs: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
  const stack: string[] = [];
  for (let i = index; i >= 0; i--) {
    const char = text[i]!;
    if (char === '"' || char === "'" || char === "`") {
      const open = text.lastIndexOf(char, i - 1);
      if (open === -1) return undefined;
      i = open;
      continue;
    }
    if (char in pairs) stack.push(pairs[char]!);
    else if (char === "(" || char === "[" || char === "{") {
      if (stack.pop() !== char) return undefined;
      if (stack.length === 0) return i;
    }
  }
  return undefined;
}
