// deno-lint-ignore-file no-explicit-any
/**
 * The attach session's helper inside the target process: one object,
 * installed by evaluating {@linkcode agentExpression} through the
 * inspector, that renders values with the target's own inspector
 * (`Deno.inspect` in Deno, `util.inspect` in Node) within the bounds the
 * client asks for, converts them to JSON with the console's own
 * `toJsonText`, describes thrown values, lists property names for
 * completion, tells whether a snippet is on the stack (for Ctrl-C), and
 * gives the session its `_`, `_error`, `inspect()` and `help()` as global
 * properties it removes again at detach.
 *
 * `installAgent` runs in the target, never here: its source is sent as
 * text, so it uses nothing from this module.
 *
 * @module
 */

import type { InspectLimits } from "../eval/inspection.ts";
import { readLimits } from "../eval/session_helpers.ts";
import { toJsonText } from "../eval/json_value.ts";

/** A text rendered in the target, cut to a size for the wire. */
export interface MeasuredText {
  /** The text, or its first `capChars` characters. */
  text: string;
  /** The whole text's length. */
  length: number;
  /** The whole text's line count. */
  lines: number;
}

/** How the target should render a value. */
export interface PresentSpec {
  /** The result's bounds (an `inspect()` wrapper brings its own). */
  limits: InspectLimits;
  /** ANSI colours. */
  colors: boolean;
  /** The client's size limit on a rendering or JSON text. */
  maxChars: number;
  /** The most characters of one text sent over the wire. */
  capChars: number;
  /** Also convert the value to JSON text. */
  json: boolean;
}

/** A value as the target rendered it. */
export interface Presented {
  /** A `help()` text or the like: shown as it is. */
  plain?: MeasuredText;
  /** The bounds it is shown with (`Infinity` travels as a string). */
  limits: Record<keyof InspectLimits, number | string>;
  /** Renderings by depth: the bounds' depth, then shallower ones until one fits. */
  renders: Record<string, MeasuredText>;
  /** The JSON text, or why there is none. */
  json?: { text: string } | { error: { name: string; message: string } };
}

/** A thrown value as the target described it. */
export interface Described {
  /** Its name (`TypeError`), or `typeof` for a non-Error. */
  name: string;
  /** Its message, or the value inspected. */
  message: MeasuredText;
  /** Its stack; empty for a non-Error. */
  stack: MeasuredText;
  /** `Uncaught ` and the value inspected. */
  text: MeasuredText;
}

/** What the agent says about the target when installed. */
export interface AgentInfo {
  /** The target's runtime. */
  runtime: "deno" | "node";
  /** Its version, e.g. `2.9.6` or `v20.20.2`. */
  version: string;
  /** Its pid, as it sees itself. */
  pid: number;
  /** The session names installed as global properties. */
  installed: string[];
  /** The session names left out because the target already has them. */
  skipped: string[];
}

/** What the agent is installed with. */
export interface AgentConfig {
  /** `inspect()`'s default bounds. */
  inspectLimits: InspectLimits;
  /** What `help()` shows. */
  help: string;
  /** The source URL snippets are evaluated under (`<console>`). */
  snippetUrl: string;
}

/** The source URL the agent's own code runs under. */
export const AGENT_URL = "leakwatch-attach-agent";

