/**
 * Positions in the code V8 runs, mapped back to the `.ts` line and column a
 * developer can open.
 *
 * V8 reports positions (sampling-profile call frames, heap-snapshot
 * locations, `[[FunctionLocation]]`) in the JavaScript Deno emitted, with
 * types stripped. Without `--inspect` that code carries no
 * `sourceMappingURL`, so the inspector cannot help. Two sources of maps:
 *
 * 1. Deno's emit cache, `$DENO_DIR/gen/file/<path>.js`, ends with an inline
 *    source map of exactly the emitted code; it is decoded with
 *    `@jridgewell/trace-mapping` (the decoder Babel, Terser and Vite use:
 *    small, typed, maintained, and faster than `source-map-js`). This is the
 *    way under `deno run` / `deno task start`.
 * 2. Deno's own mapper, the one that maps `Error.stack`. A compiled binary
 *    keeps its maps inside for that purpose and has no emit cache, so a
 *    one-line script is compiled under the module's URL with an `Error`
 *    created at the exact line and column; Deno maps that frame with the
 *    module's map. It goes through `Deno[Deno.internal].core.evalContext`,
 *    an internal API: when it is missing the position is reported unmapped.
 *
 * When the toolkit examines another process (attach), its positions are
 * mapped by that process's own mapper (2. run there, through the inspector):
 * this process's emit cache may hold another version of the same file.
 *
 * @module
 */

import { originalPositionFor, TraceMap } from "../npm/trace_mapping.ts";
import { linkedTarget } from "./linked_target.ts";

/** A position in a developer's source file. */
export interface SourcePosition {
  /** URL of the original source (`file:///…/lib/users.ts`). */
  url: string;
  /** Path for printing: relative to the working directory when under it. */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
  /** Whether a source map was applied (false: the input position, 1-based). */
  mapped: boolean;
}

const INLINE_MAP =
  /\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)\s*(?:\/\/ denoCacheMetadata=\S*\s*)?$/;
const MAX_CACHED_POSITIONS = 20_000;

// One decoded map per script URL (null: none found), and Deno-mapper answers
// per position: a capture or profile asks for the same few hundred
// functions again and again.
const maps = new Map<string, Promise<TraceMap | null>>();
const denoMapped = new Map<string, SourcePosition | null>();

/**
 * Maps a 0-based position in the code V8 runs to the 1-based position in the
 * original source.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mapToSource } from "./source_positions.ts";
 * const pos = await mapToSource("ext:core/01_core.js", 9, 4);
 * assert.deepEqual(
 *   [pos.line, pos.column, pos.mapped, pos.file],
 *   [10, 5, false, "ext:core/01_core.js"],
 * );
 * ```
 *
 * @param url Script URL as V8 reports it (`file:///…/users.ts`), or a path.
 * @param line 0-based line in the emitted code.
 * @param column 0-based column in the emitted code.
 * @returns The original position, or the input made 1-based with
 *   `mapped: false` when no source map is found.
 */
export async function mapToSource(
  url: string,
  line: number,
  column: number,
): Promise<SourcePosition> {
  const href = toHref(url);
  const unmapped: SourcePosition = {
    url: href,
    file: displayPath(href),
    line: line + 1,
    column: column + 1,
    mapped: false,
  };
  if (!Number.isInteger(line) || !Number.isInteger(column)) return unmapped;
  if (line < 0 || column < 0 || !href.startsWith("file:")) return unmapped;
  if (linkedTarget() !== undefined) {
    return await mapInTarget(href, line, column) ?? unmapped;
  }
  const map = await emitCacheMap(href);
  if (map) {
    const original = originalPositionFor(map, { line: line + 1, column });
    if (original.source !== null && original.line !== null) {
      const source = new URL(original.source, href).href;
      return {
        url: source,
        file: displayPath(source),
        line: original.line,
        column: (original.column ?? 0) + 1,
        mapped: true,
      };
    }
  }
  return mapThroughStackTraces(href, line, column) ?? unmapped;
}

/**
 * Formats a position as `file:line:column`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatSourcePosition } from "./source_positions.ts";
 * assert.equal(
 *   formatSourcePosition({
 *     url: "file:///srv/app/lib/users.ts",
 *     file: "lib/users.ts",
 *     line: 78,
 *     column: 1,
 *     mapped: true,
 *   }),
 *   "lib/users.ts:78:1",
 * );
 * ```
 *
 * @param pos A position from {@linkcode mapToSource}.
 * @returns e.g. `"lib/users.ts:78:1"`.
 */
export function formatSourcePosition(pos: SourcePosition): string {
  return `${pos.file}:${pos.line}:${pos.column}`;
}

