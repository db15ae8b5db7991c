/**
 * A snippet made ready for the target: read as TypeScript first (types
 * stripped here, as the in-process console does), told apart from
 * incomplete input and syntax errors before anything is sent, and wrapped
 * for `Runtime.evaluate` in REPL mode: it starts on the target's next
 * event-loop turn (so a synchronous loop in it can be interrupted) and
 * runs under the `<console>` source URL (so its stack frames say so).
 *
 * @module
 */

import type { EvalFailure } from "../protocol.ts";
import { rewriteSnippet } from "../eval/rewrite.ts";
import {
  type IncompleteSnippet,
  type ParsedSnippet,
  parseSnippet,
  type SnippetSyntaxError,
} from "../eval/syntax.ts";
import { mightBeTypeScript, stripTypes } from "../eval/transpile.ts";

/** The source URL snippets run under: their frames read `<console>:L:C`. */
export const SNIPPET_URL = "<console>";

/**
 * Put before every snippet, on its first line: the snippet then runs from
 * a timer, not inside the inspector's message dispatch, where Deno cannot
 * deliver `Runtime.terminateExecution` (measured: a loop started in the
 * dispatch could not be stopped; one started from a timer could).
 */
export const SNIPPET_PREFIX =
  "await new globalThis.Promise((resolve) => globalThis.setTimeout(resolve, 0)); ";

/** A snippet ready to send. */
export interface ReadySnippet {
  /** Tells a ready snippet from the other outcomes. */
  kind: "ok";
  /** The expression for `Runtime.evaluate` (prefix, JavaScript, source URL). */
  expression: string;
  /**
   * The names it declares at top level (`let`, `const`, `class`, `var`,
   * `function`): they stay in the target's global scope after it.
   */
  declared: string[];
}

/** What {@linkcode readSnippet} gives. */
export type SnippetReading =
  | ReadySnippet
  | IncompleteSnippet
  | SnippetSyntaxError;

/**
 * Reads a snippet as TypeScript first, as the in-process console and `deno
 * repl` do, with JavaScript as the fallback where the TypeScript reading
 * cannot parse it; an object literal (`{ a: 1 }`) is a value.
 *
 * @param code The snippet as typed.
 * @returns The expression to evaluate, or incomplete, or a syntax error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSnippet, SNIPPET_PREFIX } from "./remote_snippet.ts";
 * const ready = await readSnippet("let n: number = 1; n");
 * assert.ok(ready.kind === "ok");
 * assert.equal(ready.expression, `${SNIPPET_PREFIX}let n = 1; n\n//# sourceURL=<console>`);
 * assert.deepEqual(ready.declared, ["n"]);
 * assert.equal((await readSnippet("foo(")).kind, "incomplete");
 * assert.equal((await readSnippet("1 +* 2")).kind, "error");
 * ```
 */
export async function readSnippet(code: string): Promise<SnippetReading> {
  const read = await readTypeScriptFirst(code);
  if (read.kind !== "ok") return read;
  // The in-process console's own reading of what a snippet declares.
  const declarations = rewriteSnippet(read.code, read.program);
  return {
    kind: "ok",
    expression: `${SNIPPET_PREFIX}${read.code}\n//# sourceURL=${SNIPPET_URL}`,
    declared: [
      ...declarations.lexicalNames,
      ...declarations.varNames,
      ...declarations.functionNames,
    ],
  };
}

async function readTypeScriptFirst(
  code: string,
): Promise<ParsedSnippet | IncompleteSnippet | SnippetSyntaxError> {
  const plain = parseSnippet(code);
  // Without a TypeScript-only token, or without a `<` when JavaScript
  // parses it, both readings are the same program.
  if (
    !mightBeTypeScript(code) || (!code.includes("<") && plain.kind !== "error")
  ) {
    return plain;
  }
  const stripped = await stripTypes(code);
  if (stripped.kind === "ok") {
    const parsed = parseSnippet(stripped.code);
    if (parsed.kind === "ok") return parsed;
    return plain.kind === "ok" ? plain : parsed;
  }
  if (plain.kind === "ok" || plain.kind === "incomplete") return plain;
  if (stripped.kind === "incomplete") return stripped;
  return stripped.pos > plain.pos ? stripped : plain;
}

/**
 * The failure a syntax error found here stands for, shaped as the
 * in-process console reports it: the message with its position, the line
 * and a caret.
 *
 * @param code The snippet.
 * @param error Where and what.
 * @returns The failure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { syntaxFailure } from "./remote_snippet.ts";
 * const failure = syntaxFailure("1 +* 2", { message: "Unexpected token", line: 1, column: 3 });
 * assert.equal(failure.text, "Uncaught SyntaxError: Unexpected token (1:4)\n1 +* 2\n   ^");
 * ```
 */
export function syntaxFailure(
  code: string,
  error: { message: string; line: number; column: number },
): EvalFailure {
  const message = `${error.message} (${error.line}:${error.column + 1})`;
  const source = code.split("\n")[error.line - 1] ?? "";
  const stack = `SyntaxError: ${message}\n${source}\n${
    " ".repeat(error.column)
  }^`;
  return {
    kind: "error",
    name: "SyntaxError",
    message,
    stack,
    text: `Uncaught ${stack}`,
    durationMs: 0,
  };
}

const EXIT_CALL =
  /(?:^|[^.\w$])(?:(Deno\s*\.\s*exit|process\s*\.\s*(?:exit|abort|reallyExit))\s*\(|(process\s*\.\s*kill)\s*\(\s*process\s*\.\s*pid\b)/;

/**
 * Refuses the habit of ending a REPL with `Deno.exit()` or
 * `process.exit()`: attached, it would end the target. (A guard against a
 * habit, not a sandbox: `globalThis.Deno.exit` still works.)
 *
 * @param code The snippet.
 * @param pid The target's pid, for the message.
 * @returns The refusal, or `undefined` when the snippet has no such call.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exitRefusal } from "./remote_snippet.ts";
 * assert.match(exitRefusal("Deno.exit(0)", 42) ?? "", /would end the target \(pid 42\)/);
 * assert.equal(exitRefusal("cache.size", 42), undefined);
 * ```
 */
export function exitRefusal(code: string, pid: number): string | undefined {
  const call = EXIT_CALL.exec(code);
  if (call === null) return undefined;
  const name = (call[1] ?? call[2])!.replace(/\s+/g, "");
  return `${name}() would end the target (pid ${pid}), not this session: .exit or Ctrl-D detaches and leaves it running`;
}
