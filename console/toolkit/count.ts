/**
 * `count(Ctor)` and `instances(Ctor, n)`: live instances of a class (given
 * itself or by name), without a heap snapshot, through the inspector's
 * `Runtime.queryObjects`.
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

/** A class, or the name of one (`"User"`), as `count()` and `instances()` take. */
export type TypeSpec = Constructor | string;

/** What `count()` returns. */
export interface CountReport {
  /** The constructor's name. */
  name: string;
  /** Live objects whose prototype chain includes the class's prototype. */
  count: number;
  /** Live classes or constructor functions that had the name (1 for a class). */
  constructors: number;
  /** Time the query took, in ms. */
  ms: number;
}

/** Longest type name accepted (longer is surely not one). */
export const MAX_TYPE_NAME = 256;
/** Most instances `instances()` returns at once. */
export const MAX_INSTANCES = 100_000;

// Run in the service's own isolate (Runtime.callFunctionOn). Prototype
// objects of subclasses are on the chain too but are no instances; several
// classes may share a name (a Set merges their instances).
const NAMED_CONSTRUCTORS = `function (name) {
  return this.filter((f) => {
    try {
      const p = f.prototype;
      return f.name === name && p !== null && typeof p === "object";
    } catch { return false; }
  });
}`;
const PROTOTYPE_AT = `function (i) { return this[i].prototype; }`;
const INSTANCES = `function (...more) {
  const found = new Set();
  for (const list of [this, ...more]) {
    for (const o of list) {
      try {
        const d = Object.getOwnPropertyDescriptor(o, "constructor");
        if (d && typeof d.value === "function" && d.value.prototype === o) continue;
      } catch { /* a revoked proxy still counts */ }
      found.add(o);
    }
  }
  return found;
}`;
const SIZE = `function () { return this.size; }`;
// Hands the first n instances back to the toolkit through a one-off global
// slot, the reverse of remoteObjectId().
const STASH = `function (key, n) {
  const out = [];
  for (const o of this) { if (out.length >= n) break; out.push(o); }
  globalThis[Symbol.for(key)] = out;
}`;

interface Found {
  /** Remote id of the Set of instances (in `group`). */
  setId: string;
  name: string;
  constructors: number;
}

/**
 * Counts live instances of a class: objects whose prototype chain includes
 * `Ctor.prototype` (so subclasses count too). A class can be given by name
 * (`count("User")`): every live class or constructor function of that name
 * counts. A full GC runs first, inside V8.
 *
 * @example
 * ```ts ignore
 * await count(User); // User: 12 345 live instances
 * await count("Map"); // Map: 431 live instances
 * ```
 *
 * @param type The class, or its name.
 * @returns The count.
 */
export async function count(type: TypeSpec): Promise<CountReport> {
  checkType("count()", type);
  const started = performance.now();
  const group = newGroup();
  let report: CountReport;
  try {
    const found = await findInstances("count()", type, group);
    const size = await call<number>(found.setId, SIZE, [], group, true);
    report = {
      name: found.name,
      count: size,
      constructors: found.constructors,
      ms: Math.round(performance.now() - started),
    };
  } finally {
    await releaseGroup(group);
  }
  return withInspect(
    report,
    () =>
      `${report.name}: ${formatCount(report.count)} live instance${
        report.count === 1 ? "" : "s"
      }${
        report.constructors > 1
          ? ` of ${report.constructors} classes of that name`
          : ""
      } (${report.ms} ms)`,
  );
}

/**
 * Up to `n` live instances of a class, the objects themselves (objgraph's
 * `by_type`), for inspecting or scripting: `instances("Kept", 3)`.
 *
 * @example
 * ```ts ignore
 * const [first] = await instances(User, 1);
 * ```
 *
 * @param type The class, or its name.
 * @param n Most instances to return (default 10, at most 100 000).
 * @returns The instances, in no particular order.
 */
