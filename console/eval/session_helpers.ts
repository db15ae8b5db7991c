/**
 * The bindings every console session has besides the namespace and the
 * toolkit: `inspect` (see more of a value), one-line answers for habits from
 * Python's REPL (`dir`, `len`, `exit`, `quit`, `.help`), `help()` listing
 * what is in scope, and `process` / `Deno` whose `exit` refuses to stop the
 * whole service.
 *
 * @module
 */

import {
  INSPECT_LIMITS,
  type InspectLimits,
  inspectWith,
  plainText,
  readInspection,
} from "./inspection.ts";

/** What {@linkcode createSessionHelpers} needs to know about the session. */
export interface SessionHelperContext {
  /** The namespace, whose members `help()` lists. */
  namespace: Record<string, unknown>;
  /** The session-only bindings (the toolkit); a `help` among them is called first. */
  scope: Record<string, unknown>;
}

const LEAVE = ".exit or Ctrl-D leaves the console (the service keeps running)";
const CUSTOM_INSPECT = Symbol.for("Deno.customInspect");

/**
 * Lines describing the session's own helpers in `help()`.
 */
const OWN_HELP: Array<[string, string]> = [
  [
    "inspect(v, { depth, entries, lines })",
    "show more of a value than a result shows (default 4, 100, all)",
  ],
  ["_  _error", "the last value, the last error"],
  [".exit  Ctrl-D", "leave the console; the service keeps running"],
];

/**
 * Creates the session's own bindings. Each Python habit answers in one line
 * with the JavaScript way, both when called (`dir(main)`) and when typed
 * bare (`exit`). `process.exit()`, `process.abort()`, `process.reallyExit()`
 * and `Deno.exit()` throw an Error saying why; everything else on `process`
 * and `Deno` is the real thing. (A snippet can still reach the real
 * functions through `globalThis`: this guards against a habit, the console
 * is not a sandbox.)
 *
 * @example
 * ```ts
 * import { createSessionHelpers } from "./session_helpers.ts";
 * import assert from "node:assert/strict";
 *
 * const helpers = createSessionHelpers({ namespace: { cache: new Map([["a", 1]]) }, scope: {} });
 * const len = helpers.len as (value: unknown) => unknown;
 * assert.equal(
 *   `${len(new Map([["a", 1]]))}`,
 *   "len() is Python: in JavaScript a Map has .size (here 1), e.g. cache.size",
 * );
 * assert.throws(() => (helpers.Deno as typeof Deno).exit(0), /would stop the whole service/);
 * assert.match(`${(helpers.help as () => string)()}`, /cache +Map\(1\)/);
 * ```
 *
 * @param context The namespace and the session's other bindings.
 * @returns The bindings, by name.
 */
export function createSessionHelpers(
  context: SessionHelperContext,
): Record<string, unknown> {
  const leave = () => plainText(LEAVE);
  return {
    inspect,
    dir: hinted(function dir(...args: unknown[]) {
      return plainText(dirHint(args));
    }, dirHint([])),
    len: hinted(function len(...args: unknown[]) {
      return plainText(lenHint(args));
    }, lenHint([])),
    exit: hinted(function exit() {
      return leave();
    }, LEAVE),
    quit: hinted(function quit() {
      return leave();
    }, LEAVE),
    help: hinted(function help() {
      return plainText(helpText(context));
    }, "help() lists what is in scope, one line each"),
    process: refusingExit(globalThis.process, "process", [
      "exit",
      "abort",
      "reallyExit",
    ]),
    Deno: refusingExit(Deno, "Deno", ["exit"]),
  };
}

/**
 * Answers a line that starts with a dot, like `.help` in Node's or Python's
 * habits, with one line; `undefined` for anything else.
 *
 * @example
 * ```ts
 * import { dotCommand } from "./session_helpers.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(dotCommand(".help") ?? "", /^help\(\) lists/);
 * assert.equal(dotCommand("cache.size"), undefined);
 * ```
 *
 * @param code The snippet.
 * @returns The answer, or `undefined` when `code` is not a dot command.
 */
