/**
 * Values of the target as this side handles them: an inspector
 * `RemoteObject` passed back as a call argument, a primitive rebuilt here,
 * and an object stood in for by the text the target rendered, so the
 * console's own renderers (`renderValue`, `formatArgs`) lay it out exactly
 * as they lay out a value of their own process.
 *
 * @module
 */

import type { MeasuredText } from "./target_agent.ts";

/** A value in the target, as the inspector describes it. */
export interface RemoteObject {
  /** `object`, `function`, `string`, `number`, `undefined`, ... */
  type: string;
  /** `null`, `array`, `error`, `promise`, ... for objects. */
  subtype?: string;
  /** A primitive's value (JSON-able ones). */
  value?: unknown;
  /** `NaN`, `-0`, `Infinity`, `-Infinity`, or a bigint like `12n`. */
  unserializableValue?: string;
  /** The handle of an object (or symbol) in the target. */
  objectId?: string;
  /** V8's short description. */
  description?: string;
}

/** A `Runtime.CallArgument`: how a value is passed back to the target. */
export type CallArgument =
  | { objectId: string }
  | { value: unknown }
  | { unserializableValue: string }
  | Record<string, never>;

const CUSTOM_INSPECT = Symbol.for("Deno.customInspect");

/**
 * The call argument that passes `remote` back to the target unchanged.
 *
 * @param remote The value as the inspector described it.
 * @returns The argument.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { callArgument } from "./remote_values.ts";
 * assert.deepEqual(callArgument({ type: "object", objectId: "1.2.3" }), { objectId: "1.2.3" });
 * assert.deepEqual(callArgument({ type: "bigint", unserializableValue: "5n" }), { unserializableValue: "5n" });
 * assert.deepEqual(callArgument({ type: "undefined" }), {});
 * ```
 */
export function callArgument(remote: RemoteObject): CallArgument {
  if (remote.objectId !== undefined) return { objectId: remote.objectId };
  if (remote.unserializableValue !== undefined) {
    return { unserializableValue: remote.unserializableValue };
  }
  if (remote.type === "undefined") return {};
  return { value: remote.subtype === "null" ? null : remote.value };
}

/**
 * A primitive of the target rebuilt here, or `undefined` for an object
 * (or symbol), which has to be rendered in the target.
 *
 * @param remote The value as the inspector described it.
 * @returns `{ value }` for a primitive, else `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { localPrimitive } from "./remote_values.ts";
 * assert.deepEqual(localPrimitive({ type: "number", unserializableValue: "-0" }), { value: -0 });
 * assert.deepEqual(localPrimitive({ type: "bigint", unserializableValue: "12n" }), { value: 12n });
 * assert.equal(localPrimitive({ type: "object", objectId: "1" }), undefined);
 * ```
 */
export function localPrimitive(
  remote: RemoteObject,
): { value: unknown } | undefined {
  switch (remote.type) {
    case "undefined":
      return { value: undefined };
    case "string":
    case "boolean":
      return { value: remote.value };
    case "number":
      return {
        value: remote.unserializableValue === undefined
          ? remote.value
          : Number(remote.unserializableValue),
      };
    case "bigint": {
      const digits = (remote.unserializableValue ?? "0n").replace(/n$/, "");
      return { value: /^-?\d+$/.test(digits) ? BigInt(digits) : 0n };
    }
    case "object":
      return remote.subtype === "null" ? { value: null } : undefined;
    default:
      return undefined;
  }
}

/**
 * The whole text a {@linkcode MeasuredText} stands for: the part that was
 * sent, then blank lines and spaces for what was cut, so lengths and line
 * counts (the notes under a result say how much was left out) come out as
 * in the target. Only the sent part is ever shown: the client's own limits
 * are below what is sent.
 *
 * @param measured The text and its full length and line count.
 * @returns A text of that length and line count.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { expandText } from "./remote_values.ts";
 * const text = expandText({ text: "ab", length: 6, lines: 3 });
 * assert.equal(text.length, 6);
 * assert.equal(text.split("\n").length, 3);
 * assert.ok(text.startsWith("ab"));
 * ```
 */
export function expandText(measured: MeasuredText): string {
  const missing = measured.length - measured.text.length;
  if (missing <= 0) return measured.text;
  const sentLines = measured.text.split("\n").length;
  const newlines = Math.max(0, Math.min(missing, measured.lines - sentLines));
  return measured.text + "\n".repeat(newlines) +
    " ".repeat(missing - newlines);
}

/**
 * An object that inspects as the text the target rendered, at whatever
 * depth it is asked for (the nearest rendering the target sent), and
 * reads as that text in `${…}` and `%s`.
 *
 * @param renders The target's renderings by depth (`"2"`, `"Infinity"`).
 * @returns The stand-in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { standIn } from "./remote_values.ts";
 * const value = standIn({ "2": { text: "Map(1) { 1 => 2 }", length: 17, lines: 1 } });
 * assert.equal(Deno.inspect(value, { depth: 2 }), "Map(1) { 1 => 2 }");
 * assert.equal(`${value}`, "Map(1) { 1 => 2 }");
 * ```
 */
export function standIn(renders: Record<string, MeasuredText>): object {
  const depths = Object.keys(renders).map(Number);
  const at = (depth: number) => {
    const exact = renders[String(depth)];
    if (exact !== undefined) return expandText(exact);
    // The deepest rendering not deeper than asked, else the shallowest.
    const below = depths.filter((d) => d <= depth).sort((a, b) => b - a)[0];
    const nearest = below ?? Math.min(...depths);
    const measured = renders[String(nearest)];
    return measured === undefined ? "" : expandText(measured);
  };
  const value = Object.create(null);
  Object.defineProperty(value, CUSTOM_INSPECT, {
    value: (_inspect: unknown, options: { depth?: number } = {}) =>
      at(options.depth ?? Infinity),
  });
  Object.defineProperty(value, "toString", { value: () => at(Infinity) });
  return value;
}

/**
 * Decodes a number the agent sent as JSON, where `Infinity` travels as a
 * string.
 *
 * @param value The field as received.
 * @returns The number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeNumber } from "./remote_values.ts";
 * assert.equal(decodeNumber("Infinity"), Infinity);
 * assert.equal(decodeNumber(3), 3);
 * ```
 */
export function decodeNumber(value: unknown): number {
  if (typeof value === "number") return value;
  return value === "-Infinity" ? -Infinity : Infinity;
}
