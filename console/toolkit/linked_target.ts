/**
 * The process the toolkit examines when it is not this one: an attached
 * target (the attach client sets it through `useInspectorLink` in
 * toolkit_state.ts). A module of its own, with no dependencies, so that
 * what reads it (which code is the console's, source positions) does not
 * load the toolkit's state, its worker client or `node:inspector` into a
 * service's start-up.
 *
 * @module
 */

import type { Ownership } from "../heap/holders.ts";

/** Memory figures of the examined process, in bytes. */
export interface ProcessMemory {
  /** Resident set size. */
  rss: number;
  /** V8 heap in use. */
  heapUsed: number;
  /** V8 heap reserved. */
  heapTotal: number;
  /** Memory held outside the V8 heap by JS objects. */
  external: number;
  /** Array buffer bytes, or null where the runtime counts them in `external` only (Deno). */
  arrayBuffers: number | null;
  /** V8's `heap_size_limit` (old generation plus the young reserve). */
  heapSizeLimit: number;
}

/**
 * Another process the toolkit examines through an inspector link: what the
 * helpers cannot read from their own process. Made by the attach client.
 */
export interface LinkedTarget {
  /** Its pid, as this side sees it. */
  pid: number;
  /** What the toolkit calls it in messages, e.g. `pid 1234`. */
  name: string;
  /**
   * Reads its memory figures now.
   *
   * @returns The figures.
   */
  readMemory(): Promise<ProcessMemory>;
  /**
   * An inspector object id for one of its objects that `value` stands for
   * here (an argument a helper was called with in the target).
   *
   * @param value The stand-in.
   * @param group The object group to hold the remote reference in.
   * @returns The id, or undefined when `value` stands for nothing there.
   */
  objectId(value: object, group: string): Promise<string | undefined>;
  /**
   * The stack text of an `Error` made at a position of one of its scripts,
   * which its runtime maps to the source (Deno maps `Error.stack`).
   *
   * @param url The script's URL.
   * @param line 0-based line in the code V8 runs.
   * @param column 0-based column.
   * @returns The stack text, or undefined when it has no mapper.
   */
  stackAt(url: string, line: number, column: number): Promise<unknown>;
  /** Which of its scripts are the session's own (left out of the answers). */
  ownership: Ownership;
}

let target: LinkedTarget | undefined;

/**
 * The process the toolkit examines through a link, if not this one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linkedTarget } from "./linked_target.ts";
 * assert.equal(linkedTarget(), undefined); // in-process
 * ```
 *
 * @returns The target, or undefined in-process.
 */
export function linkedTarget(): LinkedTarget | undefined {
  return target;
}

/**
 * Sets (or with undefined, clears) the linked target; toolkit_state.ts's
 * `useInspectorLink` and `closeToolkitState` are its callers.
 *
 * @example
 * ```ts
 * import { setLinkedTarget } from "./linked_target.ts";
 * setLinkedTarget(undefined);
 * ```
 *
 * @param next The target, or undefined.
 */
export function setLinkedTarget(next: LinkedTarget | undefined): void {
  target = next;
}
