/**
 * Endpoints: the address a client dialled and the address a console
 * listens on, written the same way on both sides, so the challenge's answer
 * can be bound to it (a relay on another address cannot pass an answer on).
 *
 * - TCP: `tcp:ADDRESS:PORT`, the address as the socket reports it (never a
 *   host name: `localhost` is whatever it resolved to), IPv6 in brackets in
 *   its RFC 5952 form, an IPv4-mapped IPv6 address as plain IPv4, and the
 *   real port (never 0).
 * - Unix socket: `unix:PATH`, the socket's path with symbolic links
 *   resolved, absolute.
 *
 * @module
 */

import { resolve } from "node:path";

/** The longest endpoint accepted on the wire. */
export const MAX_ENDPOINT_LENGTH = 1024;

/**
 * The endpoint of a TCP address.
 *
 * @param addr The address: the client's `remoteAddr`, the server's
 * `localAddr`.
 * @returns `tcp:ADDRESS:PORT`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tcpEndpoint } from "./endpoint.ts";
 * assert.equal(tcpEndpoint({ hostname: "::ffff:127.0.0.1", port: 7 }), "tcp:127.0.0.1:7");
 * assert.equal(tcpEndpoint({ hostname: "0:0:0:0:0:0:0:1", port: 7 }), "tcp:[::1]:7");
 * ```
 */
export function tcpEndpoint(addr: { hostname: string; port: number }): string {
  const host = canonicalAddress(addr.hostname);
  return `tcp:${host.includes(":") ? `[${host}]` : host}:${addr.port}`;
}

/**
 * The endpoint of a unix socket path: absolute, symbolic links resolved
 * (when the path may be read; otherwise only made absolute).
 *
 * @param path The socket's path, as given.
 * @returns `unix:PATH`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unixEndpoint } from "./endpoint.ts";
 * assert.equal(await unixEndpoint("/nonexistent/a/../c.sock"), "unix:/nonexistent/c.sock");
 * ```
 */
export async function unixEndpoint(path: string): Promise<string> {
  try {
    return `unix:${await Deno.realPath(path)}`;
  } catch {
    // Not there, or not readable under these permissions.
    try {
      return `unix:${resolve(path)}`;
    } catch {
      return `unix:${path}`; // the working directory is not readable
    }
  }
}

/**
 * Whether `text` is an endpoint as this module writes them.
 *
 * @param text Anything from the wire.
 * @returns `true` for `tcp:ADDRESS:PORT` and `unix:/PATH` without control
 * characters, at most {@linkcode MAX_ENDPOINT_LENGTH} long.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isEndpoint } from "./endpoint.ts";
 * assert.ok(isEndpoint("tcp:[::1]:44444") && isEndpoint("unix:/run/c.sock"));
 * assert.ok(!isEndpoint("localhost:44444") && !isEndpoint(7));
 * ```
 */
export function isEndpoint(text: unknown): text is string {
  return typeof text === "string" && text.length <= MAX_ENDPOINT_LENGTH &&
    // deno-lint-ignore no-control-regex
    !/[\u0000-\u001f\u007f]/.test(text) &&
    (/^tcp:(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:.]+\]):\d{1,5}$/.test(text) ||
      /^unix:\/./.test(text));
}

/**
 * An endpoint as people write it: `127.0.0.1:44444`, `[::1]:44444`, a path.
 *
 * @param endpoint An endpoint.
 * @returns It without its `tcp:` or `unix:` prefix.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeEndpoint } from "./endpoint.ts";
 * assert.equal(describeEndpoint("tcp:127.0.0.1:44444"), "127.0.0.1:44444");
 * ```
 */
export function describeEndpoint(endpoint: string): string {
  return endpoint.replace(/^(tcp|unix):/, "");
}

/**
 * An IP address in one spelling: IPv4 dotted, IPv6 per RFC 5952 (lower
 * case, longest zero run as `::`), zone and brackets dropped, IPv4-mapped
 * IPv6 as IPv4. Anything else is returned lower-cased.
 */
function canonicalAddress(address: string): string {
  let text = address.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  const zone = text.indexOf("%");
  if (zone !== -1) text = text.slice(0, zone);
  if (!text.includes(":")) return text;
  const groups = ipv6Groups(text);
  if (groups === undefined) return text;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [high, low] = [groups[6]!, groups[7]!];
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  // The longest run of two or more zero groups (the first of equals) is `::`.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${
    hex.slice(bestStart + bestLength).join(":")
  }`;
}

/** The eight 16-bit groups of an IPv6 address, or `undefined`. */
function ipv6Groups(text: string): number[] | undefined {
  let body = text;
  const tail: number[] = [];
  const dotted = body.match(
    /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/,
  );
  if (dotted) {
    const bytes = dotted.slice(2).map(Number);
    if (bytes.some((b) => b > 255)) return undefined;
    tail.push((bytes[0]! << 8) | bytes[1]!, (bytes[2]! << 8) | bytes[3]!);
    body = dotted[1]!.endsWith("::") ? dotted[1]! : dotted[1]!.slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string) =>
    part === ""
      ? []
      : part.split(":").map((g) =>
        /^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN
      );
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const known = head.length + rest.length + tail.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return undefined;
  const groups = [
    ...head,
    ...new Array(8 - known).fill(0),
    ...rest,
    ...tail,
  ];
  return groups.some(Number.isNaN) ? undefined : groups;
}
