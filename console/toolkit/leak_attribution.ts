/**
 * Live bytes by allocation site from a V8 sampling heap profile, in the
 * developer's terms: the one ranking behind the leak alarm's attribution
 * and `alloc.top()`.
 *
 * A site is the innermost frame of the developer's own code on the
 * allocation's stack: a service module, or a function typed in a console
 * session (named as such). What it called to allocate (a builtin such as
 * `Map.prototype.set`, an npm package, Deno's runtime) is shown after it
 * (`load › set`), and the developer frames that led there are its path
 * (`app.ts:81 › hook.ts:9 › linked.ts:26`). Allocations whose innermost
 * developer frame is the console's own machinery (`console/`) are the
 * console's, left out unless asked for. Positions are where each function
 * is defined: V8's sampling profile carries no line of the allocation.
 *
 * @module
 */

import { isConsoleCode, isDeveloperCode } from "./console_code.ts";
import { formatBytes } from "./report.ts";

/** A call frame of V8's sampling heap profile. */
export interface ProfileCallFrame {
  /** Function name, empty for an anonymous one. */
  functionName: string;
  /** Script URL, empty for native code and code compiled at run time. */
  url: string;
  /** 0-based line. */
  lineNumber: number;
  /** 0-based column. */
  columnNumber: number;
  /** V8's script id: `"0"` for native code. */
  scriptId?: string;
}

/** A node of V8's sampling heap profile. */
export interface ProfileNode {
  /** Where. */
  callFrame: ProfileCallFrame;
  /** Live sampled bytes allocated by this frame itself. */
  selfSize: number;
  /** The node's id, which the profile's samples refer to. */
  id?: number;
  /** Callees. */
  children: ProfileNode[];
}

/** A V8 sampling heap profile. */
export interface SamplingProfile {
  /** The root node. */
  head: ProfileNode;
  /** One entry per sample, naming its node. */
  samples?: Array<{ size: number; nodeId: number }>;
}

/** Who wrote a site's code. */
export type SiteOrigin = "service" | "console session" | "console" | "runtime";

/** One allocation site. */
export interface AllocationSite {
  /**
   * The innermost developer function, `(anonymous)` without a name; when
   * what it called allocated more than its own code, the heaviest callees
   * follow `›` (`load › set`, `render › email (@faker-js/faker), join (+2)`).
   */
  function: string;
  /**
   * The function's source file, relative to the working directory when
   * under it; `console:N` for a console snippet; empty for native code.
   */
  file: string;
  /** 1-based line where the function is defined (0 when unknown). */
  line: number;
  /** 1-based column where the function is defined (0 when unknown). */
  column: number;
  /** Whether the position went through a source map. */
  mapped: boolean;
  /** Whose code: the service's, a console session's, the console's, the runtime's. */
  origin: SiteOrigin;
  /**
   * The developer frames that led to the site, outermost first, the site
   * last: `app.ts:81 › hook.ts:9 › linked.ts:26` (the heaviest such path;
   * `…` when cut).
   */
  path: string;
  /** How many distinct paths led to the site. */
  paths: number;
  /** Estimated live bytes allocated here. */
  bytes: number;
  /** Samples taken here. */
  samples: number;
  /** Share of all sampled live bytes, 0..1. */
  share: number;
}

/** What {@linkcode rankSites} found. */
export interface RankedSites {
  /** The top sites, largest first. */
  sites: AllocationSite[];
  /** All live sampled bytes, the console's own included. */
  total: number;
  /** Live sampled bytes of the console's own, left out. */
  hidden: number;
}

/** Options of {@linkcode rankSites}. */
export interface RankOptions {
  /** Sites to return. */
  n: number;
  /** Include the console's own allocations (default false). */
  all?: boolean;
  /**
   * URLs of scripts the profile names only by id (code compiled at run
   * time); see `exact_frames.ts` `scriptUrls`.
   */
  scriptUrls?: ReadonlyMap<string, string>;
}

/** Developer frames kept in a path (the innermost ones). */
const PATH_FRAMES = 4;
const SNIPPET_URL = /^<console:(\d+)>$/;
const PACKAGE =
  /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/|\/npm\/[^/]+\/((?:@[^/]+\/)?[^/@]+)\/\d[^/]*\//;

