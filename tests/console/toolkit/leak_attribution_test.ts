import assert from "node:assert/strict";
import {
  formatSite,
  type ProfileCallFrame,
  type ProfileNode,
  rankSites,
  type SamplingProfile,
  unnamedScripts,
} from "../../../console/toolkit/leak_attribution.ts";
import { holdExactFrames } from "../../../console/toolkit/exact_frames.ts";
import { post } from "../../../console/toolkit/toolkit_state.ts";
import { closeToolkit } from "../../../console/toolkit/mod.ts";

const SERVICE = "file:///srv/app/";
const CONSOLE = new URL("../../../console/", import.meta.url).href;
const FAKER =
  "file:///root/.cache/deno/npm/registry.npmjs.org/@faker-js/faker/10.6.0/dist/base.js";

let nextScript = 10;
function frame(
  functionName: string,
  url: string,
  lineNumber = 0,
  scriptId?: string,
): ProfileCallFrame {
  return {
    functionName,
    url,
    lineNumber,
    columnNumber: 0,
    scriptId: scriptId ?? (url === "" ? "0" : String(nextScript++)),
  };
}

function node(
  callFrame: ProfileCallFrame,
  selfSize: number,
  children: ProfileNode[] = [],
): ProfileNode {
  return { callFrame, selfSize, children };
}

function profile(...children: ProfileNode[]): SamplingProfile {
  return { head: node(frame("(root)", ""), 0, children) };
}

Deno.test("`rankSites()` charges the innermost developer frame, names what it called, and shows the path to it", async () => {
  const handler = frame("handle", `${SERVICE}lib/app.ts`, 80);
  const hook = frame("hook", `${SERVICE}lib/hook.ts`, 8);
  const append = frame("append", `${SERVICE}lib/linked.ts`, 25);
  const { sites, total } = await rankSites(
    profile(
      node(handler, 100, [
        node(hook, 300, [
          node(append, 200, [node(frame("push", ""), 900)]),
          node(frame("email", FAKER, 6), 400, [
            node(frame("join", ""), 100),
          ]),
        ]),
      ]),
    ),
    { n: 5 },
  );
  assert.equal(total, 2000);
  assert.deepEqual(
    sites.map((s) => [s.function, s.file, s.line, s.bytes, s.path, s.origin]),
    [
      [
        "append › push",
        "/srv/app/lib/linked.ts",
        26,
        1100,
        "app.ts:81 › hook.ts:9 › linked.ts:26",
        "service",
      ],
      [
        "hook › email (@faker-js/faker), join",
        "/srv/app/lib/hook.ts",
        9,
        800,
        "app.ts:81 › hook.ts:9",
        "service",
      ],
      ["handle", "/srv/app/lib/app.ts", 81, 100, "app.ts:81", "service"],
    ],
  );
  assert.equal(sites[0]!.share, 0.55);
  assert.equal(
    formatSite(sites[0]!),
    "1.07 KiB 55% append › push /srv/app/lib/linked.ts:26 (via app.ts:81 › hook.ts:9 › linked.ts:26)",
  );
});

Deno.test("`rankSites()` names code typed in a console session as such, and the module it calls", async () => {
  const snippet = frame("users.lookup", "", 3, "78");
  const append = frame("append", `${SERVICE}lib/linked.ts`, 25);
  const data = profile(
    node(frame("handle", `${SERVICE}lib/app.ts`, 80), 0, [
      node(snippet, 300, [node(append, 700)]),
    ]),
  );
  assert.deepEqual([...unnamedScripts(data.head)], ["78"]);
  const { sites } = await rankSites(data, {
    n: 5,
    scriptUrls: new Map([["78", "<console:12>"]]),
  });
  assert.deepEqual(
    sites.map((s) => [s.function, s.file, s.origin, s.path]),
    [
      [
        "append",
        "/srv/app/lib/linked.ts",
        "service",
        "app.ts:81 › console:12:4 › linked.ts:26",
      ],
      [
        "users.lookup",
        "console:12",
        "console session",
        "app.ts:81 › console:12:4",
      ],
    ],
  );
  assert.match(formatSite(sites[1]!), / console:12:4 \(console session\) /);
  // Without the script's URL it is code compiled at run time: the caller's.
  const unresolved = await rankSites(data, { n: 5 });
  assert.equal(unresolved.sites[1]!.function, "handle › users.lookup");
});

