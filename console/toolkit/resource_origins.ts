/**
 * Where leaking handles are opened: for a while, the `Deno.*` functions
 * that open resources (`Deno.open`, `Deno.openSync`, `Deno.connect`...)
 * record the stack of each call; at the end, the resources that are still
 * open are counted by the innermost frame of the developer's code that
 * opened them. A leaked file handle keeps no JavaScript object alive (the
 * developer dropped it), so neither a heap snapshot nor allocation sampling
 * can point at it: only the call that opened it can.
 *
 * The wrappers replace the properties of the `Deno` namespace and call the
 * originals; code that kept its own reference (`const { openSync } =
 * Deno`) is not seen, nor `node:fs`, whose descriptors are not Deno
 * resources. Positions come from `Error` stacks, which Deno maps to the
 * `.ts` source: they are the lines of the calls.
 *
 * @module
 */

import { isConsoleCode, isDeveloperCode } from "./console_code.ts";
import { displayPath } from "./source_positions.ts";

/** The `Deno` functions that return an object owning a resource. */
const OPENERS = [
  "open",
  "openSync",
  "create",
  "createSync",
  "connect",
  "connectTls",
  "startTls",
  "listen",
  "listenTls",
  "listenDatagram",
  "watchFs",
  "createHttpClient",
] as const;

/** Developer frames kept in a path (the innermost ones). */
const PATH_FRAMES = 4;
const STACK_DEPTH = 40;

/** One place that opened resources still open at the end. */
export interface ResourceOrigin {
  /** The innermost developer function, `(anonymous)` without a name. */
  function: string;
  /** Its file, relative to the working directory; `console:N` for a console snippet. */
  file: string;
  /** 1-based line of the call. */
  line: number;
  /** Whose code: the service's, a console session's, or the console's own. */
  origin: "service" | "console session" | "console";
  /** The `Deno` function it called (`Deno.openSync`). */
  opener: string;
  /** The resource types it opened that are still open (`fsFile`). */
  types: string[];
  /** Resources it opened during the trace that are still open. */
  open: number;
  /** Resources it opened during the trace. */
  opened: number;
  /** The developer frames that led there, outermost first. */
  path: string;
}

interface Frame {
  function: string;
  file: string;
  line: number;
  /** For a snippet frame, the column to map (0 once mapped). */
  column: number;
  origin: "service" | "console session" | "console";
}

interface Call {
  opener: string;
  frames: Frame[];
  rid: number | undefined;
}

/** A running trace; {@linkcode traceResourceOrigins} starts it. */
export interface ResourceTrace {
  /**
   * Restores the `Deno` functions and counts, by opening site, the
   * resources opened meanwhile that are still open.
   *
   * @param n Sites to return.
   * @returns The sites, most still-open resources first.
   */
  finish(n: number): Promise<ResourceOrigin[]>;
}

type Core = {
  resources(): Record<string, string>;
  internalRidSymbol: symbol;
};

function core(): Core | undefined {
  const symbol = Object.getOwnPropertySymbols(Deno).find((s) =>
    s.description === "Deno.internal"
  );
  const internal = symbol === undefined
    ? undefined
    : (Deno as unknown as Record<symbol, { core?: Core }>)[symbol];
  return internal?.core?.internalRidSymbol ? internal.core : undefined;
}

/**
 * Starts recording where resources are opened.
 *
 * @returns The trace; call `finish()` to end it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { traceResourceOrigins } from "./resource_origins.ts";
 * const trace = traceResourceOrigins();
 * function openForever() {
 *   return Deno.openSync(new URL(import.meta.url));
 * }
 * const kept = [openForever(), openForever()];
 * Deno.openSync(new URL(import.meta.url)).close();
 * const [site] = await trace.finish(5);
 * kept.forEach((file) => file.close());
 * assert.equal(site?.function, "openForever");
 * assert.equal(site?.open, 2);
 * assert.equal(site?.opener, "Deno.openSync");
 * ```
 */
export function traceResourceOrigins(): ResourceTrace {
  const internals = core();
  const calls: Call[] = [];
  const deno = Deno as unknown as Record<string, unknown>;
  const originals = new Map<string, unknown>();
  let tracing = true;
  const record = (opener: string, value: unknown) => {
    if (!tracing || typeof value !== "object" || value === null) return;
    const rid = internals === undefined
      ? undefined
      : (value as Record<symbol, unknown>)[internals.internalRidSymbol];
    calls.push({
      opener: `Deno.${opener}`,
      frames: developerFrames(callerStack()),
      rid: typeof rid === "number" ? rid : undefined,
    });
  };
  for (const name of OPENERS) {
    const original = deno[name];
    if (typeof original !== "function") continue;
    originals.set(name, original);
    const wrapped = function (this: unknown, ...args: unknown[]) {
      const result = (original as (...a: unknown[]) => unknown).apply(
        this,
        args,
      );
      if (result instanceof Promise) {
        return result.then((value) => {
          record(name, value);
          return value;
        });
      }
      record(name, result);
      return result;
    };
    Object.defineProperty(wrapped, "name", { value: name });
    wrappers.add(wrapped);
    deno[name] = wrapped;
  }
  return {
    async finish(n) {
      tracing = false;
      for (const [name, original] of originals) {
        // Someone else may have wrapped it since: then ours stays, inert.
        if (wrappers.has(deno[name] as object)) deno[name] = original;
      }
      const table = internals?.resources() ?? {};
      await mapSnippetLines(calls);
      return rankOrigins(calls, table, n);
    },
  };
}

