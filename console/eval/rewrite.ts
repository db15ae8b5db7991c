/**
 * Rewrites a parsed snippet so that its top-level declarations outlive it:
 * they become assignments to the session's variables, and the value of the
 * last expression statement that ran is kept in {@linkcode RESULT_VARIABLE}.
 *
 * @module
 */

import type { Node, Program } from "../npm/acorn.ts";

/** The local variable of the generated function that holds the snippet's value. */
export const RESULT_VARIABLE = "__ce$r";

/** The names a snippet brings into its session. */
export interface SnippetDeclarations {
  /** Top-level `let`, `const` and `class` names: reset on every run. */
  lexicalNames: readonly string[];
  /** `var` names outside functions: created once, kept when declared again. */
  varNames: readonly string[];
  /** Top-level function declarations: copied to the session when the run starts. */
  functionNames: readonly string[];
  /** Every identifier assigned anywhere: undeclared ones become session variables. */
  assignedNames: readonly string[];
}

/**
 * How offsets in a rewritten body map back to the parsed code: plain data,
 * so a worker can send it (read it with {@linkcode toSourceOffset}).
 */
export interface OffsetMap {
  /**
   * Each edit as four numbers, in output order: its start and end in the
   * parsed code, then where its text starts and ends in the body.
   */
  edits: number[];
  /**
   * Pairs of offsets in the parsed code: a position V8 reports (a detached
   * call's `(`) and the one to show instead (the callee's name).
   */
  anchors: number[];
}

/** A snippet ready to be wrapped in the session's function. */
export interface RewrittenSnippet extends SnippetDeclarations {
  /** The snippet with declarations turned into assignments and values recorded. */
  body: string;
  /** Whether `await` (or `for await`) is used outside any function. */
  hasTopLevelAwait: boolean;
  /** Maps offsets in `body` back to the parsed code. */
  offsets: OffsetMap;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

// acorn's node types are a union per node; the rewrite walks them generically.
type AnyNode = Node & Record<string, unknown>;

/**
 * Rewrites `program`, parsed from `code`, for evaluation in a session.
 *
 * - `let a = 1, {b} = o` at top level becomes `void (a = 1, {b} = o);`;
 *   `class A {}` becomes `void (A = class A {});`.
 * - `var` outside functions (also in blocks and `for` heads) loses the
 *   keyword the same way.
 * - Function declarations stay in place; the caller copies them out.
 * - Each expression statement outside functions becomes
 *   `__ce$r = (expr)`, so the snippet's value is the last one that ran,
 *   close to a script's completion value.
 * - A call of a bare name, `f(x)`, becomes `(0, f)(x)`, so that the scope
 *   object the name was found in does not become the callee's `this`.
 *
 * @example
 * ```ts
 * import { parse } from "../npm/acorn.ts";
 * import { rewriteSnippet } from "./rewrite.ts";
 * import assert from "node:assert/strict";
 *
 * const code = "let a = 1; a + 1";
 * const program = parse(code, { ecmaVersion: "latest" });
 * const out = rewriteSnippet(code, program);
 * assert.equal(out.body, "void (a = 1); __ce$r = (a + 1)");
 * assert.deepEqual(out.lexicalNames, ["a"]);
 * ```
 *
 * @param code The parsed text.
 * @param program Its AST.
 * @returns The rewritten body and what it declares.
 */
export function rewriteSnippet(
  code: string,
  program: Program,
): RewrittenSnippet {
  const rewriter = new Rewriter(code);
  for (const statement of program.body) {
    rewriter.statement(statement as AnyNode, true);
  }
  return rewriter.finish();
}

/**
 * Maps an offset in a rewritten body back to the parsed code: text the
 * rewrite inserted maps to where it was inserted, and a detached call's
 * `(` to its callee's name. A binary search over the edits.
 *
 * @example
 * ```ts
 * import { rewriteSnippet, toSourceOffset } from "./rewrite.ts";
 * import { parseSnippet } from "./syntax.ts";
 * import assert from "node:assert/strict";
 *
 * const parsed = parseSnippet("let a = 1; a");
 * assert.ok(parsed.kind === "ok");
 * const out = rewriteSnippet(parsed.code, parsed.program);
 * const at = out.body.lastIndexOf("a");
 * assert.equal(toSourceOffset(out.offsets, at), parsed.code.lastIndexOf("a"));
 * ```
 *
 * @param offsets The rewrite's {@linkcode OffsetMap}.
 * @param offset An offset in the body.
 * @returns The offset in the parsed code.
 */
export function toSourceOffset(offsets: OffsetMap, offset: number): number {
  const { edits, anchors } = offsets;
  // The last edit whose output starts at or before `offset`.
  let low = 0;
  let high = edits.length / 4 - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (edits[middle * 4 + 2]! <= offset) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  let source = offset;
  if (found !== -1) {
    const [start, end, , outEnd] = edits.slice(found * 4, found * 4 + 4) as [
      number,
      number,
      number,
      number,
    ];
    source = offset < outEnd ? start : end + (offset - outEnd);
  }
  for (let i = 0; i < anchors.length; i += 2) {
    if (anchors[i] === source) return anchors[i + 1]!;
  }
  return source;
}

class Rewriter {
  readonly #code: string;
  readonly #edits: Edit[] = [];
  readonly #lexical = new Set<string>();
  readonly #vars = new Set<string>();
  readonly #functions = new Set<string>();
  readonly #assigned = new Set<string>();
  readonly #callAnchors = new Map<number, number>();
  #hasTopLevelAwait = false;

