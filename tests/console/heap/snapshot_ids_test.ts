import assert from "node:assert/strict";
import { HeapAnalysis } from "../../../console/heap/analysis.ts";
import { SnapshotParser } from "../../../console/heap/parser.ts";
import {
  compareIds,
  isHeapObjectId,
  snapshotIds,
} from "../../../console/heap/snapshot_ids.ts";
import { hasTool } from "../../_tools.ts";
import { makeTrio, type Trio } from "../analyze/_snapshots.ts";

async function parse(path: string) {
  const parser = new SnapshotParser();
  const decoder = new TextDecoder();
  for await (const chunk of (await Deno.open(path)).readable) {
    parser.push(decoder.decode(chunk, { stream: true }));
  }
  return parser.finish();
}

function idsOf(raw: Awaited<ReturnType<typeof parse>>): number[] {
  const nf = raw.meta.node_fields.length;
  const at = raw.meta.node_fields.indexOf("id");
  const ids: number[] = [];
  for (let i = at; i < raw.nodes.length; i += nf) ids.push(raw.nodes[i]!);
  return ids;
}

Deno.test({
  name:
    "`snapshotIds()` and `summary().maxNodeId` skip Node's embedder ids, which follow no order",
  ignore: !hasTool("node"),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const { final } = await makeTrio("node-cjs", dir);
      const raw = await parse(final);
      const ids = idsOf(raw);
      const last = snapshotIds(raw).last;
      assert.ok(isHeapObjectId(last));
      assert.ok(
        ids.some((id) => !isHeapObjectId(id) && id > last),
        "Node's native nodes have even ids above every heap object's",
      );
      assert.equal(
        Math.max(...ids.filter(isHeapObjectId)),
        last,
      );
      assert.equal(HeapAnalysis.from(raw).summary().maxNodeId, last);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "`compareIds()` accepts a process's later snapshot and refuses another process's",
  ignore: !hasTool("node"),
  async fn() {
    const root = await Deno.makeTempDir();
    try {
      const runs: Trio[] = [];
      for (let i = 0; i < 2; i++) {
        runs.push(
          await makeTrio("node-cjs", await Deno.makeTempDir({ dir: root })),
        );
      }
      const [one, two] = runs as [Trio, Trio];
      const baseline = snapshotIds(await parse(one.baseline));
      const target = await parse(one.target);
      assert.deepEqual(compareIds(baseline, target), { sameProcess: true });
      assert.ok(snapshotIds(target).last > baseline.last);
      const other = compareIds(baseline, await parse(two.target));
      assert.equal(other.sameProcess, false);
      // Reversed: the later snapshot's ids stop below the earlier one's.
      const reversed = compareIds(
        snapshotIds(target),
        await parse(one.baseline),
      );
      assert.equal(reversed.sameProcess, false);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
