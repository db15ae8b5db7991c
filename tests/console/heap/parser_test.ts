import assert from "node:assert/strict";
import { SnapshotParser } from "../../../console/heap/parser.ts";
import { captureChunks, makeSnapshot, split } from "./_fixture.ts";

const TRICKY = [
  "",
  'quote " inside',
  "back\\slash",
  "ends with backslash \\",
  "\\\\double\\\\",
  "line\nbreak\ttab\r",
  "unicode é ü 漢字",
  "emoji 😀 pair",
  "control \u0001\u001f",
  '\\"',
  "]",
  '","',
];

function trickySnapshot(): string {
  return makeSnapshot([
    {
      type: "synthetic",
      name: "",
      size: 0,
      edges: TRICKY.map((_, i) => ({
        type: "property",
        name: `p${i}`,
        to: i + 1,
      })),
    },
    ...TRICKY.map((s) => ({ type: "string", name: s, size: 16 + s.length })),
  ]);
}

function parseAll(chunks: string[]) {
  const parser = new SnapshotParser();
  for (const c of chunks) parser.push(c);
  return parser.finish();
}

function assertSameAsJson(text: string, chunks: string[]): void {
  const expected = JSON.parse(text);
  const got = parseAll(chunks);
  assert.deepEqual(got.meta, expected.snapshot.meta);
  assert.deepEqual(Array.from(got.nodes), expected.nodes);
  assert.deepEqual(Array.from(got.edges), expected.edges);
  assert.deepEqual(got.strings.toArray(), expected.strings);
  assert.equal(got.textLength, text.length);
}

Deno.test("`SnapshotParser` parses strings with escapes split at every position", () => {
  const text = trickySnapshot();
  for (let at = 1; at < text.length; at++) {
    assertSameAsJson(text, [text.slice(0, at), text.slice(at)]);
  }
});

Deno.test("`SnapshotParser` parses one character at a time", () => {
  const text = trickySnapshot();
  assertSameAsJson(text, [...text]);
});

Deno.test("`SnapshotParser` reads field offsets from meta (Node 20 has 7 node fields)", () => {
  const text = makeSnapshot([
    {
      type: "synthetic",
      name: "",
      size: 0,
      edges: [{ type: "element", name: 1, to: 1 }],
    },
    { type: "object", name: "Thing", size: 40 },
  ], { traceNodeId: true });
  const raw = parseAll(split(text, 7));
  assert.equal(raw.meta.node_fields.length, 7);
  assert.equal(raw.nodeCount, 2);
  assert.equal(raw.edgeCount, 1);
  assert.equal(
    raw.edges[2],
    7,
    "to_node stays a field offset in the raw arrays",
  );
});

Deno.test("`SnapshotParser` matches JSON.parse on a real Deno snapshot", async () => {
  const chunks = await captureChunks();
  const text = chunks.join("");
  const expected = JSON.parse(text);
  assert.equal(
    expected.snapshot.meta.node_fields.length,
    6,
    "Deno 2.9 writes 6 node fields",
  );
  // The inspector's own chunks, and odd-sized ones that cut numbers and escapes.
  for (const pieces of [chunks, split(text, 4093)]) {
    const got = parseAll(pieces);
    assert.equal(got.nodeCount, expected.snapshot.node_count);
    assert.equal(got.edgeCount, expected.snapshot.edge_count);
    assert.deepEqual(got.nodes, Uint32Array.from(expected.nodes));
    assert.deepEqual(got.edges, Uint32Array.from(expected.edges));
    assert.deepEqual(got.strings.toArray(), expected.strings);
  }
});

Deno.test("`SnapshotParser` rejects truncated and malformed input", () => {
  const text = trickySnapshot();
  const parser = new SnapshotParser();
  parser.push(text.slice(0, text.length - 10));
  assert.throws(() => parser.finish(), SyntaxError);
  assert.throws(
    () => parseAll(['{"snapshot":{"meta":{}},"nodes":[]}']),
    SyntaxError,
  );
  assert.throws(() => parseAll([text + "x"]), SyntaxError);
});