  constructor(code: string) {
    this.#code = code;
  }

  /** Visits a statement that runs in the snippet's own scope (not in a function). */
  statement(node: AnyNode, topLevel: boolean): void {
    switch (node.type) {
      case "VariableDeclaration":
        if (node.kind === "var" || topLevel) {
          return this.#declarationStatement(node);
        }
        return this.#walk(node, false);
      case "FunctionDeclaration":
        if (topLevel) this.#functions.add(identifierName(node.id));
        return this.#walk(node, true);
      case "ClassDeclaration":
        if (topLevel) {
          const name = identifierName(node.id);
          this.#lexical.add(name);
          this.#insert(node.start, `void (${name} = `);
          this.#walk(node, false);
          return this.#insert(node.end, ");");
        }
        return this.#walk(node, false);
      case "ExpressionStatement": {
        const expression = node.expression as AnyNode;
        // Edits at one position apply in the order they were made: open
        // before walking the inside, close after it.
        this.#insert(expression.start, `${RESULT_VARIABLE} = (`);
        this.#walk(expression, false);
        return this.#insert(expression.end, ")");
      }
      case "BlockStatement":
        return this.#statements(node.body);
      case "IfStatement":
        this.#walk(node.test as AnyNode, false);
        this.#optionalStatement(node.consequent);
        return this.#optionalStatement(node.alternate);
      case "ForStatement":
        this.#forHead(node.init);
        this.#optionalWalk(node.test);
        this.#optionalWalk(node.update);
        return this.#optionalStatement(node.body);
      case "ForInStatement":
      case "ForOfStatement":
        if (node.await === true) this.#hasTopLevelAwait = true;
        this.#forHead(node.left);
        this.#collectTargets(node.left as AnyNode);
        this.#walk(node.right as AnyNode, false);
        return this.#optionalStatement(node.body);
      case "WhileStatement":
      case "DoWhileStatement":
        this.#walk(node.test as AnyNode, false);
        return this.#optionalStatement(node.body);
      case "LabeledStatement":
        return this.#optionalStatement(node.body);
      case "WithStatement":
        this.#walk(node.object as AnyNode, false);
        return this.#optionalStatement(node.body);
      case "TryStatement": {
        this.#optionalStatement(node.block);
        const handler = node.handler as AnyNode | null;
        if (handler) {
          this.#optionalWalk(handler.param);
          this.#optionalStatement(handler.body);
        }
        return this.#optionalStatement(node.finalizer);
      }
      case "SwitchStatement":
        this.#walk(node.discriminant as AnyNode, false);
        for (const switchCase of node.cases as AnyNode[]) {
          this.#optionalWalk(switchCase.test);
          this.#statements(switchCase.consequent);
        }
        return;
      default:
        return this.#walk(node, false);
    }
  }

