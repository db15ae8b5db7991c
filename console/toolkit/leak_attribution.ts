/**
 * The leak alarm's attribution: live bytes by allocation site from a V8
 * sampling heap profile, as `.ts` file:line, after the same rules as
 * `alloc.top()` (a native frame is charged to the script function that
 * called it).
 *
 * @module
 */

import { formatBytes } from "./report.ts";

/** A call frame of V8's sampling heap profile. */
export interface ProfileCallFrame {
  /** Function name, empty for an anonymous one. */
  functionName: string;
  /** Script URL, empty for native code. */
  url: string;
  /** 0-based line. */
  lineNumber: number;
  /** 0-based column. */
  columnNumber: number;
}

/** A node of V8's sampling heap profile. */
export interface ProfileNode {
  /** Where. */
  callFrame: ProfileCallFrame;
  /** Live sampled bytes allocated by this frame itself. */
  selfSize: number;
  /** Callees. */
  children: ProfileNode[];
}

/** One allocation site of the attribution. */
export interface LeakSite {
  /** Function name, `caller › native` for a native callee. */
  function: string;
  /** The source file, relative to the working directory when inside it; empty for native code. */
  file: string;
  /** 1-based line. */
  line: number;
  /** Estimated live bytes allocated here. */
  bytes: number;
  /** Share of all sampled live bytes, 0..1. */
  share: number;
}

/**
 * Maps a position of the code V8 runs to the developer's `.ts` file and
 * line, the way `alloc.top()` does (through `source_positions.ts`): the one
 * place the alarm's attribution learns positions.
 *
 * @param url Script URL.
 * @param line0 0-based line in the emitted code.
 * @param column0 0-based column.
 * @returns The file (relative to the working directory when inside it), 1-based line and column.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sourcePosition } from "./leak_attribution.ts";
 * assert.deepEqual(await sourcePosition("ext:core/01_core.js", 4, 0), {
 *   file: "ext:core/01_core.js",
 *   line: 5,
 *   column: 1,
 * });
 * ```
 */
export async function sourcePosition(
  url: string,
  line0: number,
  column0: number,
): Promise<{ file: string; line: number; column: number }> {
  // Source maps (trace-mapping) load with the first position asked for, not
  // with the leak alarm that imports this module at start-up.
  const { mapToSource } = await import("./source_positions.ts");
  const { file, line, column } = await mapToSource(url, line0, column0);
  return { file, line, column };
}

/**
 * Ranks a sampling heap profile's live bytes by allocation site.
 *
 * @param head The profile's root node.
 * @param n Sites to return.
 * @returns The top sites, largest first, and the total sampled live bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { topSites } from "./leak_attribution.ts";
 * const frame = (functionName: string, url: string, lineNumber: number) => ({
 *   functionName, url, lineNumber, columnNumber: 0,
 * });
 * const { sites } = await topSites({
 *   callFrame: frame("(root)", "", 0),
 *   selfSize: 0,
 *   children: [{
 *     callFrame: frame("load", "file:///srv/lib/users.ts", 9),
 *     selfSize: 100,
 *     children: [{ callFrame: frame("set", "", 0), selfSize: 300, children: [] }],
 *   }],
 * }, 5);
 * assert.equal(sites[0]?.function, "load › set");
 * assert.equal(sites[0]?.line, 10);
 * assert.equal(sites[0]?.share, 0.75);
 * ```
 */
export async function topSites(
  head: ProfileNode,
  n: number,
): Promise<{ sites: LeakSite[]; total: number }> {
  const sites = new Map<string, LeakSite>();
  const frames = new Map<LeakSite, ProfileCallFrame>();
  let total = 0;
  const stack: [ProfileNode, ProfileCallFrame | undefined][] = [[
    head,
    undefined,
  ]];
  while (stack.length > 0) {
    const [node, caller] = stack.pop()!;
    const own = node.callFrame;
    const native = own.url === "" && caller !== undefined;
    const frame = native ? caller : own;
    for (const child of node.children) {
      stack.push([child, own.url === "" ? caller : own]);
    }
    if (node.selfSize === 0) continue;
    total += node.selfSize;
    const name = (native ? `${caller.functionName || "(anonymous)"} › ` : "") +
      (own.functionName || "(anonymous)");
    const key = `${name}\0${frame.url}\0${frame.lineNumber}`;
    let site = sites.get(key);
    if (site === undefined) {
      site = { function: name, file: "", line: 0, bytes: 0, share: 0 };
      sites.set(key, site);
      frames.set(site, frame);
    }
    site.bytes += node.selfSize;
  }
  const top = [...sites.values()].sort((a, b) => b.bytes - a.bytes).slice(
    0,
    n,
  );
  // Mapped only for the sites shown: each mapping may read a source map.
  for (const site of top) {
    site.share = total > 0 ? site.bytes / total : 0;
    const frame = frames.get(site)!;
    if (frame.url === "") continue;
    const position = await sourcePosition(
      frame.url,
      frame.lineNumber,
      frame.columnNumber,
    );
    site.file = position.file;
    site.line = position.line;
  }
  return { sites: top, total };
}

/**
 * One site as a log or table line.
 *
 * @param site The site.
 * @returns e.g. `1.20 MiB 45% createUser lib/fake_database.ts:88`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatSite } from "./leak_attribution.ts";
 * assert.equal(
 *   formatSite({ function: "f", file: "lib/a.ts", line: 3, bytes: 2048, share: 0.5 }),
 *   "2.00 KiB 50% f lib/a.ts:3",
 * );
 * ```
 */
export function formatSite(site: LeakSite): string {
  const where = site.file === "" ? "(native)" : `${site.file}:${site.line}`;
  return `${formatBytes(site.bytes)} ${
    Math.round(site.share * 100)
  }% ${site.function} ${where}`;
}
