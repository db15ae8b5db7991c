/**
 * Cleans stacks that come from the target: a snippet's frames read
 * `<console>:line:column` in the snippet as typed (the REPL prefix taken
 * off the first line's columns; Deno, which prints them `<anonymous>`, is
 * told by the inspector's own frame list), and the attach agent's frames
 * are left out.
 *
 * @module
 */

import { stripColors } from "../ansi.ts";
import { SNIPPET_PREFIX, SNIPPET_URL } from "./remote_snippet.ts";
import { AGENT_URL } from "./target_agent.ts";

/** A frame as the inspector lists it (`Runtime.StackTrace.callFrames`). */
export interface ProtocolFrame {
  /** The script's URL or source URL. */
  url: string;
  /** 0-based line. */
  lineNumber: number;
  /** 0-based column. */
  columnNumber: number;
}

const LOCATION = /(<console>|<anonymous>|leakwatch-attach-agent):(\d+):(\d+)/;

/**
 * Rewrites the frame lines of `text` (an error's stack, or an error
 * inspected): see the module's summary. Frames the inspector did not list
 * are kept as they are, except that a `<console>` frame on line 1 always
 * loses the prefix's columns.
 *
 * @param text Text with stack frames.
 * @param frames The inspector's frames for the thrown value, when known.
 * @returns The cleaned text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cleanRemoteStack } from "./remote_stack.ts";
 * import { SNIPPET_PREFIX } from "./remote_snippet.ts";
 * const column = SNIPPET_PREFIX.length + 22;
 * const stack = `Error: boom\n    at f (<anonymous>:1:${column})\n    at <anonymous>:2:1`;
 * const frames = [
 *   { url: "<console>", lineNumber: 0, columnNumber: column - 1 },
 *   { url: "<console>", lineNumber: 1, columnNumber: 0 },
 * ];
 * assert.equal(
 *   cleanRemoteStack(stack, frames),
 *   "Error: boom\n    at f (<console>:1:22)\n    at <console>:2:1",
 * );
 * ```
 */
export function cleanRemoteStack(
  text: string,
  frames: readonly ProtocolFrame[] = [],
): string {
  if (!text.includes("    at ")) return text;
  const kinds = new Map<string, string>();
  for (const frame of frames) {
    kinds.set(`${frame.lineNumber + 1}:${frame.columnNumber + 1}`, frame.url);
  }
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const plain = stripColors(line);
    const match = /^\s*at /.test(plain) ? LOCATION.exec(plain) : null;
    if (match === null) {
      out.push(line);
      continue;
    }
    const [, shown, lineText, columnText] = match;
    const url = shown === "<anonymous>"
      ? kinds.get(`${lineText}:${columnText}`)
      : shown;
    if (url === AGENT_URL) continue;
    if (url !== SNIPPET_URL) {
      out.push(line);
      continue;
    }
    const lineNumber = Number(lineText);
    let column = Number(columnText);
    if (lineNumber === 1 && column > SNIPPET_PREFIX.length) {
      column -= SNIPPET_PREFIX.length;
    }
    // Rewritten on the plain text: a location split by colours is rare.
    out.push(
      plain.replace(LOCATION, `${SNIPPET_URL}:${lineNumber}:${column}`),
    );
  }
  return out.join("\n");
}
