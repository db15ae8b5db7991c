/**
 * Turns a snippet's value into JSON text for programs that talk to the
 * console (`format: "json"`): the values a leak hunt produces (Maps, Sets,
 * bigints, Dates, cycles) become the nearest JSON, where `JSON.stringify`
 * would throw or silently lose them.
 *
 * @module
 */

/** Options for {@linkcode toJsonText}. */
export interface JsonTextOptions {
  /** Refuse text longer than this many characters (a RangeError). Default: no limit. */
  maxChars?: number;
}

/** The stand-in for a reference back to an object being converted. */
export const CIRCULAR = "[Circular]";

/**
 * Converts `value` to JSON text:
 *
 * - a Map becomes an object when all its keys are strings, else an array of
 *   `[key, value]` pairs; a Set becomes an array;
 * - a bigint becomes its decimal string; `undefined` becomes `null` (also in
 *   objects, where `JSON.stringify` would drop the key); a symbol becomes
 *   its `toString()`; a function becomes its name (`"[anonymous]"` without
 *   one);
 * - a Date becomes its ISO string (`null` when invalid); boxed primitives
 *   their primitive; an Error `{ name, message }`; typed arrays arrays;
 * - a reference back to an object that contains it becomes `"[Circular]"`
 *   (an object reached twice by different paths is written twice);
 * - other objects follow `JSON.stringify`: `toJSON()` when present, else
 *   their own enumerable string keys (getters run, as they would there).
 *
 * Errors thrown while reading the value (a hostile proxy, a throwing
 * getter) propagate: the caller turns them into an error result.
 *
 * @example
 * ```ts
 * import { toJsonText } from "./json_value.ts";
 * import assert from "node:assert/strict";
 *
 * const cache = new Map<string, unknown>([["a", { at: new Date(0), n: 1n }]]);
 * const looped: Record<string, unknown> = { tags: new Set(["x"]) };
 * looped.self = looped;
 * assert.equal(
 *   toJsonText({ cache, looped, missing: undefined, f: Math.max }),
 *   '{"cache":{"a":{"at":"1970-01-01T00:00:00.000Z","n":"1"}},' +
 *     '"looped":{"tags":["x"],"self":"[Circular]"},"missing":null,"f":"max"}',
 * );
 * assert.equal(toJsonText(new Map([[1, "one"]])), '[[1,"one"]]');
 * ```
 *
 * @param value Any value.
 * @param options A size limit.
 * @returns JSON text.
 */
export function toJsonText(
  value: unknown,
  options: JsonTextOptions = {},
): string {
  // Self-contained (no module-level names): `attach` runs this function's
  // own source in the target process, so both consoles share its rules.
  type Json =
    | null
    | boolean
    | number
    | string
    | Json[]
    | { [key: string]: Json };
  const circular = "[Circular]";
  const convert = (value: unknown, ancestors: Set<object>): Json => {
    switch (typeof value) {
      case "undefined":
        return null;
      case "boolean":
      case "string":
        return value;
      case "number":
        return Number.isFinite(value) ? value : null;
      case "bigint":
        return value.toString();
      case "symbol":
        return value.toString();
      case "function":
        return typeof value.name === "string" && value.name !== ""
          ? value.name
          : "[anonymous]";
    }
    if (value === null) return null;
    const object = value as object;
    if (ancestors.has(object)) return circular;
    ancestors.add(object);
    try {
      return convertObject(object, ancestors);
    } finally {
      ancestors.delete(object);
    }
  };
  const convertObject = (object: object, ancestors: Set<object>): Json => {
    const child = (value: unknown) => convert(value, ancestors);
    if (object instanceof Date) {
      return Number.isNaN(object.getTime()) ? null : object.toISOString();
    }
    if (object instanceof Map) {
      const entries = [...object.entries()];
      if (entries.every(([key]) => typeof key === "string")) {
        const out: Record<string, Json> = {};
        for (const [key, value] of entries) out[key as string] = child(value);
        return out;
      }
      return entries.map(([key, value]) => [child(key), child(value)]);
    }
    if (object instanceof Set) return [...object].map(child);
    if (Array.isArray(object)) return object.map(child);
    if (ArrayBuffer.isView(object) && !(object instanceof DataView)) {
      return Array.from(object as unknown as ArrayLike<number | bigint>, child);
    }
    if (
      object instanceof String || object instanceof Number ||
      object instanceof Boolean || object instanceof BigInt
    ) {
      return child(object.valueOf());
    }
    if (object instanceof Error) {
      return { name: String(object.name), message: String(object.message) };
    }
    const toJSON = (object as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") {
      const replaced = toJSON.call(object, "");
      // A toJSON that returns its own object would loop: read its keys instead.
      if (replaced !== object) return child(replaced);
    }
    const out: Record<string, Json> = {};
    for (const key of Object.keys(object)) {
      out[key] = child((object as Record<string, unknown>)[key]);
    }
    return out;
  };
  const text = JSON.stringify(convert(value, new Set())) ?? "null";
  const limit = options.maxChars ?? Infinity;
  if (text.length > limit) {
    throw new RangeError(
      `The JSON text is ${text.length} characters, over the ${limit}-character limit: select fewer entries or fields`,
    );
  }
  return text;
}