function toHref(url: string): string {
  if (url.startsWith("/")) return new URL(`file://${url}`).href;
  return url;
}

/**
 * The path a `file:` URL names, decoded (`%20` as a space).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileUrlPath } from "./source_positions.ts";
 * assert.equal(fileUrlPath("file:///srv/my%20app/a.ts"), "/srv/my app/a.ts");
 * assert.equal(fileUrlPath("ext:core/01_core.js"), undefined);
 * assert.equal(fileUrlPath("file:///bad%zz"), undefined);
 * ```
 *
 * @param url A script URL.
 * @returns The path; undefined for another scheme, or a URL that does not
 *   parse or decode.
 */
export function fileUrlPath(url: string): string | undefined {
  if (!url.startsWith("file:")) return undefined;
  try {
    return decodeURIComponent(new URL(url).pathname);
  } catch {
    return undefined;
  }
}

/**
 * A script URL as printed: a `file:` path relative to the working
 * directory when under it, absolute otherwise; any other URL as it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { displayPath } from "./source_positions.ts";
 * assert.equal(displayPath(`file://${Deno.cwd()}/lib/users.ts`), "lib/users.ts");
 * assert.equal(displayPath("file:///elsewhere/a.ts"), "/elsewhere/a.ts");
 * assert.equal(displayPath("ext:core/01_core.js"), "ext:core/01_core.js");
 * ```
 *
 * @param href A script URL.
 * @returns The path to print.
 */
export function displayPath(href: string): string {
  const path = fileUrlPath(href);
  if (path === undefined) return href;
  const cwd = workingDirectory();
  if (cwd && path.startsWith(`${cwd}/`)) return path.slice(cwd.length + 1);
  return path;
}

function workingDirectory(): string | undefined {
  try {
    return Deno.cwd().replace(/\/+$/, "");
  } catch {
    // The working directory was removed: print absolute paths.
    return undefined;
  }
}

function emitCacheMap(href: string): Promise<TraceMap | null> {
  let map = maps.get(href);
  if (!map) {
    map = loadEmitCacheMap(href);
    maps.set(href, map);
  }
  return map;
}

async function loadEmitCacheMap(href: string): Promise<TraceMap | null> {
  const file = emitCacheFile(href);
  if (!file || !granted({ name: "read", path: file })) return null;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch {
    // Not emitted (plain .js), not cached (a compiled binary) or not
    // readable under this process's permissions.
    return null;
  }
  const match = INLINE_MAP.exec(text.slice(-Math.min(text.length, 4 << 20)));
  if (!match) return null;
  try {
    const json = new TextDecoder().decode(base64Bytes(match[1]!));
    return new TraceMap(json, href);
  } catch {
    return null;
  }
}

/**
 * Where Deno's emit cache keeps the emitted code of a local module, by the
 * rules Deno uses for DENO_DIR. Undefined when they cannot be read (no
 * `--allow-env` for them): guessing could pick another cache's stale emit.
 */
function emitCacheFile(href: string): string | undefined {
  const dir = denoDir();
  if (!dir) return undefined;
  const path = fileUrlPath(href);
  if (path === undefined) return undefined;
  return `${dir}/gen/file${path}.js`;
}

function denoDir(): string | undefined {
  const explicit = env("DENO_DIR");
  if (explicit === undefined) return undefined;
  if (explicit) return explicit.replace(/\/+$/, "");
  const home = env("HOME");
  if (Deno.build.os === "darwin") {
    return home ? `${home}/Library/Caches/deno` : undefined;
  }
  const xdg = env("XDG_CACHE_HOME");
  if (xdg === undefined) return undefined;
  if (xdg) return `${xdg.replace(/\/+$/, "")}/deno`;
  return home ? `${home}/.cache/deno` : undefined;
}

/** An environment variable, "" when unset, undefined when not permitted. */
function env(name: string): string | undefined {
  if (!granted({ name: "env", variable: name })) return undefined;
  try {
    return Deno.env.get(name) ?? "";
  } catch {
    return undefined;
  }
}

// Asking first: an ungranted read or env access would prompt the operator
// on a terminal (deno run prompts by default).
function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