export function dotCommand(code: string): string | undefined {
  // A dot command is a word: a long snippet need not be searched for one.
  if (code.length > 256) return undefined;
  const match = /^\s*\.([A-Za-z]+)\s*$/.exec(code);
  if (match === null) return undefined;
  switch (match[1]) {
    case "help":
      return `help() lists what is in scope; ${LEAVE}`;
    case "exit":
      return `To leave, type .exit on a line of its own or press Ctrl-D (the service keeps running)`;
    default:
      return `.${
        match[1]
      } is not a console command: .help and .exit are; everything else is JavaScript or TypeScript`;
  }
}

/**
 * Shows more of a value than a result shows by default.
 *
 * @param value The value (`_` for the last one).
 * @param options Levels of nesting, entries per collection, lines.
 * @returns The value wrapped with those limits.
 */
function inspect(value: unknown, options: unknown = {}): object {
  // Inspecting an inspection (`inspect(_, { lines: Infinity })`) keeps the
  // limits it was not given.
  const base = readInspection(value)?.limits ?? INSPECT_LIMITS;
  return inspectWith(value, readLimits(options, base));
}

/**
 * Reads `inspect()`'s second argument: `{ depth, entries, lines }`, each a
 * whole number (depth ≥ 0, the others ≥ 1) or `Infinity`; what is not given
 * keeps `base`. Self-contained (no module-level names): `attach` runs its
 * source in the target process for the same `inspect()` there.
 *
 * @param options What the caller passed.
 * @param base The limits it starts from.
 * @returns The limits.
 * @throws {TypeError} When `options` is not an object.
 * @throws {RangeError} When a limit is not a valid number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readLimits } from "./session_helpers.ts";
 * const base = { depth: 4, entries: 100, lines: Infinity };
 * assert.deepEqual(readLimits({ depth: 1 }, base), { ...base, depth: 1 });
 * assert.throws(() => readLimits({ lines: 0 }, base), RangeError);
 * ```
 */
export function readLimits(
  options: unknown,
  base: InspectLimits,
): InspectLimits {
  if (options === null || typeof options !== "object") {
    throw new TypeError(
      `inspect() takes { depth, entries, lines } as its second argument, got ${
        options === null ? "null" : typeof options
      }`,
    );
  }
  const given = options as Record<string, unknown>;
  const limits = { ...base };
  for (const key of ["depth", "entries", "lines"] as const) {
    const value = given[key];
    if (value === undefined) continue;
    if (
      typeof value !== "number" || Number.isNaN(value) ||
      value < (key === "depth" ? 0 : 1) ||
      (!Number.isInteger(value) && value !== Infinity)
    ) {
      throw new RangeError(
        `inspect() takes ${key} as ${
          key === "depth" ? "a whole number ≥ 0" : "a whole number ≥ 1"
        } or Infinity, got ${
          typeof value === "string" ? `"${value}"` : String(value)
        }`,
      );
    }
    limits[key] = value;
  }
  return limits;
}

function dirHint(args: unknown[]): string {
  if (args.length === 0) {
    return "dir() is Python: in JavaScript, Object.keys(main) lists the namespace and help() everything in scope";
  }
  const keys = safe(() => Object.keys(Object(args[0])), undefined);
  const sample = keys === undefined
    ? ""
    : ` (here ${keys.length}: ${keys.slice(0, 5).join(", ")}${
      keys.length > 5 ? ", …" : ""
    })`;
  return `dir() is Python: in JavaScript, Object.keys(value) lists its own keys${sample}`;
}