export async function instances(
  type: TypeSpec,
  n = 10,
): Promise<unknown[]> {
  checkType("instances()", type);
  if (!Number.isInteger(n) || n < 1 || n > MAX_INSTANCES) {
    throw new RangeError(
      `instances() count must be an integer from 1 to ${MAX_INSTANCES}, got "${
        String(n).slice(0, 40)
      }"`,
    );
  }
  const group = newGroup();
  const key = `leak-toolkit.instances.${newGroup()}.${Math.random()}`;
  const slot = Symbol.for(key);
  const global = globalThis as Record<symbol, unknown>;
  try {
    const found = await findInstances("instances()", type, group);
    await call(found.setId, STASH, [key, n], group, true);
    const out = global[slot];
    return Array.isArray(out) ? out : [];
  } finally {
    delete global[slot];
    await releaseGroup(group);
  }
}

function checkType(what: string, type: unknown): void {
  if (typeof type === "string") {
    if (type.length === 0 || type.length > MAX_TYPE_NAME) {
      throw new RangeError(
        `${what} takes a class or a class name of 1 to ${MAX_TYPE_NAME} characters, got ${type.length} characters`,
      );
    }
    return;
  }
  const prototype = (type as { prototype?: unknown } | null)?.prototype;
  if (
    typeof type !== "function" || prototype === null ||
    (typeof prototype !== "object" && typeof prototype !== "function")
  ) {
    throw new TypeError(
      `${what} takes a class, a constructor function or a class name, got ${
        type === null ? "null" : typeof type
      }`,
    );
  }
}

async function findInstances(
  what: string,
  type: TypeSpec,
  group: string,
): Promise<Found> {
  const prototypeIds: string[] = [];
  let name: string;
  if (typeof type === "string") {
    name = type;
    const functionPrototype = await remoteObjectId(Function.prototype, group);
    const functions = await queryObjects(functionPrototype, group);
    const named = await call<string>(
      functions,
      NAMED_CONSTRUCTORS,
      [type],
      group,
    );
    const total = await call<number>(
      named,
      `function () { return this.length; }`,
      [],
      group,
      true,
    );
    if (total === 0) {
      throw new ReferenceError(
        `${what}: no live class or constructor function is named "${type}" (a TypeScript interface or type alias has no runtime class: its objects are plain Objects; heap.top() lists types by name)`,
      );
    }
    for (let i = 0; i < total; i++) {
      prototypeIds.push(await call<string>(named, PROTOTYPE_AT, [i], group));
    }
  } else {
    name = type.name || "(anonymous)";
    prototypeIds.push(await remoteObjectId(type.prototype as object, group));
  }
  const lists: string[] = [];
  for (const id of prototypeIds) lists.push(await queryObjects(id, group));
  const setId = await call<string>(
    lists[0]!,
    INSTANCES,
    lists.slice(1).map((objectId) => ({ objectId })),
    group,
  );
  return { setId, name, constructors: prototypeIds.length };
}

async function queryObjects(prototypeId: string, group: string) {
  const found = await post<{ objects: { objectId: string } }>(
    "Runtime.queryObjects",
    { prototypeObjectId: prototypeId, objectGroup: group },
  );
  return found.objects.objectId;
}

/**
 * Calls a function on a remote object; plain arguments go by value,
 * `{ objectId }` ones by reference. Returns the value, or the result's
 * object id when `byValue` is false.
 */
async function call<T>(
  objectId: string,
  functionDeclaration: string,
  args: unknown[],
  group: string,
  byValue = false,
): Promise<T> {
  const reply = await post<
    {
      result: { value?: unknown; objectId?: string };
      exceptionDetails?: { text?: string };
    }
  >("Runtime.callFunctionOn", {
    objectId,
    functionDeclaration,
    arguments: args.map((a) =>
      typeof a === "object" && a !== null && "objectId" in a ? a : { value: a }
    ),
    returnByValue: byValue,
    objectGroup: group,
    silent: true,
  });
  if (reply.exceptionDetails) {
    throw new Error(
      `The instance query failed: ${
        reply.exceptionDetails.text ?? "exception"
      }`,
    );
  }
  return (byValue ? reply.result.value : reply.result.objectId) as T;
}