/** How one frame counts. */
type FrameKind = "developer" | "snippet" | "console" | "library" | "native";

interface Frame {
  call: ProfileCallFrame;
  url: string;
  kind: FrameKind;
}

interface Site {
  frame: Frame;
  /** Bytes by what the site called to allocate ("" for itself). */
  callees: Map<string, number>;
  origin: SiteOrigin;
  bytes: number;
  samples: number;
  paths: Map<string, { frames: Frame[]; bytes: number }>;
}

/**
 * The script ids a profile names without a URL (code compiled at run time),
 * for `scriptUrls` to resolve.
 *
 * @param head The profile's root.
 * @returns The ids.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unnamedScripts } from "./leak_attribution.ts";
 * const frame = (url: string, scriptId: string) => ({
 *   functionName: "f", url, scriptId, lineNumber: 0, columnNumber: 0,
 * });
 * const ids = unnamedScripts({
 *   callFrame: frame("", "0"),
 *   selfSize: 0,
 *   children: [{ callFrame: frame("", "78"), selfSize: 8, children: [] }],
 * });
 * assert.deepEqual([...ids], ["78"]);
 * ```
 */
export function unnamedScripts(head: ProfileNode): Set<string> {
  const ids = new Set<string>();
  const stack = [head];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const { url, scriptId } = node.callFrame;
    if (url === "" && scriptId !== undefined && scriptId !== "0") {
      ids.add(scriptId);
    }
    stack.push(...node.children);
  }
  return ids;
}

/**
 * Ranks a sampling heap profile's live bytes by allocation site (see the
 * module's documentation for what a site is).
 *
 * @param profile The profile.
 * @param options How many sites, whether to include the console's own.
 * @returns The top sites, the total and what was left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ProfileNode, rankSites } from "./leak_attribution.ts";
 * const frame = (functionName: string, url: string, lineNumber: number) => ({
 *   functionName, url, lineNumber, columnNumber: 0, scriptId: url ? "9" : "0",
 * });
 * const node = (
 *   callFrame: ReturnType<typeof frame>,
 *   selfSize: number,
 *   children: ProfileNode[] = [],
 * ): ProfileNode => ({ callFrame, selfSize, children });
 * const { sites } = await rankSites({
 *   head: node(frame("(root)", "", 0), 0, [
 *     node(frame("handle", "file:///srv/lib/app.ts", 80), 100, [
 *       node(frame("append", "file:///srv/lib/history.ts", 16), 200, [
 *         node(frame("push", "", 0), 700),
 *       ]),
 *     ]),
 *   ]),
 * }, { n: 5 });
 * assert.equal(sites[0]?.function, "append › push");
 * assert.equal(sites[0]?.line, 17);
 * assert.equal(sites[0]?.bytes, 900); // its own 200 and push's 700
 * assert.equal(sites[0]?.path, "app.ts:81 › history.ts:17");
 * assert.equal(sites[1]?.function, "handle");
 * ```
 */