Deno.test("`rankSites()` leaves the console's own allocations out unless asked, and says how much", async () => {
  const evaluator = frame("evaluate", `${CONSOLE}eval/evaluator.ts`, 40);
  const data = profile(
    node(evaluator, 100, [
      node(frame("parse", `${SERVICE}node_modules/acorn/acorn.mjs`), 250),
    ]),
    node(frame("load", `${SERVICE}lib/users.ts`, 102), 250),
  );
  const mine = await rankSites(data, { n: 5 });
  assert.deepEqual(mine.sites.map((s) => s.function), ["load"]);
  assert.equal(mine.hidden, 350);
  assert.equal(mine.total, 600);
  const all = await rankSites(data, { n: 5, all: true });
  assert.deepEqual(
    all.sites.map((s) => [s.function, s.origin]),
    [["evaluate › parse (acorn)", "console"], ["load", "service"]],
  );
  assert.equal(all.hidden, 0);
});

Deno.test("`rankSites()` charges runtime-only stacks to the innermost script frame, collapses recursion and cuts long paths", async () => {
  const serve = frame("serveHttp", "ext:deno_http/00_serve.ts", 0);
  const walk = frame("walk", `${SERVICE}lib/tree.ts`, 10);
  let deep = node(walk, 64);
  for (let i = 0; i < 5; i++) deep = node(walk, 0, [deep]);
  const chain = [1, 2, 3, 4, 5].map((i) =>
    frame(`f${i}`, `${SERVICE}lib/f${i}.ts`, i)
  );
  let nested = node(chain[4]!, 32);
  for (let i = 3; i >= 0; i--) nested = node(chain[i]!, 0, [nested]);
  const { sites } = await rankSites(
    profile(node(serve, 64, [node(frame("set", ""), 128)]), deep, nested),
    { n: 5 },
  );
  assert.deepEqual(
    sites.map((s) => [s.function, s.origin, s.path]),
    [
      ["serveHttp › set", "runtime", ""],
      ["walk", "service", "tree.ts:11"],
      ["f5", "service", "… › f2.ts:3 › f3.ts:4 › f4.ts:5 › f5.ts:6"],
    ],
  );
});

const kept: unknown[] = [];
function leaf(id: string) {
  kept.push({ id, tags: [id, "x"], at: Date.now() });
}
function wrapper(id: string) {
  leaf(id);
  return id.length;
}
function outer(n: number) {
  let total = 0;
  for (let i = 0; i < n; i++) total += wrapper(`u${i % 1000}`);
  return total;
}

Deno.test("with frames held exact, the sampling profile names a function the optimizer would inline", async () => {
  // Hot enough for V8 to optimize outer() with wrapper() and leaf() inlined.
  for (let k = 0; k < 200; k++) outer(2000);
  kept.length = 0;
  const frames = await holdExactFrames();
  try {
    assert.equal(frames.exact, true, frames.problem);
    await post("HeapProfiler.startSampling", { samplingInterval: 4096 });
    for (let k = 0; k < 50; k++) outer(2000);
    const { profile } = await post<{ profile: SamplingProfile }>(
      "HeapProfiler.getSamplingProfile",
    );
    await post("HeapProfiler.stopSampling");
    const { sites } = await rankSites(profile, { n: 5 });
    const here = sites.filter((s) =>
      s.file.endsWith("leak_attribution_test.ts")
    );
    const leafSite = here.find((s) => s.function.startsWith("leaf"));
    assert.ok(leafSite, Deno.inspect(here));
    // leaf() keeps two objects a call, outer() one string.
    const outerBytes = here.find((s) => s.function.startsWith("outer"))
      ?.bytes ?? 0;
    assert.ok(leafSite.bytes > outerBytes, Deno.inspect(here));
    assert.match(
      leafSite.path,
      /leak_attribution_test\.ts:\d+ › leak_attribution_test\.ts:\d+ › leak_attribution_test\.ts:\d+$/,
    );
  } finally {
    await frames.release();
    kept.length = 0;
    await closeToolkit();
  }
});
