/**
 * Holders as a developer reads them: a module binding with its file
 * (`cache (lib/users.ts)`), `globalThis.registry`, `Tracer.finished
 * (span_tracer.ts:17)`, `context quoteMemo of memoized (quote_memo.ts:8)`,
 * `setInterval callback at poller.ts:13`, `held (console session)`, with
 * positions mapped to the `.ts` source; and a leak's holder with the shape
 * of the hops after it.
 *
 * @module
 */

import type { Holder } from "../heap/holders.ts";
import { fileUrlPath, mapToSource } from "./source_positions.ts";

/** A holder as printed: `cache (lib/users.ts)`, `startPoller (poller.ts:7)`. */
export interface HolderName {
  /** What kind of name it is: `export`, `module`, `global`, `static`, `closure`, `context`, `timer`, `session`. */
  kind: Holder["kind"];
  /** The name as printed. */
  text: string;
  /** The file, relative to the working directory when under it. */
  file?: string;
  /** Closures: 1-based line in the `.ts` source (or the code V8 runs, unmapped). */
  line?: number;
}

/** Printed names of holders, by holder object. */
export type HolderNames = Map<Holder, HolderName>;

/**
 * Names every holder of the rows as printed, mapping closure positions to
 * the `.ts` source. Each result kind keeps its holders in other fields:
 * `holdersOf` lists a row's, undefined where it has none.
 */
export async function holderNames<T>(
  rows: readonly T[],
  holdersOf: (row: T) => (Holder | undefined)[],
): Promise<HolderNames> {
  const names: HolderNames = new Map();
  for (const h of rows.flatMap(holdersOf)) {
    if (h && !names.has(h)) names.set(h, await holderName(h));
  }
  return names;
}

/**
 * A holder as printed: a module binding with its file, `globalThis.name`,
 * `Class.field (file:line)`, a closure's variable with the function and
 * its `.ts` line, a timer by its callback, a session variable.
 *
 * @param h The holder.
 * @returns Its printed name.
 */
export async function holderName(h: Holder): Promise<HolderName> {
  switch (h.kind) {
    case "export":
    case "module": {
      const file = h.url ? displayFile(h.url) : undefined;
      if (h.name === "") {
        return { kind: h.kind, text: `module ${file ?? "?"}`, file };
      }
      return {
        kind: h.kind,
        text: file ? `${h.name} (${file})` : h.name,
        file,
      };
    }
    case "closure": {
      const name = h.name === "" ? "(anonymous)" : h.name;
      if (!h.url) return { kind: h.kind, text: name };
      const at = await sourcePosition(h.url, h.line, h.column);
      return {
        kind: h.kind,
        text: `${name} (${at.file}${at.line ? `:${at.line}` : ""})`,
        file: at.file,
        line: at.line,
      };
    }
    case "global":
      return { kind: h.kind, text: `globalThis.${h.name}` };
    case "static": {
      const owner = h.owner ? await holderName(h.owner) : undefined;
      const cls = h.owner?.name || "(anonymous)";
      return {
        kind: h.kind,
        text: owner?.file
          ? `${cls}.${h.name} (${owner.file}${
            owner.line ? `:${owner.line}` : ""
          })`
          : `${cls}.${h.name}`,
        file: owner?.file,
        line: owner?.line,
      };
    }
    case "context": {
      const owner = h.owner?.url ? await holderName(h.owner) : undefined;
      return {
        kind: h.kind,
        text: owner
          ? `context ${h.name} of ${owner.text}`
          : `context ${h.name}`,
        file: owner?.file,
        line: owner?.line,
      };
    }
    case "timer": {
      const fn = h.owner;
      if (!fn?.url) {
        return { kind: h.kind, text: `${h.name} callback ${fn?.name ?? ""}` };
      }
      const at = await sourcePosition(fn.url, fn.line, fn.column);
      const name = fn.name === "" ? "" : ` ${fn.name}`;
      return {
        kind: h.kind,
        text: `${h.name} callback${name} at ${at.file}${
          at.line ? `:${at.line}` : ""
        }`,
        file: at.file,
        line: at.line,
      };
    }
    case "session":
      return { kind: h.kind, text: `${h.name} (console session)` };
  }
}

