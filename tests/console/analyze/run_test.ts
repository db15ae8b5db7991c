/**
 * `main.ts analyze`, run as `deno task analyze` runs it, on snapshots that
 * real programs wrote in the test: Node (CommonJS and ES module) and Deno
 * programs that leak through a module-level Map, a page in headless
 * Chromium (when installed) and its checked-in snapshot, and the users
 * service through its console's `heap.snapshot()`.
 */

import assert from "node:assert/strict";
import { sendLoad } from "../../../bench/load.ts";
import { startServe, taskFlags } from "../../_process.ts";
import { TestConnection, valueOf } from "../_console_client.ts";
import { hasTool } from "../../_tools.ts";
import { chromeSnapshots, CHROMIUM } from "./_chrome.ts";
import {
  analyze,
  jsonLeaks,
  LATE,
  makeTrio,
  type Runtime,
  VISITS,
} from "./_snapshots.ts";
import { CHROME_FIXTURE, FIXTURE_VISITS } from "./make_chrome_fixture.ts";

const node = hasTool("node");

/**
 * The leak as `analyze` reports it from three snapshots of one runtime:
 * the Map's entries, held by `seen` of the program's file, and nothing of
 * what was allocated after the target snapshot.
 */
async function checkTrio(runtime: Runtime, file: string): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: `analyze-${runtime}-` });
  try {
    const trio = await makeTrio(runtime, dir);
    // As `deno task analyze` started in the program's folder: files print
    // relative to it.
    const here = { INIT_CWD: dir };
    const leaks = await jsonLeaks(
      [trio.baseline, trio.target, trio.final],
      here,
    );
    const bySeen = leaks.filter((g) => g.heldBy.startsWith(`seen (${file})`));
    assert.ok(
      bySeen.length > 0,
      `a group held by seen (${file}): ${leaks.map((g) => g.heldBy)}`,
    );
    assert.equal(leaks[0]!.heldBy.split(" → ")[0], `seen (${file})`);
    assert.equal(leaks[0]!.holder?.kind, "module");
    assert.ok(
      bySeen.some((g) => g.count === VISITS),
      `one of the groups held by seen has the ${VISITS} visits: ${
        bySeen.map((g) => `${g.objects} × ${g.count}`)
      }`,
    );
    assert.ok(
      !leaks.some((g) => g.heldBy.startsWith("late")),
      "what was allocated after the target is not a leak (memlab's method)",
    );
    // With two files there is no upper bound: `late` shows up.
    const since = await jsonLeaks([trio.baseline, trio.final], here);
    const late = since.find((g) => g.heldBy.startsWith(`late (${file})`));
    assert.ok(late, `late (${file}) in ${since.map((g) => g.heldBy)}`);
    assert.equal(late.count, LATE);
    // The text report names the same holder.
    const text = await analyze(
      [trio.baseline, trio.target, trio.final],
      here,
    );
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /memlab's method/);
    assert.match(
      text.stdout,
      new RegExp(`^ *[\\d.]+ [KM]iB +[\\d ]+ +\\S.* seen \\(${file}\\)`, "m"),
    );
    assert.equal(text.stderr, "", "no progress when stderr is not a terminal");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "`analyze BASELINE TARGET FINAL` names seen (app.js) in a Node CommonJS program's snapshots",
  ignore: !node,
  fn: () => checkTrio("node-cjs", "app.js"),
});

Deno.test({
  name:
    "`analyze BASELINE TARGET FINAL` names seen (app.mjs) in a Node ES module's snapshots",
  ignore: !node,
  fn: () => checkTrio("node-esm", "app.mjs"),
});

Deno.test(
  "`analyze BASELINE TARGET FINAL` names seen (app.ts) in a Deno program's node:v8 snapshots",
  () => checkTrio("deno", "app.ts"),
);

