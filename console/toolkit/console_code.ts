/**
 * Which code is the console's own: the one rule the toolkit uses to leave the
 * console, the toolkit and the evaluator out of its answers.
 *
 * A script belongs to the console when it lives in this `console/` folder
 * (in a target attach examines: when it is attach's own code there).
 * Runtime code (`ext:`, `node:`) and npm packages (acorn, sucrase, Hono...)
 * belong to whoever calls them: the nearest developer frame on the stack
 * decides, so acorn called by the evaluator is the console's, Hono called by
 * the service is the service's.
 *
 * @module
 */

import { linkedTarget } from "./toolkit_state.ts";

const CONSOLE_ROOT = new URL("../", import.meta.url).href;
const PACKAGE_PATH = /\/node_modules\/|\/npm\/[^/]+\.[^/]+\//;

/**
 * Whether a script URL is the console's own code (this `console/` folder).
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
 * @returns True for files under `console/`.
 */
export function isConsoleCode(url: string): boolean {
  // In an attached target, the session's own scripts (attach's agent and
  // toolkit stubs) are the console's code there.
  const target = linkedTarget();
  if (target !== undefined) {
    const parts = target.ownership.consoleScripts ?? [];
    return url !== "" && parts.some((part) => url.includes(part));
  }
  return url.startsWith(CONSOLE_ROOT);
}

/**
 * Whether a script URL is code a developer wrote: a local module (the
 * service's or the console's) or a console snippet (`<console:N>`), not the
 * runtime's (`ext:`, `node:`, native) and not an npm package's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isDeveloperCode } from "./console_code.ts";
 * assert.equal(isDeveloperCode("file:///srv/app/lib/users.ts"), true);
 * assert.equal(isDeveloperCode("<console:3>"), true);
 * assert.equal(isDeveloperCode("ext:deno_http/00_serve.ts"), false);
 * assert.equal(
 *   isDeveloperCode("file:///root/.cache/deno/npm/registry.npmjs.org/acorn/8.19.0/dist/acorn.mjs"),
 *   false,
 * );
 * ```
 *
 * @param url Script URL as V8 reports it.
 * @returns True for the developer's own code.
 */
export function isDeveloperCode(url: string): boolean {
  if (url.startsWith("<console:") || isConsoleCode(url)) return true;
  return url.startsWith("file:") && !PACKAGE_PATH.test(url);
}