/**
 * Where a position in the code V8 runs (0-based) is in the `.ts` source,
 * for printing (the input position, 1-based, when no source map is found).
 */
async function sourcePosition(
  url: string,
  line: number | undefined,
  column: number | undefined,
): Promise<{ file: string; line?: number }> {
  if (line === undefined) return { file: displayFile(url) };
  const at = await mapToSource(url, line, column ?? 0);
  return { file: displayFile(at.url), line: at.line };
}

/** A script URL as a developer reads it: a path relative to the cwd if under it. */
export function displayFile(url: string): string {
  if (url.startsWith("data:")) return clip(url, 40);
  // Node names CommonJS scripts by their path, ES modules by file URL.
  if (!url.startsWith("file://") && !url.startsWith("/")) return url;
  const path = url.startsWith("/") ? url : fileUrlPath(url);
  if (path === undefined) return url;
  // npm packages as `npm:name@version/file`, not their cache path.
  const npm = path.match(
    /\/registry\.npmjs\.org\/((?:@[^/]+\/)?[^/]+)\/([^/]+)\/(.+)$/,
  );
  if (npm) return `npm:${npm[1]}@${npm[2]}/${npm[3]}`;
  const base = workingDirectory();
  return base && path.startsWith(base) ? path.slice(base.length) : path;
}

let cwd: string | null | undefined;
function workingDirectory(): string | null {
  if (cwd !== undefined) return cwd;
  try {
    cwd = Deno.cwd().replace(/\/?$/, "/");
  } catch {
    // Without read permission on the cwd: the main module's folder.
    try {
      const main = new URL(".", Deno.mainModule);
      cwd = main.protocol === "file:"
        ? decodeURIComponent(main.pathname)
        : null;
    } catch {
      cwd = null;
    }
  }
  return cwd;
}

/** Most hops of a shape printed after a holder; the middle is elided. */
const MAX_HOPS = 5;

/**
 * A holder and the hops after it on one line: property hops right after a
 * `globalThis` or static-field holder join it with dots
 * (`globalThis.registry.sessions`), a listener table follows its emitter
 * (`globalThis.bus "config-changed" listeners`), the rest are arrows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { heldByLine } from "./heap_names.ts";
 * assert.equal(
 *   heldByLine("globalThis.registry", "global", [".sessions", "[*]"]),
 *   "globalThis.registry.sessions → [*]",
 * );
 * assert.equal(
 *   heldByLine("globalThis.bus", "global", ['"config-changed" listeners']),
 *   'globalThis.bus "config-changed" listeners',
 * );
 * assert.equal(heldByLine(undefined, undefined, ["[*]"]), "(no named holder) → [*]");
 * ```
 *
 * @param text The holder as printed (undefined: none found).
 * @param kind The holder's kind.
 * @param via The hops after it.
 * @returns One line.
 */
export function heldByLine(
  text: string | undefined,
  kind: Holder["kind"] | undefined,
  via: readonly string[],
): string {
  let head = text ?? "(no named holder)";
  const rest = via.slice();
  if (kind === "global") {
    while (rest.length > 0 && /^\.[\w$]+$/.test(rest[0]!)) {
      head += rest.shift();
    }
  }
  const parts: string[] = [head];
  for (const hop of rest) {
    if (hop.endsWith(" listeners")) parts[parts.length - 1] += ` ${hop}`;
    else parts.push(hop);
  }
  if (parts.length > MAX_HOPS + 1) {
    parts.splice(2, parts.length - MAX_HOPS - 1, "…");
  }
  return parts.join(" → ");
}

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}
