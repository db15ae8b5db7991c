/**
 * Who is at the other end of a console connection, as far as limits can
 * tell: the unit that per-peer budgets (failed authentications, waiting
 * connections) are kept for.
 *
 * - TCP from another machine: its IPv4 address, or its IPv6 /64 (one host
 *   usually holds a whole /64, so counting addresses would let it rotate).
 * - TCP over loopback: one peer, `loopback`. Every local user's connection
 *   comes from 127.0.0.1 (or ::1); nothing a program without `--allow-all`
 *   can read tells one local user from another, so they share a budget.
 * - Unix socket: one peer, `unix socket`. It is mode 0600 in a 0700
 *   directory, so only its owner (and root) can connect at all.
 *
 * @module
 */

/**
 * The peer a connection's remote address belongs to.
 *
 * @param addr The connection's `remoteAddr`.
 * @returns A short key for budgets and log lines.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { peerOf } from "./peer.ts";
 * assert.equal(peerOf({ transport: "tcp", hostname: "10.0.0.5", port: 5 }), "10.0.0.5");
 * assert.equal(peerOf({ transport: "tcp", hostname: "127.0.0.1", port: 5 }), "loopback");
 * assert.equal(peerOf({ transport: "tcp", hostname: "2001:db8:1:2:3:4:5:6", port: 5 }), "2001:db8:1:2::/64");
 * assert.equal(peerOf({ transport: "unix", path: "/run/c.sock" }), "unix socket");
 * ```
 */
export function peerOf(addr: Deno.Addr): string {
  if (!("hostname" in addr)) return "unix socket";
  let host = addr.hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  const mapped = host.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/);
  if (mapped) host = mapped[1]!;
  if (/^127\./.test(host) || host === "::1") return "loopback";
  if (!host.includes(":")) return host;
  return `${ipv6Prefix64(host)}::/64`;
}

/** The first four groups of an IPv6 address, without leading zeros. */
function ipv6Prefix64(host: string): string {
  const [head = "", tail] = host.split("%")[0]!.split("::");
  const groups = head === "" ? [] : head.split(":");
  if (tail !== undefined) {
    const rest = tail === "" ? [] : tail.split(":");
    while (groups.length + rest.length < 8) groups.push("0");
    groups.push(...rest);
  }
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":");
}
