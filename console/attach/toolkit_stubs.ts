// deno-lint-ignore-file no-explicit-any
/**
 * The leak toolkit's names inside an attached target: `mem`, `gc`,
 * `count`, `heap.*`, `alloc.*` (plus `leak` and `instances`, which say why
 * they are not there), defined as global properties of the target by
 * evaluating {@linkcode stubsExpression}. Each stub sends its call through
 * an inspector binding (`Runtime.addBinding`) and returns a promise; the
 * attach client runs the real helper over its link to the target
 * (remote_toolkit.ts) and settles the promise with the helper's data,
 * printed as the in-process console prints it.
 *
 * `installStubs` runs in the target, never here: its source is sent as
 * text, so it uses nothing from this module.
 *
 * @module
 */

/** The source URL the stubs' code runs under in the target. */
export const STUBS_URL = "leakwatch-attach-toolkit";

/** How the stubs are made. */
export interface StubsConfig {
  /** The binding's global name (removed from the global scope at once). */
  binding: string;
  /** The calls sent to the client: `mem`, `heap.top`, ... */
  calls: string[];
  /** Names that answer here, in the target, with a text (e.g. `leak`). */
  answers: Record<string, string>;
  /** Names that throw here, in the target, with a message (e.g. `instances`). */
  refusals: Record<string, string>;
  /** Largest call payload sent to the client, in characters. */
  maxPayloadChars: number;
}

/** One argument of a call, as the target encodes it. */
export type EncodedArgument =
  | { undefined: true }
  | { value: string | number | boolean | null }
  | { number: string }
  | {
    /** Its handle in the target for the duration of the call. */
    ref: number;
    /** `typeof` the value. */
    kind: "object" | "function";
    /** A function's name. */
    name: string;
    /** A plain object's own data properties that are primitives (options). */
    fields: Record<string, string | number | boolean | null>;
  };

/** A call as the client receives it. */
export interface StubCall {
  /** The call's number, to settle it with. */
  id: number;
  /** The helper: `mem`, `heap.leaks`, ... */
  name: string;
  /** Its arguments. */
  args: EncodedArgument[];
}

/** What the stubs report once installed. */
export interface StubsInfo {
  /** Global names defined. */
  installed: string[];
  /** Global names left alone because the target already has them. */
  skipped: string[];
}

/**
 * The expression that installs the stubs: evaluate it in the target after
 * `Runtime.addBinding` and keep the object it returns (its methods settle
 * calls, resolve argument handles and remove the stubs again).
 *
 * @param config The binding, the calls, the local answers and refusals.
 * @returns JavaScript source.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stubsExpression } from "./toolkit_stubs.ts";
 * const sent: string[] = [];
 * const g = globalThis as Record<string, unknown>;
 * g.__lw_test_binding = (payload: string) => sent.push(payload);
 * // Installed here, on this process, as the inspector would in a target.
 * const stubs = (0, eval)(stubsExpression({
 *   binding: "__lw_test_binding",
 *   calls: ["mem", "heap.top"],
 *   answers: { leak: "in-process only" },
 *   refusals: {},
 *   maxPayloadChars: 10_000,
 * }));
 * assert.equal(g.__lw_test_binding, undefined);
 * const pending = (g.heap as { top(n: number): Promise<unknown> }).top(3);
 * const call = JSON.parse(sent[0]!);
 * assert.deepEqual([call.name, call.args], ["heap.top", [{ value: 3 }]]);
 * stubs.settle(call.id, true, '[{"type":"Map"}]', "a table");
 * const rows = await pending;
 * assert.equal(Deno.inspect(rows), "a table");
 * assert.equal(JSON.stringify(rows), '[{"type":"Map"}]');
 * assert.equal(`${(g.leak as () => unknown)()}`, "in-process only");
 * assert.deepEqual(stubs.remove().sort(), ["heap", "leak", "mem"]);
 * assert.equal(g.heap, undefined);
 * ```
 */
export function stubsExpression(config: StubsConfig): string {
  return `(${installStubs})(${
    JSON.stringify(config)
  })\n//# sourceURL=${STUBS_URL}`;
}

/**
 * The stubs. Runs in the target: nothing outside this function may be
 * named in it.
 */
