/**
 * The console server's log lines: where they go by default, and escaping
 * of text that came from a client.
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * Writes one log line to stderr, straight to the stream: a session's
 * console routing must never capture the server's own log.
 *
 * @param line The line, without its newline.
 */
export function logToStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/**
 * Makes text from a client safe for a log line: control characters
 * (newlines included) become `\n`, `\u001b`, ... and the text is cut at
 * `max` characters, so a client can neither forge nor flood log lines.
 *
 * @param text Text that came from a client.
 * @param max The most characters kept.
 * @returns The escaped text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeLogField } from "./log.ts";
 * assert.equal(
 *   escapeLogField("1\nconsole session 9 opened"),
 *   "1\\nconsole session 9 opened",
 * );
 * ```
 */
export function escapeLogField(text: string, max = 200): string {
  const cut = text.length > max ? text.slice(0, max) + "…" : text;
  // deno-lint-ignore no-control-regex
  return cut.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\\]/g, (c) => {
    if (c === "\\") return "\\\\";
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}
