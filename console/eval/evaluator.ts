/**
 * The console's evaluation engine: runs JavaScript/TypeScript snippets of one
 * console session against the service namespace, keeps the session's
 * declarations, routes its console output, and completes identifiers.
 *
 * @module
 */

import { types } from "node:util";
import type { EvalFailure } from "../protocol.ts";
import {
  type CompiledSnippet,
  type CompileOutcome,
  compileSnippet,
  findCachedSnippet,
} from "./snippet_compiler.ts";
import {
  completeCode,
  CompletionError,
  type CompletionResult,
} from "./completion.ts";
import {
  currentContext,
  installConsoleRouting,
  type OutputContext,
  runInContext,
} from "./console_routing.ts";
import { SnippetContinuation } from "./continuation.ts";
import { describeThrown, renderValue } from "./render.ts";
import { readInspection } from "./inspection.ts";
import { toJsonText } from "./json_value.ts";
import { createSessionScope } from "./scope.ts";
import { createSessionHelpers, dotCommand } from "./session_helpers.ts";
import { createSessionConsole, type EvalOutput } from "./session_console.ts";
import { cleanStack } from "./stack.ts";

export type { EvalOutput, OutputInfo } from "./session_console.ts";

/** Options for {@linkcode createEvaluator}. */
export interface EvaluatorOptions {
  /** Where this session's `console.*` output goes. */
  output: EvalOutput;
  /** Session-only bindings (the toolkit: `mem`, `gc`, `heap`, ...); not added to the namespace. */
  scope?: Record<string, unknown>;
  /** Color values with ANSI escapes (the client is a terminal). */
  colors?: boolean;
  /** Truncate rendered values and errors past this many characters. Default 100 000. */
  maxResultChars?: number;
  /**
   * The most milliseconds reading a snippet may take in the parse worker;
   * `PARSE_BUDGET_MS` (10 s) by default. Past it the evaluation fails with
   * a `ParseBudgetError`.
   */
  parseBudgetMs?: number;
}

/** Options for {@linkcode Evaluator.evaluate}. */
export interface EvaluateOptions {
  /** Aborting settles a pending evaluation with an `Interrupted` error. */
  signal?: AbortSignal;
  /**
   * `"json"`: a value result also carries `json`, the value as JSON text
   * (see {@linkcode toJsonText}: Maps, Sets, bigints, Dates and cycles are
   * converted; a value that cannot be read becomes an error result). Default
   * `"text"`: the rendered `text` only.
   */
  format?: "text" | "json";
}

/** The outcome of one evaluation. */
export type EvalResult =
  | {
    kind: "value";
    /** The value as a REPL prints it. */
    text: string;
    /** The value as JSON text, when asked for with `format: "json"`. */
    json?: string;
    durationMs: number;
  }
  // The evaluator always knows the stack (empty for a thrown non-Error)
  // and the time taken; a client may be told neither.
  | (EvalFailure & { stack: string; durationMs: number })
  | { kind: "incomplete" };

/** What {@linkcode Evaluator.complete} suggests. */
export type Completion = CompletionResult;

/** One console session's evaluator. */
export interface Evaluator {
  /**
   * Evaluates a snippet. A synchronous endless loop (`while (true) {}`)
   * cannot be interrupted: JavaScript gives no way to stop running code, so
   * `signal` only takes effect while the snippet awaits.
   */
  evaluate(code: string, options?: EvaluateOptions): Promise<EvalResult>;
  /**
   * Completes the identifier or member chain before `cursor`; rejects with
   * a `CompletionError` when the code before the cursor is over
   * `MAX_COMPLETION_CHARS` or the completion over its time budget.
   */
  complete(code: string, cursor: number): Promise<Completion>;
  /**
   * Ends the session: later evaluations fail, `_` and `_error` are
   * released, and console output of work it left running goes to the
   * service's own console from now on. What the session defined lives on
   * as long as something references it, as any closure's scope does: a
   * function it put in the namespace (`users.lookup = …`) keeps working,
   * with the session's variables; once nothing references them, the
   * session's scope is collected.
   */
  close(): void;
}

const DEFAULT_MAX_RESULT_CHARS = 100_000;
const INTERRUPTED = Symbol("interrupted");

