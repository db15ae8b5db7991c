/**
 * Parses a console snippet as a JavaScript script and tells complete input
 * from input that needs more lines and from a genuine syntax error.
 *
 * @module
 */

import { parse, type Program } from "../npm/acorn.ts";

/** A snippet that parsed; `code` is what was parsed (see {@linkcode parseSnippet}). */
export interface ParsedSnippet {
  /** Tells a parsed snippet from the other outcomes. */
  kind: "ok";
  /** The parsed text: the snippet itself, or `(snippet)` for an object literal. */
  code: string;
  /** Whether `code` is the snippet wrapped in parentheses. */
  wrapped: boolean;
  /** The syntax tree of `code`. */
  program: Program;
}

/** Input that stops in the middle of a construct: the client should read more lines. */
export interface IncompleteSnippet {
  /** Tells incomplete input from the other outcomes. */
  kind: "incomplete";
}

/** Input that can never become valid by appending text. */
export interface SnippetSyntaxError {
  /** Tells a syntax error from the other outcomes. */
  kind: "error";
  /** The parser's message without its `(line:column)` suffix. */
  message: string;
  /** Offset of the error in the snippet. */
  pos: number;
  /** 1-based line of the error. */
  line: number;
  /** 0-based column of the error. */
  column: number;
}

/** What {@linkcode parseSnippet} found. */
export type ParseOutcome =
  | ParsedSnippet
  | IncompleteSnippet
  | SnippetSyntaxError;

interface AcornSyntaxError extends SyntaxError {
  pos: number;
  loc?: { line: number; column: number };
}

const PARSE_OPTIONS = {
  ecmaVersion: "latest",
  sourceType: "script",
  allowAwaitOutsideFunction: true,
  allowReturnOutsideFunction: false,
  allowHashBang: false,
} as const;

/**
 * Parses `code` the way a REPL reads a line.
 *
 * A snippet that starts with `{` and ends with `}` is first tried as an
 * object literal (as deno repl and node do), so `{a: 1}` is a value and not
 * a block with a label. Input is incomplete when the parser fails at the end
 * of the input (open brackets, a trailing operator, `if (x)`), inside a
 * template literal or block comment, or in a string whose line ends with a
 * `\` continuation. An unterminated `'...` or `"...` string without that
 * backslash is a syntax error: no further line can close it, since such
 * strings cannot span lines.
 *
 * @example
 * ```ts
 * import { parseSnippet } from "./syntax.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseSnippet("1 + 1").kind, "ok");
 * assert.equal(parseSnippet("foo(").kind, "incomplete");
 * assert.equal(parseSnippet("1 +* 2").kind, "error");
 * ```
 *
 * @param code The snippet text.
 * @returns The program, or why there is none.
 */
export function parseSnippet(code: string): ParseOutcome {
  if (looksLikeObjectLiteral(code)) {
    const wrapped = `(${code})`;
    try {
      return {
        kind: "ok",
        code: wrapped,
        wrapped: true,
        program: parse(wrapped, PARSE_OPTIONS),
      };
    } catch {
      // Not an object literal after all: parse it as written.
    }
  }
  try {
    return {
      kind: "ok",
      code,
      wrapped: false,
      program: parse(code, PARSE_OPTIONS),
    };
  } catch (error) {
    return classifyParseError(code, error);
  }
}

/**
 * Turns an error thrown by acorn (or sucrase, whose errors have the same
 * `pos` shape) into an incomplete or error outcome.
 *
 * @example
 * ```ts
 * import { classifyParseError } from "./syntax.ts";
 * import assert from "node:assert/strict";
 *
 * const error = Object.assign(new SyntaxError("Unexpected token (1:4)"), { pos: 4 });
 * assert.equal(classifyParseError("foo(", error).kind, "incomplete");
 * ```
 *
 * @param code The text that was parsed.
 * @param error What the parser threw.
 * @returns Incomplete when appending text could fix the input, else the error.
 */
export function classifyParseError(
  code: string,
  error: unknown,
): IncompleteSnippet | SnippetSyntaxError {
  if (
    !(error instanceof SyntaxError) ||
    typeof (error as AcornSyntaxError).pos !== "number"
  ) {
    throw error;
  }
  const { pos } = error as AcornSyntaxError;
  const message = error.message.replace(/\s*\(\d+:\d+\)$/, "");
  if (isIncomplete(code, message, pos)) return { kind: "incomplete" };
  const { line, column } = lineAndColumn(code, pos);
  return { kind: "error", message, pos, line, column };
}

function isIncomplete(code: string, message: string, pos: number): boolean {
  if (
    message.startsWith("Unterminated template") ||
    message.startsWith("Unterminated comment")
  ) {
    return true;
  }
  if (message.startsWith("Unterminated string constant")) {
    return /\\\r?\n?$/.test(code);
  }
  // acorn and sucrase report an unexpected end of input at the input's end.
  return pos >= code.trimEnd().length;
}

function looksLikeObjectLiteral(code: string): boolean {
  return /^\s*\{/.test(code) && /\}\s*$/.test(code);
}

/**
 * Converts an offset in `code` to a 1-based line and 0-based column.
 *
 * @example
 * ```ts
 * import { lineAndColumn } from "./syntax.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(lineAndColumn("a\nbc", 3), { line: 2, column: 1 });
 * ```
 *
 * @param code The text.
 * @param pos An offset into it.
 * @returns The line and column of `pos`.
 */
export function lineAndColumn(
  code: string,
  pos: number,
): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (
    let i = code.indexOf("\n");
    i !== -1 && i < pos;
    i = code.indexOf("\n", i + 1)
  ) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: pos - lineStart };
}
