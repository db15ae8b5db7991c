import assert from "node:assert/strict";
import { type ByteSource, LineReader } from "../../console/line_reader.ts";

/** A source that hands out the given chunks one read at a time. */
function source(...chunks: (string | Uint8Array)[]): ByteSource {
  const queue = chunks.map((chunk) =>
    typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk
  );
  return {
    read(buffer) {
      const chunk = queue.shift();
      if (chunk === undefined) return Promise.resolve(null);
      const n = Math.min(chunk.length, buffer.length);
      buffer.set(chunk.subarray(0, n));
      if (n < chunk.length) queue.unshift(chunk.subarray(n));
      return Promise.resolve(n);
    },
  };
}

async function all(reader: LineReader) {
  const events = [];
  while (true) {
    const event = await reader.next();
    events.push(event);
    if (event.kind === "eof") return events;
  }
}

Deno.test("LineReader.next() splits lines across reads, drops a trailing \\r, returns a last unterminated line", async () => {
  const reader = new LineReader(source("one\r\ntw", "o\n\nthr", "ee"), 100);
  assert.deepEqual(await all(reader), [
    { kind: "line", line: "one" },
    { kind: "line", line: "two" },
    { kind: "line", line: "" },
    { kind: "line", line: "three" },
    { kind: "eof" },
  ]);
});

Deno.test("LineReader.next() decodes a multi-byte character split between reads", async () => {
  const bytes = new TextEncoder().encode("é😀\n");
  const reader = new LineReader(
    source(bytes.subarray(0, 1), bytes.subarray(1, 4), bytes.subarray(4)),
    100,
  );
  assert.deepEqual(await reader.next(), { kind: "line", line: "é😀" });
});

Deno.test("LineReader.next() skips an oversize line to its newline and carries on", async () => {
  const reader = new LineReader(
    source("ok\n", "x".repeat(40_000), "x".repeat(40_000) + "\nafter\n"),
    1000,
  );
  assert.deepEqual(await all(reader), [
    { kind: "line", line: "ok" },
    { kind: "oversize", bytes: 80_000 },
    { kind: "line", line: "after" },
    { kind: "eof" },
  ]);
});

Deno.test("LineReader.next() reports an oversize last line without a newline", async () => {
  const reader = new LineReader(source("y".repeat(5000)), 100);
  assert.deepEqual(await all(reader), [
    { kind: "oversize", bytes: 5000 },
    { kind: "eof" },
  ]);
});

Deno.test("LineReader.buffered counts bytes not yet returned", async () => {
  const reader = new LineReader(source("a\nbc"), 100);
  assert.equal(reader.buffered, 0);
  await reader.next();
  assert.equal(reader.buffered, 2);
});
