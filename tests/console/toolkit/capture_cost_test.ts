import assert from "node:assert/strict";
import {
  COST_MODELS,
  estimateSnapshotPeak,
  probedShape,
  probeTables,
  scaledShape,
} from "../../../console/toolkit/capture_cost.ts";
import { findLibc } from "../../../console/toolkit/libc.ts";
import { taskFlags } from "../../_process.ts";
import {
  closeToolkitState,
  post,
} from "../../../console/toolkit/toolkit_state.ts";

/** The V8 flags `deno task start:fork` runs with (a capture's child hangs without them). */
const FORK_V8_FLAGS = (await taskFlags("start:fork")).find((flag) =>
  flag.startsWith("--v8-flags=")
)!;

const CHILD = new URL("./_estimate_child.ts", import.meta.url).pathname;
const HEAP_DIR = new URL("../../../console/heap/", import.meta.url).pathname;

Deno.test("`probeTables()` finds the heap's Maps and Sets and samples them", async () => {
  class Order {
    constructor(readonly id: number, readonly total: number) {}
  }
  const orders = new Map<string, Order>();
  for (let i = 0; i < 30_000; i++) orders.set(`order-${i}`, new Order(i, i));
  const seen = new Set<number>();
  for (let i = 0; i < 20_000; i++) seen.add(i);
  class Registry extends Map<number, string> {}
  const registry = new Registry([[1, "one"], [2, "two"]]);
  try {
    const tables = await probeTables(post);
    const map = tables.find((t) => t.kind === "Map" && t.size === 30_000);
    assert.deepEqual(map, {
      kind: "Map",
      size: 30_000,
      stringKeys: 1,
      heapKeys: 1,
      heapValues: 1,
    });
    // Small integers are no heap objects and no strings.
    const set = tables.find((t) => t.kind === "Set" && t.size === 20_000);
    assert.deepEqual(set, {
      kind: "Set",
      size: 20_000,
      stringKeys: 0,
      heapKeys: 0,
      heapValues: 0,
    });
    // A subclass is a Map too.
    assert.ok(tables.some((t) => t.kind === "Map" && t.size === 2));
    // Largest first; the 30 000 string keys make ~60 000 index names.
    assert.equal(tables[0]!.size, 30_000);
    const shape = probedShape(20 * 2 ** 20, tables);
    assert.ok(shape.indexNames > 60_000, `${shape.indexNames} index names`);
    assert.equal(orders.size + seen.size + registry.size, 50_002);
  } finally {
    await closeToolkitState();
  }
});

Deno.test("`probeTables()` fails clearly when the inspector cannot run it", async () => {
  const post = <T>(method: string): Promise<T> =>
    Promise.resolve(
      (method === "Runtime.evaluate"
        ? { result: { objectId: "1" } }
        : method === "Runtime.queryObjects"
        ? { objects: { objectId: "2" } }
        : { result: {}, exceptionDetails: { text: "Uncaught" } }) as T,
    );
  await assert.rejects(
    probeTables(post),
    /The Map\/Set probe failed: Uncaught/,
  );
});

Deno.test("`scaledShape()` never shrinks and grows index names faster", () => {
  const last = {
    nodes: 1000,
    edges: 0,
    indexNames: 100,
    chars: 5,
    heapUsed: 10,
    maxNodeId: 0,
  };
  assert.deepEqual(scaledShape(last, 5), {
    nodes: 1000,
    indexNames: 100,
    chars: 5,
    source: "last snapshot",
  });
  const grown = scaledShape(last, 15);
  assert.equal(grown.nodes, 1500);
  assert.equal(grown.indexNames, 165);
});

interface Estimated {
  shape: string;
  mode: string;
  estimate: number;
  source: string;
  peak: number;
  /** In a child: a second capture, estimated from the first snapshot. */
  second?: Estimated;
}

async function estimateIn(shape: string, fork: boolean): Promise<Estimated> {
  const home = await Deno.makeTempDir();
  try {
    const { code, stdout, stderr } = await new Deno.Command("deno", {
      args: [
        "run",
        "--allow-env=HOME",
        `--allow-read=${home},${HEAP_DIR}`,
        `--allow-write=${home}`,
        "--allow-sys",
        ...(fork
          ? [
            `--allow-ffi=${findLibc()}`,
            FORK_V8_FLAGS,
          ]
          : []),
        CHILD,
        shape,
      ],
      env: { HOME: home },
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    return JSON.parse(
      new TextDecoder().decode(stdout).trim().split("\n").at(-1)!,
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test({
  name:
    "the admission estimate is within -25%/+60% of the measured peak on four heap shapes (in a child, from the first snapshot)",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const runs: Array<[string, boolean]> = [
      ["objects", false],
      ["map", false],
      ["set", false],
      ["strings", false],
    ];
    // In a child too, where FFI on libc exists.
    if (findLibc() !== undefined) runs.push(["set", true]);
    const failures: string[] = [];
    for (const [shape, fork] of runs) {
      const first = await estimateIn(shape, fork);
      assert.equal(first.mode, fork ? "fork" : "in-process");
      // In a child the first capture is not probed (its guess from the
      // heap's size only decides a refusal; the child may take the memory
      // available): it went through all the same. The second is estimated
      // from the first snapshot.
      assert.equal(first.source, fork ? "heap size" : "probe");
      const r = fork ? first.second! : first;
      if (fork) assert.equal(r.source, "last snapshot");
      const ratio = r.estimate / r.peak;
      // Generous: the machine is shared; the bench has the exact table.
      if (ratio < 0.75 || ratio > 1.6) {
        failures.push(
          `${shape} (${r.mode}): estimated ${r.estimate}, measured ${r.peak} (×${
            ratio.toFixed(2)
          })`,
        );
      }
    }
    assert.deepEqual(failures, []);
  },
});

Deno.test("the cost model charges index names ~15× a node", () => {
  for (const model of Object.values(COST_MODELS)) {
    assert.ok(model.perIndexName > 10 * model.perNode);
    const shape = {
      nodes: 0,
      indexNames: 250_000,
      chars: 0,
      source: "probe",
    } as const;
    // 250 000 index names (a Map of ~125 000 string keys): over 1 GiB.
    assert.ok(estimateSnapshotPeak(shape, model) > 2 ** 30);
  }
});
