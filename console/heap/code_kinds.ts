/**
 * Which code is the console's own: the one rule the toolkit uses to leave the
 * console, the toolkit and the evaluator out of its answers. It lives beside
 * the heap analysis, whose worker may read only this folder.
 *
 * A script belongs to the console when it lives in the `console/` folder.
 * Runtime code (`ext:`, `node:`) and npm packages (acorn, sucrase, Hono...)
 * belong to whoever calls them: the nearest developer frame on the stack
 * decides, so acorn called by the evaluator is the console's, Hono called by
 * the service is the service's.
 *
 * @module
 */

const CONSOLE_ROOT = new URL("../", import.meta.url).href;
const PACKAGE_PATH = /\/node_modules\/|\/npm\/[^/]+\.[^/]+\//;

/**
 * Whether a script URL is the console's own code (this `console/` folder).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isConsoleCode } from "./code_kinds.ts";
 * assert.equal(isConsoleCode(import.meta.url), true);
 * assert.equal(isConsoleCode(new URL("../../lib/users.ts", import.meta.url).href), false);
 * ```
 *
 * @param url Script URL as V8 reports it.
 * @returns True for files under `console/`.
 */
export function isConsoleCode(url: string): boolean {
  return url.startsWith(CONSOLE_ROOT);
}

/**
 * Whether a script URL is code a developer wrote: a local module (the
 * service's or the console's; in a Node snapshot read by `analyze`, a
 * CommonJS script, which Node names by its path) or a console snippet
 * (`<console:N>`), not the runtime's (`ext:`, `node:`, native) and not an
 * npm package's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isDeveloperCode } from "./code_kinds.ts";
 * assert.equal(isDeveloperCode("file:///srv/app/lib/users.ts"), true);
 * assert.equal(isDeveloperCode("<console:3>"), true);
 * assert.equal(isDeveloperCode("/srv/app/server.js"), true);
 * assert.equal(isDeveloperCode("/srv/app/node_modules/express/index.js"), false);
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
  if (isSnippetCode(url)) return true;
  return (url.startsWith("file:") || url.startsWith("/")) &&
    !PACKAGE_PATH.test(url);
}

/**
 * Whether a script URL is a console snippet's (`<console:N>`, the name the
 * evaluator gives each snippet it compiles): code an operator typed, whose
 * functions and what their scopes hold are the session's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSnippetCode } from "./code_kinds.ts";
 * assert.equal(isSnippetCode("<console:12>"), true);
 * assert.equal(isSnippetCode("file:///srv/app/lib/users.ts"), false);
 * assert.equal(isSnippetCode("<anonymous>"), false);
 * ```
 *
 * @param url Script URL as V8 reports it.
 * @returns True for a snippet compiled by a console session.
 */
export function isSnippetCode(url: string): boolean {
  return url.startsWith("<console:");
}

/** npm packages only the console loads (the evaluator's, source maps'). */
const CONSOLE_PACKAGES = [
  "acorn",
  "sucrase",
  "lines-and-columns",
  "ts-interface-checker",
  "@jridgewell",
];

/**
 * This module's path under the console's folder (`heap/code_kinds.ts`).
 * The toolkit imports it, so every snapshot the console captures holds its
 * script: a script URL ending in `/console/` and this path tells where that
 * console's folder was, wherever the service was installed.
 */
export const CONSOLE_MARKER: string = import.meta.url.slice(
  CONSOLE_ROOT.length,
);

/**
 * What belongs to the console in a heap snapshot, as `HeapAnalysis` takes
 * it: the scripts under the console's folder, the npm packages only the
 * console loads, and where a console session keeps its variables (`vars`
 * and `session` of `console/eval/scope.ts`: what they hold is the
 * session's, shown and labelled as such). The live console passes its own
 * folder; `analyze` the folder it found in a snapshot file (see
 * {@linkcode CONSOLE_MARKER}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { consoleOwnership } from "./code_kinds.ts";
 * const ownership = consoleOwnership("file:///srv/app/console/");
 * assert.equal(ownership.consoleScripts[0], "file:///srv/app/console/");
 * assert.ok(ownership.consoleScripts.includes("/node_modules/sucrase/"));
 * ```
 *
 * @param root The console folder's URL (default: this process's).
 * @returns The ownership the analysis takes.
 */
export function consoleOwnership(root: string = CONSOLE_ROOT): {
  consoleScripts: string[];
  sessionSlots: { script: string; variable: string; only?: string[] }[];
  sessionMachinery: { script: string; variable: string }[];
} {
  return {
    consoleScripts: [
      root,
      ...CONSOLE_PACKAGES.flatMap((name) => [
        `/registry.npmjs.org/${name}/`,
        `/node_modules/${name}/`,
      ]),
    ],
    sessionSlots: [
      { script: SCOPE_SCRIPT, variable: "vars" },
      // `_` and `_error` are the operator's; the helpers beside them are
      // the console's.
      { script: SCOPE_SCRIPT, variable: "session", only: ["_", "_error"] },
    ],
    // The layers a snippet resolves names through, besides the session's
    // own: the console's, though a hook a session made reaches them.
    sessionMachinery: [
      { script: SCOPE_SCRIPT, variable: "namespaceLayer" },
      { script: SCOPE_SCRIPT, variable: "fallbackLayer" },
    ],
  };
}

/** The script that keeps a console session's scope. */
const SCOPE_SCRIPT = "/console/eval/scope.ts";

/**
 * This process's console ownership: {@linkcode consoleOwnership} of the
 * folder this module was loaded from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CONSOLE_OWNERSHIP } from "./code_kinds.ts";
 * assert.ok(CONSOLE_OWNERSHIP.consoleScripts.some((s) => s.endsWith("/console/")));
 * ```
 */
export const CONSOLE_OWNERSHIP: ReturnType<typeof consoleOwnership> =
  consoleOwnership();
