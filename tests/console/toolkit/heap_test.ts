import assert from "node:assert/strict";
import { SnapshotParser } from "../../../console/heap/parser.ts";
import {
  closeToolkit,
  createToolkit,
  type HeapHelpers,
  type ToolkitIO,
} from "../../../console/toolkit/mod.ts";
import * as leaks from "../heap/_leaks.ts";

class Leaked {
  readonly payload: number[];
  constructor(readonly id: number) {
    this.payload = [id, id + 1, id + 2, id + 3];
  }
}
class Watched {
  readonly blob = new Array(1000).fill(7);
}
class Grower {}

// The shape under test: 12 345 Leaked in a module-level Map; 100 Watched
// held by `strong` and also through WeakRefs; Grower count rises on demand.
const cache = new Map<number, Leaked>();
for (let i = 0; i < 12_345; i++) cache.set(i, new Leaked(i));
const strong: Watched[] = Array.from({ length: 100 }, () => new Watched());
const weakRefs = strong.map((w) => new WeakRef(w));
const growers: Grower[] = [];

/**
 * Registers a test of one console session's heap helpers; the toolkit (and
 * its analysis worker) is closed after each, pass or fail.
 */
function heapTest(
  name: string,
  fn: (heap: HeapHelpers) => Promise<void>,
  io: ToolkitIO = { progress: () => {} },
): void {
  Deno.test(name, async () => {
    const { heap } = createToolkit(io);
    try {
      await fn(heap);
    } finally {
      await closeToolkit();
    }
  });
}

function recorder(): ToolkitIO & { calls: Array<[string, number, number]> } {
  const calls: Array<[string, number, number]> = [];
  return {
    calls,
    progress: (label, done, total) => calls.push([label, done, total]),
  };
}

const pathIO = recorder();
heapTest(
  "`heap.path()` leads through the cache Map to a leaked object",
  async (heap) => {
    const target = cache.get(4242)!;
    const path = await heap.path(target);
    assert.ok(path.reachable);
    assert.equal(path.target.className, "Leaked");
    const hop = path.steps.findIndex((s) => s.edge === "context cache");
    assert.ok(hop > 0, Deno.inspect(path));
    assert.equal(path.steps[hop]!.node.className, "Map");
    assert.equal(path.steps.at(-1)!.node.id, path.target.id);
    assert.ok(!path.steps.some((s) => s.edgeType === "weak"));
    const text = Deno.inspect(path);
    assert.match(text, /--context cache--> Map @\d+/);
    assert.match(text, /--\{table\}--> \(array\) @\d+/);

    // Progress: capture, parse in characters up to the total, analysis phases.
    const labels = new Set(pathIO.calls.map(([label]) => label));
    for (
      const l of [
        "capture",
        "parse",
        "analyse: retainers",
        "analyse: dominators",
      ]
    ) {
      assert.ok(labels.has(l), `progress ${l}`);
    }
    const parse = pathIO.calls.filter(([l]) => l === "parse");
    assert.equal(parse.at(-1)![1], parse.at(-1)![2]);

    // A type name picks one of its largest group; reuse skips a capture.
    const before = pathIO.calls.length;
    const byName = await heap.path("Leaked", { reuse: true });
    assert.equal(pathIO.calls.length, before, "reuse: no capture");
    assert.ok(byName.steps.some((s) => s.edge === "context cache"));
    await assert.rejects(heap.path("NoSuchType", { reuse: true }), RangeError);
  },
  pathIO,
);

heapTest("`heap.path()` never goes through weak references", async (heap) => {
  const path = await heap.path(strong[3]!);
  assert.ok(
    path.steps.some((s) => s.edge === "context strong"),
    Deno.inspect(path),
  );
  // The WeakRef holders retain none of their targets.
  const refs = await heap.path(weakRefs, { reuse: true });
  const blobs = 100 * 1000 * 4;
  assert.ok(
    refs.target.retainedSize < blobs / 10,
    `${refs.target.retainedSize}`,
  );
  const held = await heap.path(strong, { reuse: true });
  assert.ok(held.target.retainedSize >= blobs, `${held.target.retainedSize}`);
});