/** The wrappers this module installed, so `finish()` restores only its own. */
const wrappers = new WeakSet<object>();

function rankOrigins(
  calls: readonly Call[],
  table: Record<string, string>,
  n: number,
): ResourceOrigin[] {
  const sites = new Map<
    string,
    ResourceOrigin & { paths: Map<string, number> }
  >();
  for (const call of calls) {
    const innermost = call.frames.at(-1);
    if (innermost === undefined) continue;
    const key = `${innermost.file}:${innermost.line}\0${call.opener}`;
    let site = sites.get(key);
    if (site === undefined) {
      site = {
        function: innermost.function,
        file: innermost.file,
        line: innermost.line,
        origin: innermost.origin,
        opener: call.opener,
        types: [],
        open: 0,
        opened: 0,
        path: "",
        paths: new Map(),
      };
      sites.set(key, site);
    }
    site.opened++;
    const type = call.rid === undefined ? undefined : table[call.rid];
    if (type === undefined) continue;
    site.open++;
    if (!site.types.includes(type)) site.types.push(type);
    const path = formatPath(call.frames);
    site.paths.set(path, (site.paths.get(path) ?? 0) + 1);
  }
  return [...sites.values()]
    .filter((site) => site.open > 0)
    .sort((a, b) => b.open - a.open)
    .slice(0, n)
    .map(({ paths, ...site }) => ({
      ...site,
      path: [...paths].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "",
    }));
}

/**
 * Console snippet lines as the operator typed them (a stack gives lines of
 * the compiled function); the evaluator is loaded only if a snippet opened
 * something.
 */
async function mapSnippetLines(calls: readonly Call[]): Promise<void> {
  const snippets = calls.flatMap((c) => c.frames).filter((f) =>
    f.origin === "console session"
  );
  if (snippets.length === 0) return;
  const { findCompiledSnippet } = await import("../eval/snippet_compiler.ts");
  for (const frame of snippets) {
    if (frame.column === 0) continue;
    const compiled = findCompiledSnippet(Number(frame.file.slice(8)));
    const at = compiled?.mapLocation(frame.line, frame.column);
    if (at) frame.line = at.line;
    frame.column = 0;
  }
}

function callerStack(): string {
  const limit = Error.stackTraceLimit;
  try {
    Error.stackTraceLimit = STACK_DEPTH;
    return new Error().stack ?? "";
  } finally {
    Error.stackTraceLimit = limit;
  }
}

const FRAME = /^\s*at (?:async )?(?:(.*?) \()?(.*?):(\d+):(\d+)\)?$/;
const SNIPPET = /^<console:(\d+)>, <anonymous>$/;

/**
 * The developer's frames of a stack, outermost first; the console's own
 * frames when there is no other (what the console itself opened).
 */
function developerFrames(stack: string): Frame[] {
  const frames: Frame[] = [];
  const consoleFrames: Frame[] = [];
  for (const line of stack.split("\n").slice(1)) {
    const match = FRAME.exec(line);
    if (!match) continue;
    const [, name, url, row, column] = match as unknown as string[];
    const snippet = SNIPPET.exec(url!);
    if (snippet) {
      frames.push({
        function: anonymousIfEval(name),
        file: `console:${snippet[1]}`,
        line: Number(row),
        column: Number(column),
        origin: "console session",
      });
      continue;
    }
    // The tracer's own frames (the wrapper, the stack capture) are no one's.
    if (!isDeveloperCode(url!) || url === import.meta.url) continue;
    const own = isConsoleCode(url!);
    (own ? consoleFrames : frames).push({
      // A call through a module namespace reads `Module.render`.
      function: name?.replace(/^Module\./, "") || "(anonymous)",
      file: displayPath(url!),
      line: Number(row),
      column: 0,
      origin: own ? "console" : "service",
    });
  }
  return (frames.length > 0 ? frames : consoleFrames).reverse();
}

function anonymousIfEval(name: string | undefined): string {
  if (!name || /^(?:[\w$]+\.)?eval$/.test(name)) return "(anonymous)";
  return name;
}

function formatPath(frames: readonly Frame[]): string {
  const shown = frames.slice(-PATH_FRAMES);
  return (frames.length > shown.length ? "… › " : "") +
    shown.map((f) => `${f.file.slice(f.file.lastIndexOf("/") + 1)}:${f.line}`)
      .join(" › ");
}
