/**
 * `count(Ctor)`: live instances of a class, without a heap snapshot, through
 * the inspector's `Runtime.queryObjects`.
 *
 * @module
 */

import { formatCount, withInspect } from "./report.ts";
import { post } from "./inspector.ts";
import { newGroup, releaseGroup, remoteObjectId } from "./inspector_handles.ts";

/** A class or constructor function. */
export type Constructor =
  | (abstract new (...args: never[]) => unknown)
  | ((...args: never[]) => unknown);

/** What `count()` returns. */
export interface CountReport {
  /** The constructor's name. */
  name: string;
  /** Live objects whose prototype chain includes `Ctor.prototype`. */
  count: number;
  /** Time the query took, in ms. */
  ms: number;
}

// Runs in the service's own isolate over the array queryObjects returns:
// prototype objects of subclasses are on the chain too but are not instances.
const COUNT_INSTANCES = `function () {
  let n = 0;
  for (const o of this) {
    try {
      const d = Object.getOwnPropertyDescriptor(o, "constructor");
      if (d && typeof d.value === "function" && d.value.prototype === o) continue;
    } catch { /* a revoked proxy still counts */ }
    n++;
  }
  return n;
}`;

/**
 * Counts live instances of a class: objects whose prototype chain includes
 * `Ctor.prototype` (so subclasses count too). A full GC runs first, inside V8.
 *
 * @example
 * ```ts ignore
 * await count(User); // User: 12 345 live instances
 * ```
 *
 * @param ctor The class.
 * @returns The count.
 */
export async function count(ctor: Constructor): Promise<CountReport> {
  const prototype = (ctor as { prototype?: unknown } | null)?.prototype;
  if (
    typeof ctor !== "function" || prototype === null ||
    (typeof prototype !== "object" && typeof prototype !== "function")
  ) {
    throw new TypeError(
      `count() takes a class or constructor function, got ${
        ctor === null ? "null" : typeof ctor
      }`,
    );
  }
  const started = performance.now();
  const group = newGroup();
  let n: number;
  try {
    const protoId = await remoteObjectId(prototype as object, group);
    const found = await post<{ objects: { objectId: string } }>(
      "Runtime.queryObjects",
      { prototypeObjectId: protoId, objectGroup: group },
    );
    const counted = await post<{ result: { value: number } }>(
      "Runtime.callFunctionOn",
      {
        objectId: found.objects.objectId,
        functionDeclaration: COUNT_INSTANCES,
        returnByValue: true,
        objectGroup: group,
        silent: true,
      },
    );
    n = counted.result.value;
  } finally {
    await releaseGroup(group);
  }
  const report: CountReport = {
    name: ctor.name || "(anonymous)",
    count: n,
    ms: Math.round(performance.now() - started),
  };
  return withInspect(
    report,
    () =>
      `${report.name}: ${formatCount(report.count)} live instance${
        report.count === 1 ? "" : "s"
      } (${report.ms} ms)`,
  );
}
