/**
 * Who listens on a TCP port, as `ss -ltnp` shows it: the listening sockets
 * and the processes holding them (this user's, or everyone's for root).
 * Reading only: no connection is made, so a probe disturbs nobody.
 *
 * @module
 */

import { runTool } from "./system_tool.ts";

/** Who holds the sockets listening on a port. */
export interface PortHolders {
  /** The listening sockets' local addresses, e.g. `127.0.0.1:9229`. */
  sockets: string[];
  /** The processes holding one of them, as far as this user can see. */
  pids: number[];
}

/**
 * Parses `ss -Hltnp` lines into the sockets on `port` and their holders.
 *
 * @param text What `ss` printed.
 * @param port The port.
 * @returns The sockets and the pids `ss` named.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePortHolders } from "./listening_sockets.ts";
 * const text =
 *   'LISTEN 0 511 127.0.0.1:9229 0.0.0.0:* users:(("deno",pid=4242,fd=21))\n' +
 *   "LISTEN 0 128 [::]:9229 [::]:*\n" +
 *   'LISTEN 0 511 127.0.0.1:19229 0.0.0.0:* users:(("node",pid=7,fd=3))\n';
 * assert.deepEqual(parsePortHolders(text, 9229), {
 *   sockets: ["127.0.0.1:9229", "[::]:9229"],
 *   pids: [4242],
 * });
 * ```
 */
export function parsePortHolders(text: string, port: number): PortHolders {
  const sockets: string[] = [];
  const pids = new Set<number>();
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] !== "LISTEN" || fields.length < 5) continue;
    const local = fields[3]!;
    if (!local.endsWith(`:${port}`)) continue;
    sockets.push(local);
    for (const match of line.matchAll(/pid=(\d+)/g)) pids.add(Number(match[1]));
  }
  return { sockets, pids: [...pids] };
}

/**
 * The sockets listening on `port` (IPv4 and IPv6) and their holders.
 *
 * @param port The TCP port.
 * @returns The sockets and their holders.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { portHolders } from "./listening_sockets.ts";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const { port } = listener.addr as Deno.NetAddr;
 * assert.deepEqual((await portHolders(port)).pids, [Deno.pid]);
 * listener.close();
 * assert.deepEqual((await portHolders(port)).sockets, []);
 * ```
 */
export async function portHolders(port: number): Promise<PortHolders> {
  const { code, stdout, stderr } = await runTool("ss", [
    "-Hltnp",
    `sport = :${port}`,
  ]);
  if (code !== 0) {
    throw new Error(`ss failed: ${stderr.trim().split("\n")[0]}`);
  }
  return parsePortHolders(stdout, port);
}

/**
 * Whether `pid` listens on `port`.
 *
 * @param port The TCP port.
 * @param pid The process.
 * @returns `true` when one of its sockets listens there.
 */
export async function listensOn(port: number, pid: number): Promise<boolean> {
  return (await portHolders(port)).pids.includes(pid);
}
