/**
 * Tells, in time linear in each new line, that a snippet typed (or pasted)
 * line by line is still open: a bracket, template literal, block comment
 * or continued string not yet closed. Checking each line by parsing the
 * whole snippet again costs time quadratic in its length (2 000 pasted
 * lines: 23 s of parsing); the scan carries its state from line to line.
 *
 * The scan only ever answers "still open" when it is sure; anything it
 * cannot read with certainty (a `/` after `}` that may start a regular
 * expression, a closing bracket that matches nothing, a string cut at a
 * line end) leaves the answer to the parser.
 *
 * @module
 */

/** What a scan of a snippet's text found open at its end. */
export interface ScanState {
  /**
   * The brackets open, innermost last: `(`, `(h` (the parenthesis of an
   * `if`/`while`/`for`/`with` head), `[`, `{`, `${`, and `` ` `` for the
   * text of a template literal.
   */
  readonly open: readonly string[];
  /** Inside a block comment. */
  readonly comment: boolean;
  /** What the last token was, for telling a regular expression from a division. */
  readonly previous: Previous;
  /** The scan met something it cannot read with certainty. */
  readonly uncertain: boolean;
}

/**
 * The kind of the last significant token: after a `value` a `/` divides,
 * after an `operator` (or at the start) it starts a regular expression,
 * after something `unsure` (a `}`, a word that may be a keyword or a
 * name, such as `of` or `await`) only a parser can tell. `head` is a
 * keyword whose `(` is a statement's head (`if`, `while`, `for`, `with`);
 * `dot` a member access, after which any word is a property name.
 */
type Previous = "value" | "operator" | "unsure" | "head" | "dot";

/** The state before any text. */
export const EMPTY_SCAN: ScanState = {
  open: [],
  comment: false,
  previous: "operator",
  uncertain: false,
};