Deno.test({
  name: "`analyze` summary, --path and --graph name the Map in a Node snapshot",
  ignore: !node,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "analyze-summary-" });
    try {
      const { final } = await makeTrio("node-cjs", dir);
      const here = { INIT_CWD: dir };
      const json = await analyze([final, "--json"], here);
      assert.equal(json.code, 0, json.stderr);
      const summary = JSON.parse(json.stdout);
      const map = summary.largest.find((r: { heldBy: string }) =>
        r.heldBy === "seen (app.js)"
      );
      assert.ok(
        map,
        `seen (app.js) among ${
          summary.largest.map((r: { heldBy: string }) => r.heldBy)
        }`,
      );
      assert.equal(map.className, "Map");
      assert.ok(
        summary.top.some((r: { type: string; count: number }) =>
          r.type === "Date" && r.count >= VISITS
        ),
      );
      assert.ok(summary.kinds.length > 0);
      assert.ok(summary.summary.reachableCount > VISITS);

      const text = await analyze([final, "-n", "3"], here);
      assert.equal(text.code, 0, text.stderr);
      for (
        const heading of [
          "most common types:",
          "largest objects:",
          "largest kinds of objects",
        ]
      ) {
        assert.ok(text.stdout.includes(heading), heading);
      }
      assert.match(text.stdout, /Map @\d+ +seen \(app\.js\)/);

      const path = await analyze([final, "--path", `@${map.id}`], here);
      assert.equal(path.code, 0, path.stderr);
      assert.match(path.stdout, new RegExp(`^path to Map @${map.id} `));
      assert.match(
        path.stdout,
        /--context seen--> Map @\d+ = seen \(app\.js\)/,
      );
      const byType = await analyze([final, "--path", "Date", "--json"], here);
      assert.equal(byType.code, 0, byType.stderr);
      const newest = JSON.parse(byType.stdout).path;
      assert.equal(newest.target.className, "Date");
      assert.ok(
        newest.steps.some((s: { holder?: { name: string } }) =>
          s.holder?.name === "seen"
        ),
      );

      const graph = await analyze([final, "--graph", `@${map.id}`], here);
      assert.equal(graph.code, 0, graph.stderr);
      assert.match(graph.stdout, /^digraph/);
      assert.ok(graph.stdout.includes("seen (app.js)"), graph.stdout);

      const missing = await analyze([final, "--path", "@4294967295"], here);
      assert.equal(missing.code, 2);
      assert.equal(
        missing.stderr,
        `error: no object @4294967295 in ${final}\n`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "`analyze` refuses snapshots of two processes, two runtimes or out of order",
  ignore: !node,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "analyze-mixed-" });
    try {
      const one = await makeTrio(
        "node-cjs",
        await Deno.makeTempDir({ dir: root }),
      );
      const two = await makeTrio(
        "node-cjs",
        await Deno.makeTempDir({ dir: root }),
      );
      const deno = await makeTrio(
        "deno",
        await Deno.makeTempDir({ dir: root }),
      );
      const cases: [string[], RegExp][] = [
        [
          [one.baseline, two.target, two.final],
          /changed type or name: not from one process/,
        ],
        [[one.baseline, two.final], /not from one process/],
        [
          [deno.baseline, one.target, one.final],
          /different fields.*two runtimes/,
        ],
        [[one.final, one.target, one.baseline], /not in the order taken/],
      ];
      for (const [files, reason] of cases) {
        const { code, stdout, stderr } = await analyze(files);
        assert.equal(code, 2, `${files}: ${stderr}`);
        assert.equal(stdout, "");
        assert.match(stderr, /^error: .* cannot be compared: /);
        assert.match(stderr, reason);
        assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("`analyze` names seen and globalThis.visitsByPath in a checked-in Chrome snapshot", async () => {
  const { code, stdout, stderr } = await analyze([
    CHROME_FIXTURE.pathname,
    "--json",
  ]);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  const holders = report.largest.map((r: { heldBy: string }) => r.heldBy);
  assert.match(holders[0], /^seen \(http:\/\/127\.0\.0\.1:\d+\/app\.js\)$/);
  assert.ok(holders.includes("globalThis.visitsByPath"), String(holders));
  const dates = report.top.find((r: { type: string }) => r.type === "Date");
  assert.equal(dates?.count, 200 + FIXTURE_VISITS);
});

Deno.test({
  name:
    "`analyze BASELINE TARGET FINAL` names seen (…/app.js) in snapshots headless Chromium takes over the DevTools protocol",
  ignore: !hasTool(CHROMIUM),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "analyze-chrome-" });
    try {
      const files = ["baseline", "target", "final"].map((name) =>
        `${dir}/${name}.heapsnapshot`
      );
      const origin = await chromeSnapshots([
        { file: files[0]! },
        { visits: VISITS, file: files[1]! },
        { file: files[2]! },
      ]);
      const leaks = await jsonLeaks(files);
      assert.equal(leaks[0]!.heldBy.split(" → ")[0], `seen (${origin}/app.js)`);
      assert.equal(leaks[0]!.count, VISITS);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("`analyze` finds the users service's cache in three heap.snapshot() files, the console's objects left out", async () => {
  const token = `analyze-${crypto.randomUUID()}`;
  const service = await startServe(["--console-port", "0"], {
    env: { CONSOLE_TOKEN: token },
  });
  let session: TestConnection | undefined;
  const files: string[] = [];
  try {
    const line = await service.stdout.waitFor(/^console listening on /);
    session = await TestConnection.open(Number(line.match(/:(\d+)$/)![1]));
    assert.equal((await session.hello(token))?.type, "hello");
    let id = 0;
    const snapshot = async () => {
      const { final } = await session!.eval(
        ++id,
        "(await heap.snapshot()).path",
      );
      const path = valueOf(final).replace(/^"|"$/g, "");
      files.push(path);
    };
    const load = async (requests: number) => {
      const report = await sendLoad(`${service.url}users/random`, requests, 8);
      assert.equal(report.ok, requests);
    };
    await load(500);
    await snapshot();
    await load(2_000);
    await snapshot();
    await snapshot();
    const leaks = await jsonLeaks(files);
    assert.equal(leaks[0]!.heldBy.split(" → ")[0], "cache (lib/users.ts)");
    assert.ok(
      !leaks.some((g) => g.holder?.url?.includes("/console/")),
      `no console holders: ${leaks.map((g) => g.heldBy)}`,
    );
    const top = async (...flags: string[]) => {
      const run = await analyze([files[2]!, "--json", "-n", "50", ...flags]);
      assert.equal(run.code, 0, run.stderr);
      return JSON.parse(run.stdout);
    };
    const [without, all] = [await top(), await top("--all")];
    assert.ok(without.summary.consoleCount > 0, "the console is recognised");
    const objects = (report: { top: { count: number }[] }) =>
      report.top.reduce((sum, r) => sum + r.count, 0);
    assert.ok(objects(all) > objects(without), "--all keeps its objects");
    assert.match(
      (await analyze([files[2]!, "-n", "1"])).stdout,
      /of the leakwatch console's own left out; --all keeps them/,
    );
  } finally {
    session?.close();
    service.child.kill("SIGTERM");
    await service.finish();
  }
});

Deno.test({
  name:
    "`analyze` draws progress on a terminal and clears it before the report",
  ignore: !hasTool("script"),
  async fn() {
    const flags = await taskFlags("analyze");
    const command = [
      "deno",
      "run",
      ...flags,
      "main.ts",
      "analyze",
      CHROME_FIXTURE.pathname,
      "-n",
      "1",
    ].join(" ");
    const { code, stdout } = await new Deno.Command("script", {
      args: ["-qfec", command, "/dev/null"],
      cwd: new URL("../../../", import.meta.url),
      env: { NO_COLOR: "1", TERM: "xterm-256color" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const screen = new TextDecoder().decode(stdout);
    assert.equal(code, 0, screen);
    assert.match(
      screen,
      /\r\[[#.]{20}\] +\d+% parse chrome_page\.heapsnapshot\.gz/,
    );
    assert.match(screen, /\r\[[#.]{20}\] +\d+% analyse: dominators/);
    // Cleared (carriage return, erase line) before the report starts.
    // deno-lint-ignore no-control-regex
    assert.match(screen, /\r\x1b\[K[^\r]*chrome_page\.heapsnapshot\.gz: /);
  },
});