/**
 * The expression for the agent's factory: evaluate it, then call what it
 * gives with Node's `require` (from the inspector's command line API, for
 * Node before 20.16; `undefined` elsewhere) and keep the object returned.
 * The factory is evaluated without the command line API, whose names
 * (`inspect`, `$_`, ...) would otherwise look like the target's own.
 *
 * @param config The bounds, the help text, the snippets' source URL.
 * @returns JavaScript source.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { agentExpression } from "./target_agent.ts";
 * const source = agentExpression({
 *   inspectLimits: { depth: 4, entries: 100, lines: Infinity },
 *   help: "helpers",
 *   snippetUrl: "<console>",
 * });
 * // Installed here, on this process, as the inspector would in a target.
 * const agent = (0, eval)(source)(undefined);
 * assert.equal(agent.info().runtime, "deno");
 * const shown = agent.present(new Map([["a", 1]]), {
 *   limits: { depth: 2, entries: 20, lines: 40 },
 *   colors: false, maxChars: 1000, capChars: 1000, json: true,
 * });
 * assert.equal(shown.renders["2"].text, 'Map(1) { "a" => 1 }');
 * assert.deepEqual(shown.json, { text: '{"a":1}' });
 * agent.remove();
 * ```
 */
export function agentExpression(config: AgentConfig): string {
  const limits = (l: InspectLimits) =>
    `{ depth: ${number(l.depth)}, entries: ${number(l.entries)}, lines: ${
      number(l.lines)
    } }`;
  const configSource = `{ inspectLimits: ${limits(config.inspectLimits)}, ` +
    `help: ${JSON.stringify(config.help)}, snippetUrl: ${
      JSON.stringify(config.snippetUrl)
    } }`;
  return `((nodeRequire) => (${installAgent})(${configSource}, ${readLimits}, ` +
    `${toJsonText}, nodeRequire))\n//# sourceURL=${AGENT_URL}`;
}

function number(value: number): string {
  return Number.isFinite(value)
    ? String(value)
    : value > 0
    ? "Infinity"
    : "-Infinity";
}

/**
 * The agent. Runs in the target: nothing outside this function may be
 * named in it.
 */