function lenHint(args: unknown[]): string {
  const base = "len() is Python: in JavaScript";
  if (args.length === 0) {
    return `${base} a Map or Set has .size (cache.size), an array or string .length`;
  }
  const value = args[0];
  return safe(() => {
    if (value instanceof Map) {
      return `${base} a Map has .size (here ${value.size}), e.g. cache.size`;
    }
    if (value instanceof Set) {
      return `${base} a Set has .size (here ${value.size})`;
    }
    if (typeof value === "string" || Array.isArray(value)) {
      return `${base} ${
        typeof value === "string" ? "a string" : "an array"
      } has .length (here ${value.length})`;
    }
    if (value !== null && typeof value === "object") {
      return `${base} Object.keys(value).length counts its own keys (here ${
        Object.keys(value).length
      })`;
    }
    return `${base} a Map or Set has .size, an array or string .length`;
  }, `${base} a Map or Set has .size, an array or string .length`);
}

/** Makes a function typed bare (`exit`) show `hint` instead of `[Function]`. */
function hinted<F extends (...args: never[]) => unknown>(
  fn: F,
  hint: string,
): F {
  Object.defineProperty(fn, CUSTOM_INSPECT, { value: () => hint });
  return fn;
}

function refusingExit<T extends object>(
  real: T,
  name: string,
  refused: string[],
): T {
  const refusals = new Map(refused.map((method) => [method, () => {
    throw new Error(
      `${name}.${method}() would stop the whole service (HTTP and every console session), not this session: ${LEAVE}; stop the service with SIGTERM or Ctrl-C where it runs`,
    );
  }]));
  return new Proxy(real, {
    get(target, key) {
      if (typeof key === "string") {
        const refusal = refusals.get(key);
        if (refusal !== undefined) return refusal;
      }
      // Read with the real object as receiver: getters and private fields
      // work as on the real one.
      return Reflect.get(target, key, target);
    },
  });
}

function helpText(context: SessionHelperContext): string {
  const sections: string[] = [];
  const toolkitHelp = context.scope.help;
  if (typeof toolkitHelp === "function") {
    sections.push(safe(() => String(toolkitHelp()), ""));
  }
  const members = Object.keys(context.namespace).map((
    name,
  ) => [name, summarize(() => context.namespace[name])] as [string, string]);
  sections.push(
    table(
      "Namespace (each member is a bare name; main is the whole namespace)",
      [
        ["main", "the namespace: Object.keys(main) lists its members"],
        ...members,
      ],
    ),
  );
  const others = Object.keys(context.scope).filter((name) =>
    name !== "help" && !Object.hasOwn(context.namespace, name)
  );
  const session = typeof toolkitHelp === "function" ? [] : others.map((
    name,
  ) => [name, summarize(() => context.scope[name])] as [string, string]);
  sections.push(table("Session", [...session, ...OWN_HELP]));
  return sections.filter((section) => section !== "").join("\n");
}

function table(title: string, rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([name]) => name.length));
  return [
    title,
    ...rows.map(([name, what]) => `  ${name.padEnd(width)}  ${what}`),
  ]
    .join("\n");
}

/** One line about a value, read without showing its contents. */
function summarize(read: () => unknown): string {
  return safe(() => {
    const value = read();
    if (typeof value === "function") {
      const kind = value.constructor?.name === "AsyncFunction"
        ? "async function"
        : /^class\b/.test(Function.prototype.toString.call(value))
        ? "class"
        : "function";
      return `${kind} ${value.name || "(anonymous)"}`;
    }
    if (value instanceof Map) return `Map(${value.size})`;
    if (value instanceof Set) return `Set(${value.size})`;
    if (Array.isArray(value)) return `Array(${value.length})`;
    if (value !== null && typeof value === "object") {
      const name = Object.getPrototypeOf(value)?.constructor?.name ?? "Object";
      const keys = Object.keys(value);
      const shown = keys.slice(0, 6).join(", ");
      return keys.length === 0
        ? `${name} {}`
        : `${name} { ${shown}${keys.length > 6 ? ", …" : ""} }`;
    }
    return Deno.inspect(value).slice(0, 60);
  }, "(could not be read)");
}

function safe<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}
