/**
 * Finding leakwatch's console in a snapshot written by its `heap.snapshot()`,
 * wherever that service was installed, so that `analyze` leaves the
 * console's objects out as the live helpers do.
 *
 * @module
 */

import type { Ownership } from "../heap/holders.ts";
import type { RawSnapshot } from "../heap/parser.ts";
import { CONSOLE_MARKER, consoleOwnership } from "../toolkit/heap.ts";

const SCRIPT_PREFIX = "system / Script / ";

/**
 * The console's ownership in a snapshot: its folder is where the script of
 * {@linkcode CONSOLE_MARKER} was loaded from. None when the snapshot holds
 * no leakwatch console (Chrome, Node, any other Deno program).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SnapshotParser } from "../heap/parser.ts";
 * import { consoleOwnershipIn } from "./console_scripts.ts";
 * const parser = new SnapshotParser();
 * parser.push('{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count"],' +
 *   '"node_types":[["synthetic","code"],"string","number","number","number"],' +
 *   '"edge_fields":["type","name_or_index","to_node"],"edge_types":[["weak"],"string_or_number","node"]},' +
 *   '"node_count":2,"edge_count":0},"nodes":[0,0,1,0,0,1,1,3,0,0],"edges":[],' +
 *   '"strings":["","system / Script / file:///srv/app/console/toolkit/heap.ts"]}');
 * const ownership = consoleOwnershipIn(parser.finish());
 * assert.equal(ownership?.consoleScripts?.[0], "file:///srv/app/console/");
 * ```
 *
 * @param raw A parsed snapshot.
 * @returns The ownership to analyse it with, or undefined.
 */
export function consoleOwnershipIn(raw: RawSnapshot): Ownership | undefined {
  const { nodes, meta, strings } = raw;
  const nf = meta.node_fields.length;
  const nameAt = meta.node_fields.indexOf("name");
  const typeAt = meta.node_fields.indexOf("type");
  const types = meta.node_types[typeAt];
  // Scripts are `code` nodes: only their names are read.
  const code = Array.isArray(types) ? types.indexOf("code") : -1;
  if (nameAt < 0 || code < 0) return undefined;
  // Per name string: tested once.
  const tested = new Uint8Array(strings.length);
  const suffix = `/console/${CONSOLE_MARKER}`;
  for (let n = 0; n < nodes.length; n += nf) {
    if (nodes[n + typeAt] !== code) continue;
    const name = nodes[n + nameAt]!;
    if (name >= tested.length || tested[name] === 1) continue;
    tested[name] = 1;
    const text = strings.get(name);
    if (!text.startsWith(SCRIPT_PREFIX) || !text.endsWith(suffix)) continue;
    const url = text.slice(SCRIPT_PREFIX.length);
    return consoleOwnership(url.slice(0, url.length - CONSOLE_MARKER.length));
  }
  return undefined;
}