function installStubs(config: StubsConfig) {
  const g = globalThis as any;
  const binding = g[config.binding];
  // Kept here only: the target's own code does not see it.
  delete g[config.binding];
  if (typeof binding !== "function") {
    throw new Error("The toolkit's inspector binding is missing");
  }
  const customKeys = [
    Symbol.for("Deno.customInspect"),
    Symbol.for("nodejs.util.inspect.custom"),
  ];
  const brand = (object: object, text: string) => {
    for (const key of customKeys) {
      Object.defineProperty(object, key, { value: () => text });
    }
    return object;
  };
  const pending = new Map<
    number,
    {
      resolve(value: unknown): void;
      reject(error: unknown): void;
      refs: Map<number, unknown>;
    }
  >();
  let sequence = 0;
  const MAX_FIELDS = 32;

  const primitiveFields = (value: object) => {
    const fields: Record<string, unknown> = {};
    try {
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return fields;
      const keys = Object.keys(value).slice(0, MAX_FIELDS);
      for (const key of keys) {
        // Data properties only: a getter is not run.
        const d = Object.getOwnPropertyDescriptor(value, key);
        if (d === undefined || !("value" in d)) continue;
        const v = d.value;
        if (
          v === null || typeof v === "string" || typeof v === "boolean" ||
          (typeof v === "number" && Number.isFinite(v))
        ) {
          fields[key] = typeof v === "string" ? v.slice(0, 4096) : v;
        }
      }
    } catch {
      // A proxy whose traps throw: no fields.
    }
    return fields;
  };
  const functionName = (f: unknown) => {
    try {
      const name = (f as { name?: unknown }).name;
      return typeof name === "string" ? name.slice(0, 256) : "";
    } catch {
      return "";
    }
  };
  const encode = (value: unknown, refs: Map<number, unknown>) => {
    if (value === undefined) return { undefined: true };
    if (
      value === null || typeof value === "string" || typeof value === "boolean"
    ) return { value };
    if (typeof value === "number") {
      return Number.isFinite(value) && !Object.is(value, -0)
        ? { value }
        : { number: String(value) };
    }
    if (typeof value === "object" || typeof value === "function") {
      const ref = refs.size + 1;
      refs.set(ref, value);
      return {
        ref,
        kind: typeof value,
        name: typeof value === "function" ? functionName(value) : "",
        fields: typeof value === "object" ? primitiveFields(value) : {},
      };
    }
    // A bigint or a symbol: no helper takes one; it says so.
    return { value: String(value) };
  };

  const call = (name: string, args: unknown[]) => {
    const id = ++sequence;
    const refs = new Map<number, unknown>();
    const payload = JSON.stringify({
      id,
      name,
      args: args.map((arg) => encode(arg, refs)),
    });
    if (payload.length > config.maxPayloadChars) {
      throw new RangeError(
        `${name}(): its arguments are too long to send to the attach client (${payload.length} characters, at most ${config.maxPayloadChars})`,
      );
    }
    const promise = new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject, refs });
      try {
        binding(payload);
      } catch (error) {
        pending.delete(id);
        reject(error);
      }
    });
    // A call nobody awaits (an interrupted snippet) must not fail as an
    // unhandled rejection: Deno would end the target for it.
    promise.catch(() => {});
    return promise;
  };

  const globals: Record<string, unknown> = {};
  const define = (path: string, value: unknown) => {
    const [head, tail] = path.split(".", 2) as [string, string | undefined];
    if (tail === undefined) {
      globals[head] = value;
      return;
    }
    const holder = (globals[head] ??= Object.create(null)) as Record<
      string,
      unknown
    >;
    holder[tail] = value;
  };
  for (const name of config.calls) {
    define(name, (...args: unknown[]) => call(name, args));
  }
  for (const [name, text] of Object.entries(config.answers)) {
    define(name, () => brand(new String(text), text));
  }
  for (const [name, message] of Object.entries(config.refusals)) {
    define(name, () => {
      throw new Error(message);
    });
  }
  const installed: string[] = [];
  const skipped: string[] = [];
  for (const [name, value] of Object.entries(globals)) {
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

  return {
    info(): StubsInfo {
      return { installed: [...installed], skipped };
    },
    /** Settles a call: with the data and its text, or with an error. */
    settle(id: number, ok: boolean, data: string, text: string) {
      const entry = pending.get(id);
      if (entry === undefined) return false;
      pending.delete(id);
      if (ok) {
        const value = JSON.parse(data);
        entry.resolve(
          typeof value === "object" && value !== null
            ? brand(value, text)
            : value,
        );
      } else {
        // data: the error's name; text: its message.
        const error = new Error(text);
        error.name = data;
        error.stack = `${data}: ${text}`;
        entry.reject(error);
      }
      return true;
    },
    /** The value a call's argument handle stands for. */
    ref(id: number, ref: number, property: string): unknown {
      const value = pending.get(id)?.refs.get(ref);
      if (value === undefined) throw new Error("No such argument");
      return property === "" ? value : (value as any)[property];
    },
    /** Removes the stubs; fails pending calls; returns the names removed. */
    remove(): string[] {
      for (const entry of pending.values()) {
        entry.reject(new Error("The attach session ended"));
      }
      pending.clear();
      const removed: string[] = [];
      for (const name of installed) {
        const descriptor = Object.getOwnPropertyDescriptor(g, name);
        if (descriptor?.configurable && descriptor.value === globals[name]) {
          delete g[name];
          removed.push(name);
        }
      }
      installed.length = 0;
      return removed;
    },
  };
}

/** The stubs' methods, as the client calls them. */
export type Stubs = ReturnType<typeof installStubs>;