/**
 * Creates the evaluator of one console session.
 *
 * Semantics:
 *
 * - Bare names resolve to the session's declarations, then `_` / `_error`,
 *   then `options.scope`, then `main` (the namespace itself) and the
 *   namespace's own members (read live at each use), then the globals.
 *   Assigning to a bare namespace member writes to the namespace.
 * - Top-level `let`, `const`, `var`, `function`, `class` and destructuring
 *   declarations persist in the session; declaring a name again overwrites
 *   it. `const` is not enforced after its declaration: it behaves like
 *   `let`. Assigning to an undeclared name creates a session variable, never
 *   a global. Sessions never share variables.
 * - Top-level `await` works; the value is that of the last expression
 *   statement run outside functions. A value that is a promise is awaited
 *   too (so the toolkit's `heap.top()` needs no `await`), interruptibly;
 *   wrap it (`[p]`) to see the promise itself.
 * - `console.*` output from the snippet and anything it starts goes to
 *   `options.output`, as do errors nobody catches in its promises,
 *   microtasks and timers, whatever was thrown: a value whose every trap
 *   throws is reported, never let loose on the process. Output written
 *   while no evaluation waits for it (a timer's, or that of work an
 *   interrupted evaluation left running, or its later failure) is marked
 *   `{ background: true }`. After `close()`, work the session left running
 *   (a `setInterval`, say) writes to the service's own console again, and
 *   functions the session made keep their variables (see `close()`).
 * - Snippets are TypeScript first, as in `deno repl` (`id<number>(7)` is a
 *   generic call), and JavaScript where TypeScript cannot parse them.
 *   Snippets whose two readings can differ (one with a `<`, or one
 *   JavaScript rejects that has a TypeScript-only token), and snippets over
 *   `INLINE_PARSE_MAX_CHARS`, are read in a worker within a time budget
 *   (`parseBudgetMs`), so no snippet holds the service's event loop while
 *   it is read; an interrupt stops the reading too.
 *
 * @example
 * ```ts
 * import { createEvaluator } from "./evaluator.ts";
 * import assert from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const evaluator = createEvaluator({ cache: new Map([["a", 1]]) }, {
 *   output: { write: (_stream, text) => lines.push(text) },
 * });
 * const result = await evaluator.evaluate("console.log('size'); cache.size");
 * assert.equal(result.kind === "value" && result.text, "1");
 * assert.deepEqual(lines, ["size\n"]);
 * evaluator.close();
 * ```
 *
 * @example A program asks for the value as JSON
 * ```ts
 * import { createEvaluator } from "./evaluator.ts";
 * import assert from "node:assert/strict";
 *
 * const evaluator = createEvaluator({ cache: new Map([["a", 1n]]) }, {
 *   output: { write() {} },
 * });
 * const result = await evaluator.evaluate("cache", { format: "json" });
 * assert.equal(result.kind === "value" && result.json, '{"a":"1"}');
 * const hostile = await evaluator.evaluate(
 *   "({ get x() { throw new Error('no') } })",
 *   { format: "json" },
 * );
 * assert.equal(hostile.kind === "error" && hostile.message, "no");
 * evaluator.close();
 * ```
 *
 * @param namespace The service's namespace object.
 * @param options Output, session bindings and rendering options.
 * @returns The session's evaluator.
 */