function installAgent(
  config: AgentConfig,
  readLimits: (options: unknown, base: InspectLimits) => InspectLimits,
  toJsonText: (value: unknown, options: { maxChars?: number }) => string,
  nodeRequire: ((name: string) => any) | undefined,
) {
  const g = globalThis as any;
  const deno = typeof g.Deno?.inspect === "function" ? g.Deno : undefined;
  const util = deno === undefined
    ? g.process?.getBuiltinModule?.("node:util") ?? nodeRequire?.("util")
    : undefined;
  if (deno === undefined && typeof util?.inspect !== "function") {
    throw new Error(
      "Neither Deno.inspect nor node:util's inspect is reachable",
    );
  }
  const customKeys = [
    Symbol.for("Deno.customInspect"),
    Symbol.for("nodejs.util.inspect.custom"),
  ];
  const inspections = new WeakMap<
    object,
    { value: unknown; limits: InspectLimits }
  >();
  const plainTexts = new WeakMap<object, string>();

  type ShowOptions = {
    depth: number;
    entries: number;
    colors: boolean;
    strLimit: number;
  };
  const show = (value: unknown, o: ShowOptions): string => {
    try {
      return deno !== undefined
        ? deno.inspect(value, {
          depth: o.depth,
          iterableLimit: o.entries,
          colors: o.colors,
          strAbbreviateSize: o.strLimit,
        })
        : util.inspect(value, {
          depth: o.depth,
          maxArrayLength: o.entries,
          colors: o.colors,
          maxStringLength: o.strLimit,
        });
    } catch (error) {
      let why = "";
      try {
        why = error instanceof Error ? error.message : String(error);
      } catch {
        why = "unknown error";
      }
      return `[value could not be inspected: ${why}]`;
    }
  };
  const lineCount = (text: string): number => {
    let count = 1;
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) {
      count++;
    }
    return count;
  };
  const measure = (text: string, capChars: number) => ({
    text: text.length > capChars ? text.slice(0, capChars) : text,
    length: text.length,
    lines: lineCount(text),
  });
  const brand = (object: object, render: (colors: boolean) => string) => {
    for (const key of customKeys) {
      Object.defineProperty(object, key, {
        value: (...args: any[]) => {
          // Deno passes (inspect, options); Node (depth, options, inspect).
          const options = args.find((arg) =>
            typeof arg === "object" && arg !== null
          );
          return render(options?.colors === true);
        },
      });
    }
  };
  const isObject = (value: unknown): value is object =>
    (typeof value === "object" && value !== null) ||
    typeof value === "function";

  function inspect(value: unknown, options: unknown = {}): object {
    const inner = isObject(value) ? inspections.get(value) : undefined;
    const limits = readLimits(options, inner?.limits ?? config.inspectLimits);
    const shown = inner === undefined ? value : inner.value;
    const wrapper = Object.create(null);
    brand(wrapper, (colors) =>
      show(shown, {
        depth: limits.depth,
        entries: limits.entries,
        colors,
        strLimit: Infinity,
      }));
    inspections.set(wrapper, { value: shown, limits });
    return wrapper;
  }
  function help(): string {
    const boxed = new String(config.help);
    brand(boxed, () => config.help);
    plainTexts.set(boxed, config.help);
    return boxed as unknown as string;
  }
  brand(help, () => "help() lists what this session adds to the target");

  const installed: string[] = [];
  const skipped: string[] = [];
  const values: Record<string, unknown> = {
    inspect,
    help,
    _: undefined,
    _error: undefined,
  };
  for (const [name, value] of Object.entries(values)) {
    if (name in g) {
      skipped.push(name);
      continue;
    }
    Object.defineProperty(g, name, {
      value,
      writable: true,
      configurable: true,
      enumerable: false,
    });
    installed.push(name);
  }
  const setGlobal = (name: string, value: unknown) => {
    if (installed.includes(name)) g[name] = value;
  };
  const safeText = (read: () => unknown, fallback: string): string => {
    try {
      const value = read();
      return value === undefined ? fallback : String(value);
    } catch {
      return fallback;
    }
  };
  const isError = (value: unknown): value is Error => {
    if ((Error as any).isError?.(value) === true) return true;
    try {
      return value instanceof Error;
    } catch {
      return false;
    }
  };
  const NAME_LIMIT = 10_000;
  // JSON (returnByValue) has no Infinity: it travels as a string.
  const encodeLimits = (limits: InspectLimits) => ({
    depth: Number.isFinite(limits.depth) ? limits.depth : String(limits.depth),
    entries: Number.isFinite(limits.entries)
      ? limits.entries
      : String(limits.entries),
    lines: Number.isFinite(limits.lines) ? limits.lines : String(limits.lines),
  });

  return {
    info(): AgentInfo {
      return {
        runtime: deno !== undefined ? "deno" : "node",
        version: deno !== undefined
          ? String(deno.version?.deno)
          : String(g.process?.version),
        pid: deno !== undefined ? deno.pid : g.process?.pid,
        installed,
        skipped,
      };
    },
    settle(value: unknown) {
      setGlobal("_", value);
    },
    fail(error: unknown) {
      setGlobal("_error", error);
    },
    present(value: unknown, spec: PresentSpec): Presented {
      const plain = isObject(value) ? plainTexts.get(value) : undefined;
      if (plain !== undefined) {
        return {
          plain: measure(plain, spec.capChars),
          limits: spec.limits,
          renders: {},
        };
      }
      const inspection = isObject(value) ? inspections.get(value) : undefined;
      const limits = inspection?.limits ?? spec.limits;
      const shown = inspection === undefined ? value : inspection.value;
      const options = (depth: number) => ({
        depth,
        entries: limits.entries,
        colors: spec.colors,
        // A string result is cut by the client's limit alone.
        strLimit: typeof shown === "string" ? Infinity : spec.maxChars,
      });
      const renders: Record<string, ReturnType<typeof measure>> = {};
      const first = show(shown, options(limits.depth));
      renders[String(limits.depth)] = measure(first, spec.capChars);
      if (lineCount(first) > limits.lines) {
        // Shallower renderings, as the client's fitting asks for them.
        for (let depth = Math.min(limits.depth - 1, 8); depth >= 0; depth--) {
          const text = show(shown, options(depth));
          renders[String(depth)] = measure(text, spec.capChars);
          if (lineCount(text) <= limits.lines) break;
        }
      }
      let json;
      if (spec.json) {
        try {
          json = { text: toJsonText(shown, { maxChars: spec.maxChars }) };
        } catch (error) {
          json = {
            error: {
              name: safeText(() => (error as Error).name, "Error"),
              message: safeText(() => (error as Error).message, ""),
            },
          };
        }
      }
      return { limits: encodeLimits(limits), renders, json };
    },
    describe(thrown: unknown, spec: PresentSpec): Described {
      const cap = (text: string) => measure(text, spec.capChars);
      const full = { depth: 4, entries: 100, strLimit: spec.maxChars };
      try {
        if (isError(thrown)) {
          const name = safeText(() => thrown.name, "Error");
          const message = safeText(() => thrown.message, "");
          const stack = safeText(() => thrown.stack, "") ||
            (message ? `${name}: ${message}` : name);
          return {
            name,
            message: cap(message),
            stack: cap(stack),
            text: cap(
              `Uncaught ${show(thrown, { ...full, colors: spec.colors })}`,
            ),
          };
        }
        return {
          name: thrown === null ? "null" : typeof thrown,
          message: cap(show(thrown, { ...full, colors: false })),
          stack: cap(""),
          text: cap(
            `Uncaught ${show(thrown, { ...full, colors: spec.colors })}`,
          ),
        };
      } catch {
        const note = "[thrown value could not be described]";
        return {
          name: "Error",
          message: cap(note),
          stack: cap(""),
          text: cap(`Uncaught ${note}`),
        };
      }
    },
    /** Renders console arguments that are objects; `null` for primitives. */
    formatArgs(
      spec: PresentSpec,
      ...args: unknown[]
    ): Array<MeasuredText | null> {
      return args.map((arg) =>
        isObject(arg) || typeof arg === "symbol"
          ? measure(
            show(arg, {
              depth: 4,
              entries: 100,
              colors: spec.colors,
              strLimit: spec.maxChars,
            }),
            spec.capChars,
          )
          : null
      );
    },
    /** Property names along the prototype chain, for completion. */
    names(value: unknown): string[] {
      const names = new Set<string>();
      try {
        let object: object | null = Object(value);
        for (let depth = 0; object !== null && depth < 64; depth++) {
          for (const name of Object.getOwnPropertyNames(object)) {
            names.add(name);
            if (names.size >= NAME_LIMIT) return [...names];
          }
          object = Object.getPrototypeOf(object);
        }
      } catch {
        // A proxy whose traps throw: what was read so far.
      }
      return [...names];
    },
    /** Whether a snippet's code is on the stack now (a synchronous loop). */
    snippetRunning(): boolean {
      const E = Error as any;
      const prepare = E.prepareStackTrace;
      const limit = E.stackTraceLimit;
      try {
        E.stackTraceLimit = Infinity;
        E.prepareStackTrace = (_error: unknown, sites: any[]) =>
          sites.some((site) =>
            site.getScriptNameOrSourceURL?.() === config.snippetUrl
          );
        const holder: { stack?: unknown } = {};
        E.captureStackTrace(holder);
        return holder.stack === true;
      } finally {
        E.prepareStackTrace = prepare;
        E.stackTraceLimit = limit;
      }
    },
    /** Removes the session's global properties; returns their names. */
    remove(): string[] {
      const removed: string[] = [];
      for (const name of installed) {
        const descriptor = Object.getOwnPropertyDescriptor(g, name);
        if (descriptor?.configurable) {
          delete g[name];
          removed.push(name);
        }
      }
      installed.length = 0;
      return removed;
    },
  };
}

/** The agent's methods, as the session calls them. */
export type Agent = ReturnType<typeof installAgent>;