export async function rankSites(
  profile: SamplingProfile,
  options: RankOptions,
): Promise<RankedSites> {
  const samplesByNode = new Map<number, number>();
  for (const s of profile.samples ?? []) {
    samplesByNode.set(s.nodeId, (samplesByNode.get(s.nodeId) ?? 0) + 1);
  }
  const scriptUrls = options.scriptUrls ?? new Map<string, string>();
  const sites = new Map<string, Site>();
  let total = 0;
  let hidden = 0;
  // Depth-first with the developer frames above each node.
  const stack: Array<[ProfileNode, Frame[], Frame | undefined]> = [[
    profile.head,
    [],
    undefined,
  ]];
  while (stack.length > 0) {
    const [node, above, scriptAbove] = stack.pop()!;
    const frame = classify(node.callFrame, scriptUrls);
    const developers = frame.kind === "developer" ||
        frame.kind === "snippet" || frame.kind === "console"
      ? [...above, frame]
      : above;
    const nearestScript = frame.kind === "native" ? scriptAbove : frame;
    for (const child of node.children) {
      stack.push([child, developers, nearestScript]);
    }
    if (node.selfSize === 0) continue;
    total += node.selfSize;
    const innermost = developers.at(-1);
    const origin: SiteOrigin = innermost === undefined
      ? "runtime"
      : innermost.kind === "console"
      ? "console"
      : innermost.kind === "snippet"
      ? "console session"
      : "service";
    if (origin === "console" && !options.all) {
      hidden += node.selfSize;
      continue;
    }
    const siteFrame = innermost ?? nearestScript ?? frame;
    const key =
      `${siteFrame.call.functionName}\0${siteFrame.url}\0${siteFrame.call.lineNumber}\0${siteFrame.call.columnNumber}`;
    let site = sites.get(key);
    if (site === undefined) {
      site = {
        frame: siteFrame,
        callees: new Map(),
        origin,
        bytes: 0,
        samples: 0,
        paths: new Map(),
      };
      sites.set(key, site);
    }
    site.bytes += node.selfSize;
    site.samples += samplesByNode.get(node.id ?? -1) ?? 0;
    const callee = frame === siteFrame ? "" : calleeLabel(frame);
    site.callees.set(callee, (site.callees.get(callee) ?? 0) + node.selfSize);
    const pathFrames = developers.filter((f) => f.kind !== "console");
    if (origin === "console") pathFrames.push(siteFrame);
    const pathKey = pathFrames.map((f) =>
      `${f.url}:${f.call.lineNumber}:${f.call.columnNumber}`
    ).join(" ");
    const path = site.paths.get(pathKey);
    if (path) path.bytes += node.selfSize;
    else site.paths.set(pathKey, { frames: pathFrames, bytes: node.selfSize });
  }
  const chosen = [...sites.values()].sort((a, b) => b.bytes - a.bytes).slice(
    0,
    options.n,
  );
  const rows: AllocationSite[] = [];
  for (const site of chosen) {
    const position = await framePosition(site.frame);
    const heaviest = [...site.paths.values()].sort((a, b) =>
      b.bytes - a.bytes
    )[0]!;
    rows.push({
      function: functionLabel(site),
      file: position.file,
      line: position.line,
      column: position.column,
      mapped: position.mapped,
      origin: site.origin,
      path: await formatPath(heaviest.frames),
      paths: site.paths.size,
      bytes: site.bytes,
      samples: site.samples,
      share: total > 0 ? site.bytes / total : 0,
    });
  }
  return { sites: rows, total, hidden };
}

function classify(
  call: ProfileCallFrame,
  scriptUrls: ReadonlyMap<string, string>,
): Frame {
  let url = call.url;
  if (url === "" && call.scriptId !== undefined && call.scriptId !== "0") {
    url = scriptUrls.get(call.scriptId) ?? "";
  }
  const kind: FrameKind = SNIPPET_URL.test(url)
    ? "snippet"
    : url === ""
    ? "native"
    : !isDeveloperCode(url)
    ? "library"
    : isConsoleCode(url)
    ? "console"
    : "developer";
  return { call, url, kind };
}

/**
 * `site › callee`: the site's function, then what it called that allocated
 * most (up to two, heaviest first; the site itself when it allocated most).
 */
function functionLabel(site: Site): string {
  const name = site.frame.call.functionName || "(anonymous)";
  const callees = [...site.callees].sort((a, b) => b[1] - a[1]);
  if (callees.length === 0 || callees[0]![0] === "") return name;
  const others = callees.map(([callee]) => callee).filter((c) => c !== "");
  const more = others.length - 2;
  return `${name} › ${others.slice(0, 2).join(", ")}${
    more > 0 ? ` (+${more})` : ""
  }`;
}

/** A callee's name, with its npm package when it has one. */
function calleeLabel(frame: Frame): string {
  const name = frame.call.functionName || "(anonymous)";
  const match = frame.kind === "library" ? PACKAGE.exec(frame.url) : null;
  const pkg = match ? match[1] ?? match[2] : undefined;
  return `${name}${pkg ? ` (${pkg})` : ""}`;
}

interface Position {
  file: string;
  line: number;
  column: number;
  mapped: boolean;
}