heapTest(
  "`heap.top()` and `heap.largest()` show the leak and sizes that add up",
  async (heap) => {
    const top = await heap.top(1000);
    const leaked = top.find((r) => r.type === "Leaked");
    assert.ok(leaked);
    assert.equal(leaked.count, 12_345);
    assert.ok(leaked.retainedSize > leaked.shallowSize);
    const three = await heap.top(3, { reuse: true });
    assert.equal(three.length, 3);
    assert.match(Deno.inspect(three), /type\s+count\s+shallow\s+retained/);
    const largest = await heap.largest(3, { reuse: true });
    const map = largest.find((r) =>
      r.className === "Map" && r.path.endsWith("context cache")
    );
    assert.ok(map, Deno.inspect(largest));
    // The Map retains at least every entry's shallow size; nested Leaked
    // instances never overlap, so the class total fits inside the Map's.
    assert.ok(map.retainedSize >= leaked.shallowSize);
    assert.ok(map.retainedSize >= leaked.retainedSize);
    assert.ok(map.retainedSize < leaked.retainedSize * 1.5);
    assert.equal(
      top.find((r) => r.type === "Grower")?.count ?? 0,
      growers.length,
    );
  },
);

heapTest(
  "`heap.growth()` sets a baseline, then reports exactly the delta",
  async (heap) => {
    const first = await heap.growth();
    assert.deepEqual(first, []);
    assert.match(Deno.inspect(first), /baseline set/);
    for (let i = 0; i < 777; i++) growers.push(new Grower());
    const second = await heap.growth(1000);
    const row = second.find((r) => r.type === "Grower");
    assert.ok(row, Deno.inspect(second));
    assert.equal(row.count, growers.length);
    assert.equal(row.increase, 777);
    assert.equal(row.new, 777);
    assert.equal(row.freed, 0);
    assert.ok(row.size > 0 && row.sizeDelta === row.size, `${row.size}`);
    assert.equal(row.newSize, row.size);
    assert.match(Deno.inspect(second), /size Δ\s+new\s+freed/);
    assert.equal(second.find((r) => r.type === "Leaked"), undefined);
    // Another session has its own baseline.
    const other = createToolkit({ progress: () => {} });
    assert.deepEqual(await other.heap.growth(10, { reuse: true }), []);
  },
);

