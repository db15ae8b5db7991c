/**
 * Raw HTTP/1.1 over a socket, for tests that need what `fetch` hides:
 * pipelining (many requests in one write) and clients that never read.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One response read by {@linkcode readResponses}. */
export interface RawResponse {
  status: number;
  body: string;
}

/**
 * Encodes `count` pipelined `GET path` requests as one buffer.
 *
 * @param path The request path, e.g. `/metrics`.
 * @param count How many requests.
 * @returns The bytes to write.
 */
export function pipelinedGets(path: string, count: number): Uint8Array {
  return encoder.encode(
    `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`.repeat(count),
  );
}

/**
 * Reads `count` responses (each with a `content-length`) from `conn`.
 *
 * @param conn A connection the requests were written to.
 * @param count How many responses to read.
 * @param onResponse Called as each response arrives.
 * @returns The responses, in order.
 * @throws {Error} When the connection ends first.
 */
export async function readResponses(
  conn: Deno.Conn,
  count: number,
  onResponse?: (response: RawResponse) => void,
): Promise<RawResponse[]> {
  const responses: RawResponse[] = [];
  let pending = new Uint8Array(0);
  const chunk = new Uint8Array(65536);
  while (responses.length < count) {
    const end = headerEnd(pending);
    if (end !== -1) {
      const head = decoder.decode(pending.subarray(0, end));
      const length = Number(head.match(/\r\ncontent-length: *(\d+)/i)?.[1]);
      if (!Number.isFinite(length)) {
        throw new Error(`No content-length in:\n${head}`);
      }
      if (pending.length >= end + 4 + length) {
        const response = {
          status: Number(head.slice(9, 12)),
          body: decoder.decode(pending.subarray(end + 4, end + 4 + length)),
        };
        responses.push(response);
        onResponse?.(response);
        pending = pending.slice(end + 4 + length);
        continue;
      }
    }
    const n = await conn.read(chunk);
    if (n === null) {
      throw new Error(
        `Connection ended after ${responses.length} of ${count} responses`,
      );
    }
    const joined = new Uint8Array(pending.length + n);
    joined.set(pending);
    joined.set(chunk.subarray(0, n), pending.length);
    pending = joined;
  }
  return responses;
}

function headerEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (
      bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 &&
      bytes[i + 3] === 10
    ) return i;
  }
  return -1;
}
