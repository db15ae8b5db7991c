import assert from "node:assert/strict";
import { writeHeapSnapshot } from "node:v8";
import {
  type SnapshotShape,
  SnapshotShapeScanner,
} from "../../../console/toolkit/snapshot_shape.ts";

/** The same counts, the slow way: the whole snapshot parsed as JSON. */
function parsedShape(text: string): SnapshotShape {
  const snapshot = JSON.parse(text);
  const fields: string[] = snapshot.snapshot.meta.node_fields;
  const nameAt = fields.indexOf("name");
  const named = new Set<number>();
  for (let i = nameAt; i < snapshot.nodes.length; i += fields.length) {
    named.add(snapshot.nodes[i]);
  }
  let indexNames = 0;
  (snapshot.strings as string[]).forEach((s, i) => {
    if (/^\d+$/.test(s) && !named.has(i)) indexNames++;
  });
  const idAt = fields.indexOf("id");
  let maxNodeId = 0;
  for (let i = idAt; i < snapshot.nodes.length; i += fields.length) {
    maxNodeId = Math.max(maxNodeId, snapshot.nodes[i]);
  }
  return {
    nodes: snapshot.snapshot.node_count,
    edges: snapshot.snapshot.edge_count,
    indexNames,
    chars: text.length,
    maxNodeId,
  };
}

function scan(pieces: Iterable<string>): SnapshotShape {
  const scanner = new SnapshotShapeScanner();
  for (const piece of pieces) scanner.push(piece);
  return scanner.result();
}

function* split(text: string, size: number): Generator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

Deno.test("`SnapshotShapeScanner` counts a real snapshot as JSON.parse does", async () => {
  // Index names: a Set's string members are internalized, and its slots.
  const held = new Set(Array.from({ length: 20_000 }, (_, i) => `k-${i}`));
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/x.heapsnapshot`;
    writeHeapSnapshot(path);
    const text = await Deno.readTextFile(path);
    const expected = parsedShape(text);
    assert.ok(expected.indexNames > 20_000, `${expected.indexNames} names`);
    // Any chunking: the inspector's, a file read's, odd sizes.
    for (const size of [1 << 20, 65_536, 4_099, 7]) {
      assert.deepEqual(scan(split(text, size)), expected, `chunks of ${size}`);
    }
    assert.equal(held.size, 20_000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`SnapshotShapeScanner` reads escapes, unicode and digit-like names right", () => {
  const strings = [
    "",
    "12",
    '"7"',
    "a\\",
    "3\n",
    "٣", // an Arabic-Indic digit is no index name
    "0042",
    "99",
    "ü€😀",
  ];
  const text = JSON.stringify({
    snapshot: {
      meta: { node_fields: ["type", "name", "id"] },
      node_count: 2,
      edge_count: 0,
    },
    nodes: [0, 7, 1, 0, 1, 2], // named "99" and "12"
    edges: [],
    strings,
  });
  const expected = {
    nodes: 2,
    edges: 0,
    indexNames: 1,
    chars: text.length,
    maxNodeId: 2,
  };
  // "0042" is the only integer string no node is named by.
  for (const size of [1, 2, 3, 5, 1000]) {
    assert.deepEqual(scan(split(text, size)), expected, `chunks of ${size}`);
  }
});

Deno.test("`SnapshotShapeScanner` rejects text that is no whole snapshot", () => {
  const whole = JSON.stringify({
    snapshot: { meta: { node_fields: ["type", "name"] }, node_count: 1 },
    nodes: [0, 0],
    edges: [],
    strings: ["x"],
  });
  // Truncated anywhere: no result, never a wrong one.
  for (const end of [0, 10, whole.indexOf("nodes"), whole.length - 3]) {
    assert.throws(
      () => scan([whole.slice(0, end)]),
      /ended early/,
      `cut at ${end}`,
    );
  }
  assert.throws(
    () => scan(["not json at all ".repeat(80_000)]),
    /Not a heap snapshot/,
  );
  assert.throws(
    () => scan(['{"snapshot":{"meta":{}},"nodes":[1,2]']),
    /no node fields/,
  );
  // Pushing after the end is ignored.
  const scanner = new SnapshotShapeScanner();
  scanner.push(whole);
  scanner.push("garbage");
  assert.equal(scanner.result().nodes, 1);
});