async function framePosition(frame: Frame): Promise<Position> {
  const { lineNumber, columnNumber } = frame.call;
  if (frame.kind === "native") {
    return { file: "", line: 0, column: 0, mapped: false };
  }
  const snippet = SNIPPET_URL.exec(frame.url);
  if (snippet) {
    // The evaluator's module loads only if a session ran a snippet.
    const { findCompiledSnippet } = await import("../eval/snippet_compiler.ts");
    const compiled = findCompiledSnippet(Number(snippet[1]));
    const at = compiled?.mapLocation(lineNumber + 1, columnNumber + 1) ??
      { line: lineNumber + 1, column: columnNumber + 1 };
    return {
      file: `console:${snippet[1]}`,
      line: at.line,
      column: at.column,
      mapped: compiled !== undefined,
    };
  }
  return await sourcePosition(frame.url, lineNumber, columnNumber);
}

async function formatPath(frames: readonly Frame[]): Promise<string> {
  const collapsed: Frame[] = [];
  for (const frame of frames) {
    const previous = collapsed.at(-1);
    // Recursion shows once.
    if (
      previous?.url === frame.url &&
      previous.call.lineNumber === frame.call.lineNumber &&
      previous.call.columnNumber === frame.call.columnNumber
    ) continue;
    collapsed.push(frame);
  }
  const shown = collapsed.slice(-PATH_FRAMES);
  const parts: string[] = [];
  for (const frame of shown) {
    const position = await framePosition(frame);
    const base = position.file.slice(position.file.lastIndexOf("/") + 1);
    parts.push(`${base}:${position.line}`);
  }
  return (collapsed.length > shown.length ? "… › " : "") + parts.join(" › ");
}

/**
 * Maps a position of the code V8 runs to the developer's `.ts` file and
 * line (through `source_positions.ts`, loaded with the first position asked
 * for, not with the leak alarm that imports this module at start-up).
 *
 * @param url Script URL.
 * @param line0 0-based line in the emitted code.
 * @param column0 0-based column.
 * @returns The file (relative to the working directory when inside it), 1-based line and column, and whether a map was applied.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sourcePosition } from "./leak_attribution.ts";
 * assert.deepEqual(await sourcePosition("ext:core/01_core.js", 4, 0), {
 *   file: "ext:core/01_core.js",
 *   line: 5,
 *   column: 1,
 *   mapped: false,
 * });
 * ```
 */
export async function sourcePosition(
  url: string,
  line0: number,
  column0: number,
): Promise<Position> {
  const { mapToSource } = await import("./source_positions.ts");
  const { file, line, column, mapped } = await mapToSource(url, line0, column0);
  return { file, line, column, mapped };
}

/**
 * Where a site is, as printed: `file:line`, `(native)`, or the console
 * snippet (`console:7:2 (console session)`).
 *
 * @param site The site.
 * @returns The place.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatPlace } from "./leak_attribution.ts";
 * assert.equal(formatPlace({ file: "lib/a.ts", line: 3, origin: "service" }), "lib/a.ts:3");
 * assert.equal(
 *   formatPlace({ file: "console:7", line: 1, origin: "console session" }),
 *   "console:7:1 (console session)",
 * );
 * ```
 */
export function formatPlace(
  site: Pick<AllocationSite, "file" | "line" | "origin">,
): string {
  if (site.file === "") return "(native)";
  const where = `${site.file}:${site.line}`;
  return site.origin === "console session"
    ? `${where} (console session)`
    : where;
}

/**
 * One site as a log or table line.
 *
 * @param site The site.
 * @returns e.g. `1.20 MiB 45% append lib/history.ts:17 via app.ts:81 › history.ts:17`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatSite } from "./leak_attribution.ts";
 * assert.equal(
 *   formatSite({
 *     function: "f", file: "lib/a.ts", line: 3, column: 1, mapped: true,
 *     origin: "service", path: "b.ts:9 › a.ts:3", paths: 1,
 *     bytes: 2048, samples: 4, share: 0.5,
 *   }),
 *   "2.00 KiB 50% f lib/a.ts:3 (via b.ts:9 › a.ts:3)",
 * );
 * ```
 */
export function formatSite(site: AllocationSite): string {
  const via = site.path.includes(" › ") ? ` (via ${site.path})` : "";
  return `${formatBytes(site.bytes)} ${
    Math.round(site.share * 100)
  }% ${site.function} ${formatPlace(site)}${via}`;
}
