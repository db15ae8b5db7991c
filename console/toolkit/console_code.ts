/**
 * Which code is the console's own, for the toolkit: the rule itself lives
 * in `../heap/code_kinds.ts`, where the heap analysis worker can read it.
 * In a target attach examines, the console's code there is attach's own
 * scripts (its agent and toolkit stubs), named by the linked target.
 *
 * @module
 */

import * as kinds from "../heap/code_kinds.ts";
import { linkedTarget } from "./linked_target.ts";

/**
 * Whether a script URL is the console's own code: this `console/` folder,
 * or in an attached target, attach's scripts there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isConsoleCode } from "./console_code.ts";
 * assert.equal(isConsoleCode(import.meta.url), true);
 * assert.equal(isConsoleCode(new URL("../../lib/users.ts", import.meta.url).href), false);
 * ```
 *
 * @param url Script URL as V8 reports it.
 * @returns True for the console's own code.
 */
export function isConsoleCode(url: string): boolean {
  const target = linkedTarget();
  if (target !== undefined) {
    const parts = target.ownership.consoleScripts ?? [];
    return url !== "" && parts.some((part) => url.includes(part));
  }
  return kinds.isConsoleCode(url);
}

/**
 * Whether a script URL is code a developer wrote: a local module (the
 * service's or the console's), a console snippet (`<console:N>`), or in an
 * attached target attach's scripts; not the runtime's (`ext:`, `node:`,
 * native) and not an npm package's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isDeveloperCode } from "./console_code.ts";
 * assert.equal(isDeveloperCode("file:///srv/app/lib/users.ts"), true);
 * assert.equal(isDeveloperCode("<console:3>"), true);
 * assert.equal(isDeveloperCode("ext:deno_http/00_serve.ts"), false);
 * ```
 *
 * @param url Script URL as V8 reports it.
 * @returns True for the developer's own code.
 */
export function isDeveloperCode(url: string): boolean {
  return isConsoleCode(url) || kinds.isDeveloperCode(url);
}