export function createEvaluator(
  namespace: Record<string, unknown>,
  options: EvaluatorOptions,
): Evaluator {
  installConsoleRouting();
  const render = {
    colors: options.colors ?? false,
    maxChars: options.maxResultChars ?? DEFAULT_MAX_RESULT_CHARS,
  };
  const scope = createSessionScope(
    namespace,
    sessionEntries(namespace, options.scope ?? {}),
  );
  const continuation = new SnippetContinuation();
  const sessionConsole = createSessionConsole({
    write(stream, text) {
      // Output is the pending evaluation's only while it is waited for;
      // anything else comes from work a snippet left running.
      const background = currentContext()?.pending !== true;
      options.output.write(stream, text, { background });
    },
  }, { colors: render.colors, cleanStack });
  const reportUncaught = (error: unknown, inPromise: boolean) => {
    const { text } = describeThrown(error, render);
    const report = inPromise
      ? text.replace(/^Uncaught /, "Uncaught (in promise) ")
      : text;
    // A closed session's leftovers belong to the service's own log now
    // (console.error reaches the original console for a closed session).
    if (sessionConsole.closed) console.error(report);
    else sessionConsole.print("stderr", report);
  };
  // The work of an interrupted evaluation goes on; if it fails later, that
  // is reported like any background failure.
  const orphan = (work: Promise<unknown>) => {
    work.catch((error) => {
      try {
        reportUncaught(error, true);
      } catch {
        // Nothing sensible is left to report.
      }
    });
  };
  // Awaits what a snippet returned (or is), unless `signal` interrupts it
  // first: then the work is orphaned and the answer is INTERRUPTED.
  const settle = async <T>(pending: Promise<T>, signal?: AbortSignal) => {
    const settled = signal
      ? await untilAborted(pending, signal)
      : await pending;
    if (settled === INTERRUPTED) orphan(pending);
    return settled;
  };

  function failure(thrown: unknown, started: number): EvalResult {
    const described = describeThrown(thrown, render);
    // `_error.stack` reads like the reply: snippet frames mapped, the
    // console's own frames gone.
    if (described.stack !== "") replaceStack(thrown, described.stack);
    scope.setLastError(thrown);
    return { kind: "error", ...described, durationMs: since(started) };
  }

  async function evaluateCompiled(
    compiled: CompiledSnippet,
    context: OutputContext,
    { signal, format = "text" }: EvaluateOptions,
    started: number,
  ): Promise<EvalResult> {
    let value: unknown;
    try {
      const run = compiled.bind(scope.layers);
      if (compiled.isAsync) {
        const pending = runInContext(context, run) as Promise<[unknown]>;
        const settled = await settle(pending, signal);
        if (settled === INTERRUPTED) return interrupted(started);
        value = settled[0];
      } else {
        value = runInContext(context, run);
      }
      // A brand check, not instanceof: it runs no trap of a hostile proxy.
      if (isPromise(value)) {
        // A promise value is awaited, so `heap.top()` needs no `await`.
        const settled = await settle(value, signal);
        if (settled === INTERRUPTED) return interrupted(started);
        value = settled;
      }
    } catch (thrown) {
      return failure(thrown, started);
    }
    scope.setLastValue(value);
    let json: string | undefined;
    if (format === "json") {
      try {
        json = runInContext(
          context,
          // An inspect() wrapper stands for its value.
          () =>
            toJsonText(readInspection(value)?.value ?? value, {
              maxChars: render.maxChars,
            }),
        );
      } catch (thrown) {
        return failure(thrown, started);
      }
    }
    // Rendering an object may run custom inspectors that log: keep them in
    // the session. A primitive runs no code, so it skips the context switch.
    const text = isObjectLike(value)
      ? runInContext(context, () => renderValue(value, render))
      : renderValue(value, render);
    return json === undefined
      ? { kind: "value", text, durationMs: since(started) }
      : { kind: "value", text, json, durationMs: since(started) };
  }

  return {
    async evaluate(code, evaluateOptions = {}) {
      const started = performance.now();
      const { signal } = evaluateOptions;
      if (sessionConsole.closed) return closedSession(started);
      if (signal?.aborted) return interrupted(started);
      const answer = dotCommand(code);
      if (answer !== undefined) {
        const result = { kind: "value", text: answer } as const;
        return evaluateOptions.format === "json"
          ? {
            ...result,
            json: JSON.stringify(answer),
            durationMs: since(started),
          }
          : { ...result, durationMs: since(started) };
      }
      let compiled: CompileOutcome | undefined = findCachedSnippet(code);
      // A long snippet pasted line by line: no parse until it can end.
      if (compiled === undefined && continuation.stillOpen(code)) {
        return { kind: "incomplete" };
      }
      if (compiled === undefined) {
        try {
          compiled = await compileSnippet(code, {
            signal,
            parseBudgetMs: options.parseBudgetMs,
          });
        } catch (error) {
          if (signal?.aborted) return interrupted(started);
          // Over its parse budget, nested past the stack's depth, or the
          // parse worker could not start: the snippet never ran.
          scope.setLastError(error);
          return unreadSnippet(error, started);
        }
      }
      continuation.settled(code, compiled.kind === "incomplete");
      if (compiled.kind === "incomplete") return compiled;
      if (compiled.kind === "error") {
        const result = syntaxFailure(code, compiled, started);
        scope.setLastError(result.error);
        return result.result;
      }
      if (signal?.aborted) return interrupted(started);
      scope.prepare(compiled);
      const context: OutputContext = {
        console: sessionConsole,
        pending: true,
        reportUncaught,
      };
      try {
        return await evaluateCompiled(
          compiled,
          context,
          evaluateOptions,
          started,
        );
      } finally {
        context.pending = false;
      }
    },
    complete(code, cursor) {
      try {
        return Promise.resolve(completeCode(code, cursor, scope));
      } catch (error) {
        // Too long, or over its time budget: the client is told.
        if (error instanceof CompletionError) return Promise.reject(error);
        // A value whose traps throw has no members to offer.
        return Promise.resolve({ candidates: [], start: cursor });
      }
    },
    close() {
      sessionConsole.close();
      scope.release();
    },
  };
}

