import assert from "node:assert/strict";
import type {
  RetainingPath,
  SnapshotSummary,
} from "../../../console/heap/analysis.ts";
import type { ClassStats } from "../../../console/heap/census.ts";
import { AnalysisClient } from "../../../console/heap/worker_client.ts";
import { makeSnapshot, split } from "./_fixture.ts";

const TEXT = makeSnapshot([
  {
    type: "synthetic",
    name: "",
    size: 0,
    edges: [{ type: "property", name: "cache", to: 1 }],
  },
  {
    type: "object",
    name: "Map",
    size: 32,
    edges: [{ type: "internal", name: "table", to: 2 }],
  },
  {
    type: "array",
    name: "",
    size: 64,
    edges: [3, 4, 5].map((to, i) => ({
      type: "internal",
      name: String(i),
      to,
    })),
  },
  { type: "object", name: "User", size: 40 },
  { type: "object", name: "User", size: 40 },
  { type: "object", name: "User", size: 40 },
]);

Deno.test("`AnalysisClient.load()` parses in the worker and answers queries", async () => {
  const client = new AnalysisClient();
  try {
    const progress: string[] = [];
    const summary: SnapshotSummary = await client.load(
      split(TEXT, 100),
      (label, done, total) => progress.push(`${label} ${done}/${total}`),
    );
    assert.equal(summary.nodeCount, 6);
    assert.equal(summary.totalSize, 32 + 64 + 3 * 40);
    assert.ok(progress.includes(`parse ${TEXT.length}/${TEXT.length}`));
    assert.ok(progress.includes("analyse: dominators 3/4"));
    const top = await client.query<ClassStats[]>({ kind: "top", n: 1 });
    assert.deepEqual(top, [{
      name: "User",
      count: 3,
      shallowSize: 120,
      retainedSize: 120,
      sessionCount: 0,
    }]);
    const path = await client.query<RetainingPath>({
      kind: "path",
      target: "User",
    });
    assert.deepEqual(path.steps.map((s) => s.edge), [
      "",
      ".cache",
      "{table}",
      "{2}",
    ]);
    assert.equal(path.target.id, 11, "of equal Users, the newest");
    assert.equal(path.picked?.count, 3, "it stands for the three in the Map");
  } finally {
    client.close();
  }
});

Deno.test("`AnalysisClient` reports a broken snapshot and keeps working", async () => {
  const client = new AnalysisClient();
  try {
    await assert.rejects(
      client.load(['{"snapshot":{"meta":{}},"nodes":[1,2]}']),
      /meta/,
    );
    await assert.rejects(
      client.query({ kind: "top", n: 1 }),
      /No analysed snapshot/,
    );
    const summary = await client.load([TEXT]);
    assert.equal(summary.edgeCount, 5);
  } finally {
    client.close();
  }
});

Deno.test("`AnalysisClient.close()` rejects work in flight", async () => {
  const client = new AnalysisClient();
  const pending = client.load(split(TEXT, 10));
  client.close();
  await assert.rejects(pending, /closed/);
});