/** Reserved words after which a `/` starts a regular expression. */
const REGEX_AFTER = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
]);
/** Words that are keywords in some places and names in others. */
const UNSURE = new Set(["of", "await", "yield", "let", "async", "get", "set"]);
const HEADS = new Set(["if", "while", "for", "with"]);
// Surrogates are word parts too: the scan reads code units, and an astral
// letter (`𝒳`) must not read as an operator.
const WORD_PART = /[\p{ID_Continue}$\u200c\u200d\\#\ud800-\udfff]/u;
const NUMBER =
  /(?:0[xXoObB][\da-fA-F_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d[\d_]*)?)n?/y;
const CLOSERS: Record<string, string> = { ")": "(", "]": "[", "}": "{" };

/**
 * Scans `text` on from `state` (the scan of the text before it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EMPTY_SCAN, isOpen, scanText } from "./continuation.ts";
 *
 * const first = scanText(EMPTY_SCAN, "const f = () => {");
 * assert.equal(isOpen(first), true);
 * const second = scanText(first, "\n  return `${a}`.length / 2;");
 * assert.equal(isOpen(second), true);
 * assert.equal(isOpen(scanText(second, "\n}")), false);
 * ```
 *
 * @param state Where the scan of the text before stopped.
 * @param text The text that follows.
 * @returns Where the scan stops at the end of `text`.
 */
export function scanText(state: ScanState, text: string): ScanState {
  if (state.uncertain) return state;
  const scan = new Scanner(state, text);
  scan.run();
  return scan.state();
}

/**
 * Whether a scan is sure the text is still open (more lines are needed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EMPTY_SCAN, isOpen, scanText } from "./continuation.ts";
 *
 * assert.equal(isOpen(scanText(EMPTY_SCAN, "foo(1,")), true);
 * assert.equal(isOpen(scanText(EMPTY_SCAN, "foo(1)")), false);
 * assert.equal(isOpen(scanText(EMPTY_SCAN, "foo(1))")), false); // for the parser
 * ```
 *
 * @param state A scan's state.
 * @returns `true` only when certainly open.
 */
export function isOpen(state: ScanState): boolean {
  return !state.uncertain && (state.open.length > 0 || state.comment);
}

class Scanner {
  #open: string[];
  #comment: boolean;
  #previous: Previous;
  #uncertain = false;
  #text: string;
  #i = 0;

  constructor(state: ScanState, text: string) {
    this.#open = [...state.open];
    this.#comment = state.comment;
    this.#previous = state.previous;
    this.#text = text;
  }

  state(): ScanState {
    return {
      open: this.#open,
      comment: this.#comment,
      previous: this.#previous,
      uncertain: this.#uncertain,
    };
  }

  run(): void {
    while (this.#i < this.#text.length && !this.#uncertain) {
      if (this.#comment) this.#blockComment();
      else if (this.#open.at(-1) === "`") this.#templateText();
      else this.#token();
    }
  }

  #blockComment(): void {
    const end = this.#text.indexOf("*/", this.#i);
    if (end === -1) {
      this.#i = this.#text.length;
      return;
    }
    this.#comment = false;
    this.#i = end + 2;
  }

  #templateText(): void {
    const text = this.#text;
    while (this.#i < text.length) {
      const char = text[this.#i]!;
      if (char === "\\") {
        this.#i += 2;
      } else if (char === "`") {
        this.#i++;
        this.#open.pop();
        this.#previous = "value";
        return;
      } else if (char === "$" && text[this.#i + 1] === "{") {
        this.#i += 2;
        this.#open.push("${");
        this.#previous = "operator";
        return;
      } else {
        this.#i++;
      }
    }
  }

  #token(): void {
    const text = this.#text;
    const char = text[this.#i]!;
    const next = text[this.#i + 1];
    if (/\s/.test(char)) {
      this.#i++;
      return;
    }
    if (char === "/" && next === "/") {
      const end = text.indexOf("\n", this.#i);
      this.#i = end === -1 ? text.length : end;
      return;
    }
    if (char === "/" && next === "*") {
      this.#comment = true;
      this.#i += 2;
      return;
    }
    if (/\d/.test(char) || (char === "." && /\d/.test(next ?? ""))) {
      return this.#number();
    }
    if (WORD_PART.test(char)) return this.#word();
    this.#i++;
    switch (char) {
      case "'":
      case '"':
        return this.#string(char);
      case "`":
        this.#open.push(char);
        return;
      case "(":
        this.#open.push(this.#previous === "head" ? "(h" : "(");
        this.#previous = "operator";
        return;
      case "[":
      case "{":
        this.#open.push(char);
        this.#previous = "operator";
        return;
      case ")":
      case "]":
      case "}":
        return this.#close(char);
      case "/":
        return this.#slash();
      case ".":
        if (text.startsWith("..", this.#i)) {
          this.#i += 2;
          this.#previous = "operator";
        } else {
          this.#previous = "dot";
        }
        return;
      case "+":
      case "-":
        // `a++ / 2` divides; `+ /x/` is a regular expression.
        if (next === char && this.#previous === "value") this.#i++;
        else this.#previous = "operator";
        return;
      case "!":
        // TypeScript's `value! / 2` divides; `!/x/.test(s)` does not.
        if (this.#previous !== "value" || next === "=") {
          this.#previous = "operator";
        }
        return;
      default:
        this.#previous = "operator";
    }
  }

  /** A string: it ends on its line, or the parser has an error to report. */
  #string(quote: string): void {
    const text = this.#text;
    while (this.#i < text.length) {
      const char = text[this.#i]!;
      if (char === "\\") {
        this.#i += text.startsWith("\r\n", this.#i + 1) ? 3 : 2;
      } else if (char === quote) {
        this.#i++;
        this.#previous = "value";
        return;
      } else if (char === "\n" || char === "\r") {
        break;
      } else {
        this.#i++;
      }
    }
    // Cut at a line's end, or continued with `\` (rare): for the parser.
    this.#uncertain = true;
  }

  #close(char: string): void {
    const top = this.#open.at(-1);
    if (char === "}" && top === "${") {
      this.#open.pop(); // back in the template's text
      return;
    }
    if (top === undefined || top.slice(0, 1) !== CLOSERS[char]) {
      this.#uncertain = true; // matches nothing: the parser has the error
      return;
    }
    this.#open.pop();
    this.#previous = char === "}"
      ? "unsure" // a block's end, or an object literal's
      : top === "(h"
      ? "operator" // `if (x) /re/.test(y)`
      : "value";
  }

  #slash(): void {
    if (this.#previous === "unsure") this.#uncertain = true;
    else if (this.#previous === "value") this.#previous = "operator";
    else this.#regularExpression();
  }

  #regularExpression(): void {
    const text = this.#text;
    let inClass = false;
    while (this.#i < text.length) {
      const char = text[this.#i]!;
      if (char === "\n" || char === "\r") break; // cannot span lines
      this.#i++;
      if (char === "\\") this.#i++;
      else if (char === "[") inClass = true;
      else if (char === "]") inClass = false;
      else if (char === "/" && !inClass) {
        while (this.#i < text.length && WORD_PART.test(text[this.#i]!)) {
          this.#i++;
        }
        this.#previous = "value";
        return;
      }
    }
    this.#uncertain = true;
  }

  #number(): void {
    NUMBER.lastIndex = this.#i;
    const match = NUMBER.exec(this.#text);
    this.#i += match === null || match[0] === "" ? 1 : match[0].length;
    this.#previous = "value";
  }

  #word(): void {
    const text = this.#text;
    const start = this.#i;
    while (this.#i < text.length && WORD_PART.test(text[this.#i]!)) this.#i++;
    const word = text.slice(start, this.#i);
    if (this.#previous === "dot") {
      this.#previous = "value"; // a property name, even `x.return`
    } else if (HEADS.has(word)) {
      this.#previous = "head";
    } else if (word === "await" && this.#previous === "head") {
      // `for await (`: still a head
    } else if (REGEX_AFTER.has(word)) {
      this.#previous = "operator";
    } else {
      this.#previous = UNSURE.has(word) ? "unsure" : "value";
    }
  }
}

/**
 * Snippets up to this length are checked by the parser on every line, so
 * a typo inside an open bracket is reported at once; longer ones (a paste)
 * are parsed again only once their brackets close.
 */
export const PARSE_EACH_LINE_MAX_CHARS = 4 * 1024;

/**
 * One session's memory of its last incomplete snippet, so that the next
 * line of it (the same text, a newline, one more line) is scanned alone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SnippetContinuation } from "./continuation.ts";
 *
 * const continuation = new SnippetContinuation();
 * let code = "const table = [";
 * continuation.settled(code, true); // the parser said: incomplete
 * for (let row = 0; row < 1000; row++) {
 *   code += `\n  { id: ${row}, name: "row ${row}" },`;
 *   assert.equal(continuation.stillOpen(code), code.length > 4096);
 *   continuation.settled(code, true);
 * }
 * assert.equal(continuation.stillOpen(code + "\n]"), false); // parse it
 * ```
 */
export class SnippetContinuation {
  #text = "";
  #state: ScanState | undefined;

  /**
   * Whether `code`, the last incomplete snippet and more lines, is
   * certainly still open, so that parsing it can wait. Only long snippets
   * are answered this way (see {@linkcode PARSE_EACH_LINE_MAX_CHARS}).
   *
   * @param code The snippet.
   * @returns `true` when it is long, extends the last incomplete snippet by
   * whole lines, and a bracket, template or comment is still open.
   */
  stillOpen(code: string): boolean {
    const known = this.#text.length;
    if (
      this.#state === undefined || code.length <= PARSE_EACH_LINE_MAX_CHARS ||
      code.length <= known || code[known] !== "\n" ||
      // A slice compared whole is a memory comparison; startsWith is ~40×
      // slower, which would make a long paste quadratic again.
      code.slice(0, known) !== this.#text
    ) {
      return false;
    }
    this.#state = scanText(this.#state, code.slice(known));
    this.#text = code;
    return isOpen(this.#state);
  }

  /**
   * Records how a snippet ended: an incomplete one is kept (scanned) for
   * its next line; anything else forgets it.
   *
   * @param code The snippet.
   * @param incomplete Whether it was incomplete.
   */
  settled(code: string, incomplete: boolean): void {
    if (!incomplete) {
      this.#text = "";
      this.#state = undefined;
    } else if (this.#state === undefined || this.#text !== code) {
      this.#state = scanText(EMPTY_SCAN, code);
      this.#text = code;
    }
  }
}