/**
 * The session layer: the console's own helpers, then the `scope` option's
 * entries (accessors copied, not run), then `help` listing all of it.
 */
function sessionEntries(
  namespace: Record<string, unknown>,
  scope: Record<string, unknown>,
): Record<string, unknown> {
  const helpers = createSessionHelpers({ namespace, scope });
  const entries: Record<string, unknown> = Object.create(null);
  Object.defineProperties(entries, Object.getOwnPropertyDescriptors(helpers));
  Object.defineProperties(entries, Object.getOwnPropertyDescriptors(scope));
  Object.defineProperty(entries, "help", {
    value: helpers.help,
    writable: true,
    enumerable: true,
    configurable: true,
  });
  return entries;
}

function replaceStack(error: unknown, stack: string): void {
  try {
    Object.defineProperty(error, "stack", {
      value: stack,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  } catch {
    // A frozen error or a proxy refusing: `_error` keeps its own stack.
  }
}

function isObjectLike(value: unknown): boolean {
  return (typeof value === "object" && value !== null) ||
    typeof value === "function";
}

function untilAborted<T>(
  pending: Promise<T>,
  signal: AbortSignal,
): Promise<T | typeof INTERRUPTED> {
  if (signal.aborted) {
    return Promise.resolve(INTERRUPTED);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(INTERRUPTED);
    signal.addEventListener("abort", onAbort, { once: true });
    pending.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function interrupted(started: number): EvalResult {
  return {
    kind: "error",
    name: "Interrupted",
    message: "Evaluation interrupted",
    stack: "",
    text: "Interrupted",
    durationMs: since(started),
  };
}

function closedSession(started: number): EvalResult {
  const message = "The console session is closed";
  return {
    kind: "error",
    name: "Error",
    message,
    stack: "",
    text: `Uncaught Error: ${message}`,
    durationMs: since(started),
  };
}

/**
 * A snippet that could not be read (not a syntax error): the error without
 * frames, which would be the console's own, as the snippet never ran.
 */
function unreadSnippet(error: unknown, started: number): EvalResult {
  const name = error instanceof Error ? error.name : "Error";
  const message = error instanceof Error ? error.message : String(error);
  const stack = `${name}: ${message}`;
  return {
    kind: "error",
    name,
    message,
    stack,
    text: `Uncaught ${stack}`,
    durationMs: since(started),
  };
}

function syntaxFailure(
  code: string,
  error: { message: string; line: number; column: number },
  started: number,
): { error: SyntaxError; result: EvalResult } {
  const message = `${error.message} (${error.line}:${error.column + 1})`;
  const source = code.split("\n")[error.line - 1] ?? "";
  // No frames: the snippet never ran. Show the line and a caret instead.
  const stack = `SyntaxError: ${message}\n${source}\n${
    " ".repeat(error.column)
  }^`;
  const syntax = new SyntaxError(message);
  syntax.stack = stack;
  return {
    error: syntax,
    result: {
      kind: "error",
      name: "SyntaxError",
      message,
      stack,
      text: `Uncaught ${stack}`,
      durationMs: since(started),
    },
  };
}

function since(started: number): number {
  return performance.now() - started;
}

function isPromise(value: unknown): value is Promise<unknown> {
  return types.isPromise(value);
}
