/**
 * The parse worker: prepares console snippets (TypeScript reading, parse,
 * rewrite) off the service's thread, so that a long or pathological snippet
 * never holds the event loop; `parse_worker_client.ts` ends it when a
 * snippet takes longer than its budget.
 *
 * @module
 */

import { type PrepareOutcome, prepareSnippet } from "./snippet_parser.ts";
import { loadTranspiler } from "./transpile.ts";

/** A snippet to prepare. */
export interface ParseRequest {
  /** Echoed by the reply. */
  id: number;
  /** The snippet text. */
  code: string;
}

/**
 * The outcome of a {@linkcode ParseRequest}, or what it threw; first of
 * all `ready`, once the worker has loaded its code (the transpiler too), so
 * that loading never counts against a snippet's time budget.
 */
export type ParseReply =
  | { ready: true }
  | { id: number; outcome: PrepareOutcome }
  | { id: number; thrown: { name: string; message: string } };

const scope = self as unknown as {
  postMessage(message: ParseReply): void;
  onmessage: ((event: MessageEvent<ParseRequest>) => void) | null;
};

scope.onmessage = async ({ data: { id, code } }) => {
  try {
    scope.postMessage({ id, outcome: await prepareSnippet(code) });
  } catch (error) {
    // A snippet nested past the stack's depth, say: its error, as data.
    const { name, message } = error instanceof Error
      ? error
      : { name: "Error", message: String(error) };
    scope.postMessage({ id, thrown: { name, message } });
  }
};

// A failed load is retried (and reported) by the first snippet needing it.
await loadTranspiler().catch(() => {});
scope.postMessage({ ready: true });
