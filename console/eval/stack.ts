/**
 * Cleans stack traces of evaluated snippets: snippet frames point into the
 * snippet as typed, and the console's own frames (the evaluation engine,
 * the toolkit, the server: anything under `console/`) are left out.
 *
 * @module
 */

import { stripColors } from "../ansi.ts";
import { findCompiledSnippet, HEADER_LINES } from "./snippet_compiler.ts";

// Frames under the console's folder are the console at work (the engine
// between snippet frames, a toolkit helper refusing): not the developer's code.
const CONSOLE_FOLDER = new URL("../", import.meta.url).href;
// Everything from this file down is the caller of the evaluation, not the snippet.
const ENTRY_FILE = new URL("./evaluator.ts", import.meta.url).href;

const FRAME = /^(\s*)at /;
const SNIPPET_LOCATION = /<console:(\d+)>, <anonymous>:(\d+):(\d+)/g;

/**
 * Rewrites stack frame lines in `text` (an `Error.stack`, or a
 * `Deno.inspect` of an error with its causes): `<console:id>` locations are
 * mapped back to `<console>:line:column` in the snippet, anonymous snippet
 * frames read `at <console>:1:5`, frames of the console's own code (any file
 * under `console/`) are removed, and the frames of whoever called the
 * evaluator are cut off. Colored text (ANSI escapes) is cleaned the same way.
 *
 * @example
 * ```ts
 * import { cleanStack } from "./stack.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(cleanStack("Error: x\n    at f (file:///a.ts:1:1)"), "Error: x\n    at f (file:///a.ts:1:1)");
 * ```
 *
 * @param text Text containing stack frames.
 * @returns The cleaned text.
 */
export function cleanStack(text: string): string {
  // Most text (every value without an error inside) has no frame at all.
  if (!text.includes("    at ")) return text;
  const out: string[] = [];
  let block: string[] = [];
  let blockIndent = "";
  const flush = () => {
    out.push(...cleanFrames(block));
    block = [];
  };
  for (const line of text.split("\n")) {
    const frame = FRAME.exec(stripColors(line));
    if (frame === null || (block.length > 0 && frame[1] !== blockIndent)) {
      flush();
    }
    if (frame === null) {
      out.push(line);
    } else {
      blockIndent = frame[1]!;
      block.push(line);
    }
  }
  flush();
  return out.join("\n");
}

/** Cleans one run of frame lines that share an indentation. */
function cleanFrames(frames: string[]): string[] {
  const kept: string[] = [];
  let lastSnippetFrame = -1;
  for (const frame of frames) {
    // Colored frames (Deno.inspect with colors) are judged by their text.
    const plain = stripColors(frame);
    if (plain.includes(ENTRY_FILE)) break;
    if (plain.includes(CONSOLE_FOLDER)) continue;
    if (plain.includes("<console:")) {
      lastSnippetFrame = kept.length;
      // A snippet location split by color codes could not be mapped.
      kept.push(rewriteFrame(plain === frame ? frame : plain));
      continue;
    }
    kept.push(rewriteFrame(frame));
  }
  // Below the outermost snippet frame is whoever ran the snippet.
  return lastSnippetFrame === -1 ? kept : kept.slice(0, lastSnippetFrame + 1);
}

function rewriteFrame(line: string): string {
  return line
    .replace(
      SNIPPET_LOCATION,
      (_match, id: string, line: string, column: string) => {
        const snippet = findCompiledSnippet(Number(id));
        const location = snippet?.mapLocation(Number(line), Number(column)) ??
          { line: Number(line) - HEADER_LINES, column: Number(column) };
        return `<console>:${location.line}:${location.column}`;
      },
    )
    // V8 names anonymous functions of eval'd code `eval` (`Timeout.eval`
    // when called as a method): show them as anonymous frames.
    .replace(
      /\bat (async )?(?:[\w$]+\.)?eval \((<console>:\d+:\d+)\)$/,
      "at $1$2",
    );
}