  finish(): RewrittenSnippet {
    const edits = this.#edits.sort((a, b) => a.start - b.start);
    // Where each edit landed in the output, to map stack positions back.
    const landed: number[] = [];
    const parts: string[] = [];
    let length = 0;
    let copied = 0;
    for (const edit of edits) {
      const kept = this.#code.slice(copied, edit.start);
      parts.push(kept, edit.text);
      const outStart = length + kept.length;
      length = outStart + edit.text.length;
      landed.push(edit.start, edit.end, outStart, length);
      copied = edit.end;
    }
    parts.push(this.#code.slice(copied));
    return {
      body: parts.join(""),
      lexicalNames: [...this.#lexical],
      varNames: [...this.#vars],
      functionNames: [...this.#functions],
      assignedNames: [...this.#assigned],
      hasTopLevelAwait: this.#hasTopLevelAwait,
      offsets: { edits: landed, anchors: [...this.#callAnchors].flat() },
    };
  }

  #statements(list: unknown): void {
    for (const statement of list as AnyNode[]) this.statement(statement, false);
  }

  #optionalStatement(node: unknown): void {
    if (node) this.statement(node as AnyNode, false);
  }

  #optionalWalk(node: unknown): void {
    if (node) this.#walk(node as AnyNode, false);
  }

  #forHead(node: unknown): void {
    if (!node) return;
    const head = node as AnyNode;
    if (head.type === "VariableDeclaration" && head.kind === "var") {
      this.#declare(head);
      this.#edits.push({ start: head.start, end: head.start + 3, text: "" });
      for (const declarator of head.declarations as AnyNode[]) {
        this.#optionalWalk(declarator.init);
      }
    } else {
      this.#walk(head, false);
    }
  }

  #declarationStatement(node: AnyNode): void {
    this.#declare(node);
    const declarators = node.declarations as AnyNode[];
    const first = declarators[0]!;
    this.#edits.push({ start: node.start, end: first.start, text: "void (" });
    for (const declarator of declarators) this.#optionalWalk(declarator.init);
    if (this.#code[node.end - 1] === ";") {
      this.#edits.push({ start: node.end - 1, end: node.end, text: ");" });
    } else {
      this.#insert(node.end, ");");
    }
  }

  #declare(node: AnyNode): void {
    const names = node.kind === "var" ? this.#vars : this.#lexical;
    for (const declarator of node.declarations as AnyNode[]) {
      collectPatternNames(declarator.id as AnyNode, names);
    }
  }

  /**
   * A bare-name call inside `with` gets the scope object as `this`; `(0, f)()`
   * calls `f` as an ordinary function. Direct `eval` keeps its scope access.
   */
  #detachReceiver(callee: AnyNode): void {
    if (callee.type !== "Identifier" || callee.name === "eval") return;
    this.#insert(callee.start, "(0, ");
    this.#insert(callee.end, ")");
    // V8 places such a call at its `(`; stack frames should show the name.
    this.#callAnchors.set(callee.end, callee.start);
  }

  #insert(at: number, text: string): void {
    this.#edits.push({ start: at, end: at, text });
  }

  #collectTargets(node: AnyNode): void {
    if (node.type !== "VariableDeclaration") {
      collectPatternNames(node, this.#assigned);
    }
  }

  /** Visits an expression (or a statement inside a function): no rewriting. */
  #walk(node: AnyNode, inFunction: boolean): void {
    switch (node.type) {
      case "FunctionDeclaration":
      case "FunctionExpression":
      case "ArrowFunctionExpression":
        inFunction = true;
        break;
      case "AwaitExpression":
        if (!inFunction) this.#hasTopLevelAwait = true;
        break;
      case "ForOfStatement":
        if (node.await === true && !inFunction) this.#hasTopLevelAwait = true;
        this.#collectTargets(node.left as AnyNode);
        break;
      case "ForInStatement":
        this.#collectTargets(node.left as AnyNode);
        break;
      case "AssignmentExpression":
        collectPatternNames(node.left as AnyNode, this.#assigned);
        break;
      case "UpdateExpression":
        collectPatternNames(node.argument as AnyNode, this.#assigned);
        break;
      case "CallExpression":
        this.#detachReceiver(node.callee as AnyNode);
        break;
      case "TaggedTemplateExpression":
        this.#detachReceiver(node.tag as AnyNode);
        break;
    }
    for (const key in node) {
      const value = node[key];
      if (Array.isArray(value)) {
        for (const item of value) {
          if (isNode(item)) this.#walk(item, inFunction);
        }
      } else if (isNode(value)) {
        this.#walk(value, inFunction);
      }
    }
  }
}

function isNode(value: unknown): value is AnyNode {
  return typeof value === "object" && value !== null &&
    typeof (value as { type?: unknown }).type === "string";
}

function identifierName(node: unknown): string {
  return (node as { name: string }).name;
}

/** Adds the identifiers a binding or assignment pattern writes to. */
function collectPatternNames(node: AnyNode | null, names: Set<string>): void {
  if (!node) return;
  switch (node.type) {
    case "Identifier":
      names.add(node.name as string);
      return;
    case "ObjectPattern":
      for (const property of node.properties as AnyNode[]) {
        collectPatternNames(
          (property.type === "RestElement"
            ? property.argument
            : property.value) as AnyNode,
          names,
        );
      }
      return;
    case "ArrayPattern":
      for (const element of node.elements as (AnyNode | null)[]) {
        collectPatternNames(element, names);
      }
      return;
    case "AssignmentPattern":
      return collectPatternNames(node.left as AnyNode, names);
    case "RestElement":
      return collectPatternNames(node.argument as AnyNode, names);
  }
}
