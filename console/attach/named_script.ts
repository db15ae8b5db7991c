/**
 * Runs code of the attach session in the target as a script with a name:
 * `Runtime.compileScript` with a `sourceURL`, then `Runtime.runScript`. A
 * script evaluated with `Runtime.evaluate` has no name in a heap snapshot
 * (its `//# sourceURL` is not the script's name), so the session's own
 * closures would look like the program's; named, the toolkit leaves them
 * out as the console's own.
 *
 * @module
 */

import type { RemoteObject } from "./remote_values.ts";
import type { WebSocketLink } from "./websocket_link.ts";

/** What running the script gave: its value, or what it threw. */
export interface ScriptResult {
  /** The completion value (kept in the object group). */
  result: RemoteObject;
  /** Set when compiling or running failed. */
  exceptionDetails?: {
    text?: string;
    exception?: RemoteObject;
  };
}

/**
 * Compiles `source` in the target under the name `url` and runs it.
 *
 * @param link The link to the target's inspector.
 * @param source JavaScript source (an expression statement).
 * @param options The script's name, the object group for its value, the
 *   deadline of each command.
 * @returns Its completion value or its exception.
 *
 * @example
 * ```ts ignore
 * const made = await runNamedScript(link, "({ a: 1 })", {
 *   url: "leakwatch-attach-toolkit",
 *   objectGroup: "leakwatch-attach-toolkit",
 * });
 * ```
 */
export async function runNamedScript(
  link: WebSocketLink,
  source: string,
  options: { url: string; objectGroup: string; timeoutMs?: number },
): Promise<ScriptResult> {
  const timeout = { timeoutMs: options.timeoutMs ?? 10_000 };
  const compiled = await link.post<
    { scriptId?: string; exceptionDetails?: ScriptResult["exceptionDetails"] }
  >("Runtime.compileScript", {
    expression: source,
    sourceURL: options.url,
    persistScript: true,
  }, timeout);
  if (compiled.scriptId === undefined) {
    return {
      result: { type: "undefined" },
      exceptionDetails: compiled.exceptionDetails ?? {
        text: "the script did not compile",
      },
    };
  }
  return await link.post<ScriptResult>("Runtime.runScript", {
    scriptId: compiled.scriptId,
    objectGroup: options.objectGroup,
    silent: true,
  }, timeout);
}
