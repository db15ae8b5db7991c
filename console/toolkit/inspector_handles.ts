/**
 * Inspector handles on live in-process values: an object id for a value,
 * and its heap snapshot id.
 *
 * @module
 */

import { post } from "./inspector.ts";
import { linkedTarget } from "./toolkit_state.ts";

let sequence = 0;

/** A fresh object group name; release it with {@link releaseGroup}. */
export function newGroup(): string {
  return `leak-toolkit-${++sequence}`;
}

/**
 * Gets an inspector object id for a live value: the value is stashed under a
 * one-off global symbol just long enough for `Runtime.evaluate` to read it.
 * When the toolkit examines another process (attach), the value is a
 * stand-in for one of that process's objects, and the target gives its id.
 *
 * @param value An object or function.
 * @param group Object group holding the remote reference.
 * @returns The remote object id.
 */
export async function remoteObjectId(
  value: object,
  group: string,
): Promise<string> {
  const target = linkedTarget();
  if (target !== undefined) {
    const id = await target.objectId(value, group);
    if (id === undefined) {
      throw new TypeError(
        `This object lives in the console, not in ${target.name}: pass one of its own objects or a class name`,
      );
    }
    return id;
  }
  const key = `leak-toolkit.stash.${++sequence}.${Math.random()}`;
  const slot = Symbol.for(key);
  const global = globalThis as Record<symbol, unknown>;
  global[slot] = value;
  try {
    const reply = await post<{ result: { objectId?: string } }>(
      "Runtime.evaluate",
      {
        expression: `globalThis[Symbol.for(${JSON.stringify(key)})]`,
        objectGroup: group,
        silent: true,
      },
    );
    if (!reply.result.objectId) {
      throw new TypeError("The inspector did not return an object id");
    }
    return reply.result.objectId;
  } finally {
    delete global[slot];
  }
}

/**
 * The heap snapshot id of a live value. Ids exist only for objects that were
 * alive when the last snapshot was taken, so call this after capturing.
 *
 * @param value An object or function.
 * @returns The snapshot node id, or 0 if the heap profiler has none.
 */
export async function heapObjectId(value: object): Promise<number> {
  const group = newGroup();
  try {
    const objectId = await remoteObjectId(value, group);
    const reply = await post<{ heapSnapshotObjectId: string }>(
      "HeapProfiler.getHeapObjectId",
      { objectId },
    );
    return Number(reply.heapSnapshotObjectId);
  } finally {
    await releaseGroup(group);
  }
}

/**
 * Releases every remote reference of an object group.
 *
 * @param group The group.
 */
export async function releaseGroup(group: string): Promise<void> {
  await post("Runtime.releaseObjectGroup", { objectGroup: group });
}