heapTest(
  "`heap.graph()` writes DOT and an SVG through Graphviz",
  async (heap) => {
    const dir = await Deno.makeTempDir();
    try {
      const report = await heap.graph(cache.get(7)!, `${dir}/leak.svg`);
      assert.equal(report.dotFile, `${dir}/leak.dot`);
      const dot = await Deno.readTextFile(report.dotFile);
      assert.equal(dot, report.dot);
      assert.match(dot, /^digraph retainers \{/);
      assert.match(dot, /label="context cache"/);
      assert.match(dot, /Leaked @\d+/);
      if (report.imageFile) {
        assert.match(await Deno.readTextFile(report.imageFile), /<svg/);
      } else {
        assert.match(report.note ?? "", /dot/);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

const snapshotIO = recorder();
heapTest("`heap.snapshot()` writes a file in the V8 format", async (heap) => {
  const dir = await Deno.makeTempDir();
  try {
    const report = await heap.snapshot(`${dir}/x.heapsnapshot`);
    const text = await Deno.readTextFile(report.path);
    assert.equal(report.bytes, text.length);
    const json = JSON.parse(text);
    assert.deepEqual(json.snapshot.meta.node_fields.slice(0, 3), [
      "type",
      "name",
      "id",
    ]);
    const parser = new SnapshotParser();
    parser.push(text);
    const raw = parser.finish();
    assert.equal(raw.nodeCount, json.snapshot.node_count);
    assert.ok(json.strings.includes("Leaked"));
    assert.ok(snapshotIO.calls.some(([l]) => l === "write"));
    assert.match(Deno.inspect(report), /Chrome DevTools/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}, snapshotIO);

heapTest(
  "`heap.growth()` reports freed objects and follows the peak rule on request",
  async (heap) => {
    try {
      await heap.growth();
      await heap.growth(10, { peak: true });
      const start = growers.length;
      for (let i = 0; i < 500; i++) growers.push(new Grower());
      const rose = await heap.growth(1000, { peak: true });
      assert.equal(rose.find((r) => r.type === "Grower")?.increase, 500);
      // Drop 400 and refill 300: 100 below the peak.
      growers.length = start + 100;
      for (let i = 0; i < 300; i++) growers.push(new Grower());
      const again = await heap.growth(1000, { peak: true });
      assert.equal(
        again.find((r) => r.type === "Grower"),
        undefined,
        "below its peak: not reported",
      );
      // Another session, baseline on that snapshot: drop 100, add 150.
      const other = createToolkit({ progress: () => {} }).heap;
      await other.growth(10, { reuse: true });
      growers.length = start + 300;
      for (let i = 0; i < 150; i++) growers.push(new Grower());
      const plain = await other.growth(1000);
      const row = plain.find((r) => r.type === "Grower");
      assert.ok(row, Deno.inspect(plain));
      assert.equal(row.increase, 50);
      assert.equal(row.new, 150);
      assert.equal(row.freed, 100);
    } finally {
      growers.length = 0;
    }
  },
);

heapTest(
  "`heap.growth()` with nothing in between shows none of the console's objects",
  async (heap) => {
    await heap.growth();
    await heap.top(3);
    const rows = await heap.growth(1000);
    const strings = rows.find((r) => r.type === "(string)");
    assert.ok((strings?.increase ?? 0) < 50, Deno.inspect(rows));
    const code = rows.find((r) => r.type === "(code)");
    assert.ok((code?.increase ?? 0) < 50, Deno.inspect(rows));
    const all = await heap.top(1000, { reuse: true, all: true });
    const own = await heap.top(1000, { reuse: true });
    const closures = (rows: typeof own) =>
      rows.find((r) => r.type === "(closure)")?.count ?? 0;
    assert.ok(closures(all) > closures(own), "all: true adds the console's");
  },
);

heapTest(
  "`heap.leaks()` finds each kind of leak and names its holder",
  async (heap) => {
    try {
      const first = await heap.leaks();
      assert.deepEqual(first, []);
      assert.match(Deno.inspect(first), /baseline set/);
      leaks.leakTimers(40);
      leaks.leakListeners(20);
      leaks.leakRegistry(300);
      leaks.leakStrings(8);
      leaks.leakPromiseChain(1_000);
      leaks.holdWeakly(200);
      const rows = await heap.leaks(30);
      const text = Deno.inspect(rows);
      const rank = (test: (r: (typeof rows)[number]) => boolean) => {
        const at = rows.findIndex(test);
        assert.ok(at >= 0, text);
        return rows[at]!;
      };
      const file = "tests/console/heap/_leaks.ts";
      const timers = rank((r) => r.objects.startsWith("(closure) poll ("));
      assert.equal(timers.mainCount, 40);
      assert.ok(
        timers.retainedSize >= 40 * 10_000 * 8,
        `${timers.retainedSize}`,
      );
      // The closure's position is its line in the .ts source; the timer is
      // named by its callback.
      const source = await Deno.readTextFile(
        new URL("../heap/_leaks.ts", import.meta.url),
      );
      const line = source.split("\n").findIndex((l) =>
        l.includes("function poll()")
      ) + 1;
      assert.equal(timers.mainObjects, `(closure) poll (${file}:${line})`);
      assert.equal(
        timers.heldBy,
        `setInterval callback poll at ${file}:${line}`,
      );
      const registry = rank((r) => r.className === "Registered");
      assert.equal(registry.count, 300);
      assert.equal(registry.heldBy, `registry (${file}) → [*]`);
      assert.equal(registry.holder?.kind, "module");
      const strings = rank((r) => r.heldBy.startsWith("auditTrail ("));
      assert.equal(strings.className, "(string)");
      assert.equal(strings.holder?.kind, "export");
      assert.ok(strings.retainedSize >= 8 * 100_000);
      const chain = rank((r) => r.className === "Promise");
      assert.equal(chain.heldBy, `chainHead (${file})`);
      // One row for the chain, counted by its links.
      assert.ok(chain.mainCount >= 990, `${chain.mainCount} links`);
      assert.match(chain.objects, /^Promise chain from \(anonymous\) \(/);
      assert.ok(chain.retainedSize > 1_000 * 48, `${chain.retainedSize}`);
      const listeners = rank((r) =>
        r.heldBy === `bus (${file}) "message" listeners`
      );
      assert.equal(listeners.mainCount, 20);
      assert.ok(listeners.retainedSize >= 20 * 2_000 * 8, text);
      assert.ok(
        !rows.some((r) => r.className === "WeaklyHeld"),
        "weakly held objects are not leaks",
      );
      assert.ok(
        !rows.some((r) => (r.holder?.url ?? "").includes("/console/toolkit/")),
        "the console's own objects are left out",
      );
      // The largest leaks come first, each with a full example path.
      assert.ok(rows.indexOf(timers) < 3, text);
      assert.equal(
        rows[0]!.example.steps.at(-1)!.node.id,
        rows[0]!.example.target.id,
      );
      assert.match(text, /^objects allocated since the baseline/);
      assert.match(
        text,
        /left out: [\d ]+ new objects \([^)]+\) the console holds/,
      );
      assert.match(
        text,
        /registry \(tests\/console\/heap\/_leaks\.ts\) → \[\*\]/,
      );
    } finally {
      leaks.cure();
    }
  },
);

heapTest(
  "`heap.largest()` by kind puts many small holders in one row",
  async (heap) => {
    try {
      leaks.leakTimers(60, 5_000);
      const rows = await heap.largest(20, { by: "kind" });
      const poll = rows.find((r) => r.name.startsWith("(closure) poll ("));
      assert.ok(poll, Deno.inspect(rows));
      assert.equal(poll.count, 60);
      assert.ok(poll.retainedSize >= 60 * 5_000 * 8, `${poll.retainedSize}`);
      assert.match(Deno.inspect(rows), /retained\s+count\s+kind/);
      const objects = await heap.largest(3, { reuse: true });
      assert.ok(objects.every((r) => typeof r.heldBy === "string"));
      await assert.rejects(
        // deno-lint-ignore no-explicit-any
        () => heap.largest(3, { by: "size" as any }),
        TypeError,
      );
    } finally {
      leaks.cure();
    }
  },
);

class Link {
  next: Link | undefined;
}
class ChainEnd extends Link {}
const chain = new Link();

/** Makes a chain of `n` links under `chain`, ending in a `ChainEnd`. */
function growChain(n: number): void {
  let tail = chain;
  for (let i = 0; i < n; i++) tail = tail.next = new Link();
  tail.next = new ChainEnd();
}

heapTest(
  "`heap.path()` elides the middle of a long chain and names holders",
  async (heap) => {
    growChain(3_000);
    try {
      const path = await heap.path("ChainEnd");
      assert.ok(path.steps.length > 3_000, `${path.steps.length}`);
      const text = Deno.inspect(path);
      const lines = text.split("\n");
      assert.ok(lines.length < 30, `${lines.length} lines`);
      assert.match(text, /… [\d ]+ more references/);
      assert.match(lines.at(-1)!, new RegExp(`ChainEnd @${path.target.id}$`));
      assert.match(lines[0]!, /^path to ChainEnd @\d+/);
      leaks.leakRegistry(3);
      const registered = await heap.path("Registered");
      assert.match(
        Deno.inspect(registered),
        /--context registry--> Array @\d+ = registry \(tests\/console\/heap\/_leaks\.ts\)/,
      );
      // A string that is no type name: a short error, not an echo.
      const error = await heap.path("x".repeat(88_000), { reuse: true }).then(
        () => undefined,
        (e: Error) => e,
      );
      assert.ok(error instanceof RangeError);
      assert.ok(error.message.length < 200, error.message);
      assert.match(error.message, /No live object of type "x+…"/);
    } finally {
      chain.next = undefined;
      leaks.cure();
    }
  },
);

heapTest(
  "`heap.*` take options first or second, and reject bad ones saying what they take",
  async (heap) => {
    const rejects = (p: Promise<unknown>, pattern: RegExp) =>
      assert.rejects(p, (e: Error) => {
        assert.match(e.message, pattern);
        assert.ok(e.message.length < 200, e.message);
        return true;
      });
    await rejects(
      heap.top({ al: true } as never),
      /^heap\.top\(\) has no option "al"; it takes "reuse", "all"$/,
    );
    await rejects(heap.top("5" as never), /positive row count, got "5"/);
    await rejects(heap.top(0), /positive row count, got "0"/);
    await rejects(
      (heap.top as (...args: unknown[]) => Promise<unknown>)(1, {}, {}),
      /takes a row count and an options object, got 3 arguments/,
    );
    await rejects(
      heap.growth({ peak: "yes" } as never),
      /heap\.growth\(\) takes peak: true or false, got "yes"/,
    );
    await rejects(
      heap.largest({ by: "size" } as never),
      /heap\.largest\(\) takes by: "object" or "kind", got "size"/,
    );
    await rejects(
      heap.graph(cache, { depth: 0 }),
      /takes depth: an integer from 1 to 64, got "0"/,
    );
    await rejects(
      heap.graph(cache, 42 as never),
      /file name or an options object after the target, got number/,
    );
    await rejects(
      heap.path(cache, "all" as never),
      /options object, got "all"/,
    );
    await rejects(
      heap.leaks({ reset: 1 } as never),
      /takes reset: true or false, got "1"/,
    );
    await rejects(heap.snapshot(42 as never), /takes a file name, got number/);
    await rejects(
      heap.top({ ["x".repeat(10_000)]: 1 } as never),
      /has no option "x+…"/,
    );
    // Options first read like options second.
    const first = await heap.top({ all: true });
    assert.equal(first.length, 10);
    const kinds = await heap.largest({ by: "kind", reuse: true });
    assert.ok(kinds.every((r) => typeof r.name === "string"));
  },
);