function base64Bytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * The stack text of an `Error` made at a position of a module's code, by
 * Deno's own mapper: a one-line script compiled under the module's URL (an
 * internal API, `Deno[Deno.internal].core.evalContext`). Uses nothing
 * outside itself: an attached target runs it as sent (source_positions'
 * {@linkcode mapToSource} asks the target when the toolkit is linked).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorStackAt } from "./source_positions.ts";
 * const stack = errorStackAt("file:///srv/app/a.js", 2, 4);
 * assert.match(String(stack), /a\.js:3:5/);
 * ```
 *
 * @param href The module's URL.
 * @param line 0-based line in the code V8 runs.
 * @param column 0-based column.
 * @returns The stack text, or undefined when the API is missing or fails.
 */
export function errorStackAt(
  href: string,
  line: number,
  column: number,
): unknown {
  const deno = (globalThis as { Deno?: Record<symbol, unknown> }).Deno;
  if (deno === undefined) return undefined;
  // Deno.internal is an unregistered symbol: found by its description.
  const symbol = Object.getOwnPropertySymbols(deno).find((s) =>
    s.description === "Deno.internal"
  );
  const internal = symbol === undefined ? undefined : deno[symbol] as
    | { core?: { evalContext?: unknown } }
    | undefined;
  const run = internal?.core?.evalContext;
  if (typeof run !== "function") return undefined;
  const limit = Error.stackTraceLimit;
  try {
    Error.stackTraceLimit = 1;
    return run(
      `${"\n".repeat(line)}${" ".repeat(column)}new Error().stack`,
      href,
    )[0];
  } catch {
    return undefined;
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Maps a position with Deno's own stack-trace mapper, the way that works in
 * a compiled binary (no emit cache there): an `Error` made at the exact
 * position in a script named like the module gets that module's map applied.
 * {@linkcode mapToSource} falls back to it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mapThroughStackTraces } from "./source_positions.ts";
 * // Plain JavaScript has no map: nothing to report.
 * assert.equal(mapThroughStackTraces("ext:core/01_core.js", 3, 0), undefined);
 * ```
 *
 * @param url Script URL as V8 reports it.
 * @param line 0-based line in the emitted code.
 * @param column 0-based column in the emitted code.
 * @returns The mapped position, or undefined when Deno has no map for it or
 *   the internal API is missing.
 */
export function mapThroughStackTraces(
  url: string,
  line: number,
  column: number,
): SourcePosition | undefined {
  const href = toHref(url);
  if (!Number.isInteger(line) || !Number.isInteger(column)) return undefined;
  if (line < 0 || column < 0) return undefined;
  const key = `${href}\0${line}\0${column}`;
  const cached = denoMapped.get(key);
  if (cached !== undefined) return cached ?? undefined;
  // A position past any real script would only build a huge string.
  if (line > 10_000_000 || column > 10_000_000) return undefined;
  const stack = errorStackAt(href, line, column);
  const position = parseFrame(stack, href, line, column);
  if (denoMapped.size >= MAX_CACHED_POSITIONS) denoMapped.clear();
  denoMapped.set(key, position ?? null);
  return position;
}

/** {@linkcode mapThroughStackTraces}, run by the attached target's runtime. */
async function mapInTarget(
  href: string,
  line: number,
  column: number,
): Promise<SourcePosition | undefined> {
  const target = linkedTarget();
  if (!target || line > 10_000_000 || column > 10_000_000) return undefined;
  const key = `${target.pid}\0${href}\0${line}\0${column}`;
  const cached = denoMapped.get(key);
  if (cached !== undefined) return cached ?? undefined;
  const stack = await target.stackAt(href, line, column).catch(() => undefined);
  const position = parseFrame(stack, href, line, column);
  if (denoMapped.size >= MAX_CACHED_POSITIONS) denoMapped.clear();
  denoMapped.set(key, position ?? null);
  return position;
}

function parseFrame(
  stack: unknown,
  href: string,
  line: number,
  column: number,
): SourcePosition | undefined {
  if (typeof stack !== "string") return undefined;
  const frame = stack.split("\n").find((l) => /^\s+at /.test(l));
  const match = frame && /at (?:.*\()?(\S+?):(\d+):(\d+)\)?\s*$/.exec(frame);
  if (!match) return undefined;
  const url = match[1]!;
  const mappedLine = Number(match[2]);
  const mappedColumn = Number(match[3]);
  // Unchanged means Deno had no map for it (plain JavaScript).
  if (url === href && mappedLine === line + 1 && mappedColumn === column + 1) {
    return undefined;
  }
  return {
    url,
    file: displayPath(url),
    line: mappedLine,
    column: mappedColumn,
    mapped: true,
  };
}

/**
 * Drops the cached maps (the toolkit's `close()` calls it).
 *
 * @example
 * ```ts
 * import { clearSourceMapCache } from "./source_positions.ts";
 * clearSourceMapCache();
 * ```
 */
export function clearSourceMapCache(): void {
  maps.clear();
  denoMapped.clear();
}
