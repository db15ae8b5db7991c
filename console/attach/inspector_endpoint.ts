/**
 * Where an inspector's WebSocket is: `--inspect HOST:PORT` or `ws://…`
 * parsed, and the target found through the inspector's `/json/list` (read
 * with a deadline and a size limit).
 *
 * @module
 */

import { UsageError } from "../flags.ts";
import { InspectorLinkError } from "./websocket_link.ts";

/** An inspector's HTTP address. */
export interface InspectorAddress {
  /** Its host: an IP address or a name. */
  host: string;
  /** Its port. */
  port: number;
}

/** An inspector target, ready to connect to. */
export interface InspectorEndpoint extends InspectorAddress {
  /** The WebSocket URL, built from `host`, `port` and the target's id. */
  url: string;
  /** The target's title (Deno's says `deno - main [pid: N]`). */
  title: string;
  /** The main module or script, as the inspector reports it. */
  scriptUrl: string;
}

/** Deno's and Node's default inspector port (Deno's SIGUSR1 port, always). */
export const DEFAULT_INSPECTOR_PORT = 9229;

const MAX_LIST_BYTES = 256 * 1024;
const MAX_ARGUMENT_CHARS = 2048;

/**
 * Parses the value of `--inspect`: `HOST:PORT`, `[IPV6]:PORT`, `PORT` (on
 * 127.0.0.1) or a `ws://` URL as Deno and Node print it.
 *
 * @param text The flag's value.
 * @returns The address, and the WebSocket URL when one was given.
 * @throws {UsageError} On anything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseInspectArgument } from "./inspector_endpoint.ts";
 * assert.deepEqual(parseInspectArgument("9230"), { host: "127.0.0.1", port: 9230 });
 * assert.deepEqual(parseInspectArgument("[::1]:9229"), { host: "::1", port: 9229 });
 * assert.deepEqual(
 *   parseInspectArgument("ws://127.0.0.1:9229/0f3b"),
 *   { host: "127.0.0.1", port: 9229, url: "ws://127.0.0.1:9229/0f3b" },
 * );
 * assert.throws(() => parseInspectArgument("localhost:http"), /--inspect/);
 * ```
 */
export function parseInspectArgument(
  text: string,
): InspectorAddress & { url?: string } {
  const fail = (why: string): never => {
    throw new UsageError(
      `--inspect ${
        JSON.stringify(text.slice(0, 80))
      }: ${why} (expected HOST:PORT, PORT or a ws:// URL)`,
    );
  };
  if (text.length > MAX_ARGUMENT_CHARS) fail("too long");
  if (/^wss?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return fail("not a valid URL");
    }
    if (url.protocol !== "ws:") fail("only ws:// (the inspector has no TLS)");
    const port = url.port === "" ? 80 : Number(url.port);
    return {
      host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
      port,
      url: url.href,
    };
  }
  const match =
    /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text) ??
      /^()()(\d{1,5})$/.exec(text);
  if (match === null) return fail("not an address");
  const port = Number(match[3]);
  if (port < 1 || port > 65535) fail("the port must be 1-65535");
  return { host: match[1] || match[2] || "127.0.0.1", port };
}

/**
 * Asks an inspector for its targets (`GET /json/list`) and picks the
 * process's main one (Deno lists a worker's as another target).
 *
 * @param address The inspector's HTTP address.
 * @param options The deadline (3 000 ms) and the target's name for messages.
 * @returns The target's endpoint.
 * @throws {InspectorLinkError} When nothing answers in time, the answer is
 * over 256 KiB or not an inspector's.
 */
export async function findInspectorTarget(
  address: InspectorAddress,
  options: { timeoutMs?: number; name?: string } = {},
): Promise<InspectorEndpoint> {
  const where = describeInspectorAddress(address);
  const name = options.name ?? `the inspector at ${where}`;
  const timeoutMs = options.timeoutMs ?? 3_000;
  let text: string;
  try {
    const response = await fetch(`http://${where}/json/list`, {
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "error",
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    text = await readBounded(response, MAX_LIST_BYTES);
  } catch (error) {
    throw new InspectorLinkError(
      `cannot list the targets of ${name}: ${
        error instanceof DOMException && error.name === "TimeoutError"
          ? `no answer within ${timeoutMs} ms`
          : error instanceof Error
          ? error.message
          : String(error)
      }`,
    );
  }
  return pickTarget(text, address, name);
}

/**
 * Picks the main target out of a `/json/list` answer: the first with a
 * WebSocket URL, Deno's main worker first. The WebSocket URL is rebuilt on
 * `address`, so an answer naming another host cannot send us elsewhere.
 *
 * @param text The answer's body.
 * @param address Where it came from.
 * @param name The inspector's name for messages.
 * @returns The endpoint.
 * @throws {InspectorLinkError} When the answer lists no target.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pickTarget } from "./inspector_endpoint.ts";
 * const list = JSON.stringify([{
 *   id: "3f0c", title: "deno - main [pid: 42]", url: "file:///app.ts",
 *   webSocketDebuggerUrl: "ws://evil.example:80/3f0c",
 * }]);
 * const target = pickTarget(list, { host: "127.0.0.1", port: 9229 }, "it");
 * assert.equal(target.url, "ws://127.0.0.1:9229/3f0c");
 * assert.throws(() => pickTarget("[]", { host: "127.0.0.1", port: 9229 }, "it"), /no target/);
 * ```
 */
export function pickTarget(
  text: string,
  address: InspectorAddress,
  name: string,
): InspectorEndpoint {
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    throw new InspectorLinkError(
      `${name} answered /json/list with something other than JSON: is it a V8 inspector?`,
    );
  }
  const targets = (Array.isArray(list) ? list : []).filter((
    entry,
  ): entry is Record<string, unknown> =>
    typeof entry === "object" && entry !== null &&
    typeof entry.webSocketDebuggerUrl === "string" &&
    typeof entry.id === "string" && /^[\w.-]{1,128}$/.test(entry.id)
  );
  const main =
    targets.find((entry) =>
      / - main \[pid: \d+\]$/.test(String(entry.title))
    ) ??
      targets[0];
  if (main === undefined) {
    throw new InspectorLinkError(
      `${name} lists no target to connect to (someone else may be connected, or it is not a V8 inspector)`,
    );
  }
  return {
    ...address,
    url: `ws://${describeInspectorAddress(address)}/${main.id}`,
    title: String(main.title ?? "").slice(0, 200),
    scriptUrl: String(main.url ?? "").slice(0, 1000),
  };
}

/**
 * `HOST:PORT`, with an IPv6 host in brackets.
 *
 * @param address The address.
 * @returns Its text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeInspectorAddress } from "./inspector_endpoint.ts";
 * assert.equal(describeInspectorAddress({ host: "::1", port: 9229 }), "[::1]:9229");
 * ```
 */
export function describeInspectorAddress(address: InspectorAddress): string {
  return address.host.includes(":")
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}

/**
 * Whether a host is this machine's loopback, where `/proc` can tell who
 * listens.
 *
 * @param host The host.
 * @returns `true` for 127.0.0.0/8, `::1` and `localhost`.
 */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

async function readBounded(
  response: Response,
  maxBytes: number,
): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBytes) {
      await reader.cancel();
      throw new Error(`an answer over ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(bytes);
}
