/**
 * The leak alarm on real services, against leak modules written apart
 * from it (tests/fixtures/leaks/): each is imported in a console session
 * and hooked into `users.lookup`, as an operator would, so every request
 * leaks one more unit. The alarm runs with a 30 s window (a 2 MiB, 5%
 * growth threshold; 32 handles) so that each case takes about a minute.
 */

import assert from "node:assert/strict";
import type { LeakReport } from "../../../console/toolkit/leak.ts";
import {
  LEAK_FIXTURES,
  type LeakService,
  startLeakService,
} from "./_leak_service.ts";

const FAST_ALARM = [
  "--leak-alarm-window",
  "30",
  "--leak-alarm-min-growth",
  "2",
  "--leak-alarm-min-growth-percent",
  "5",
  "--leak-alarm-gc-interval",
  "1",
  "--leak-alarm-profile",
  "10",
];
/** Bounds a hang on a busy machine; the tests wait on log lines. */
const DEADLINE_MS = 240_000;
const TRIP = /^leak alarm: (.+?) growing /;

/** A service running FAST_ALARM, `module` hooked in with `call`, under load. */
async function withLeak(
  module: string | undefined,
  call: string,
  rate: number,
  check: (service: LeakService) => Promise<void>,
  args: string[] = ["--cache-limit", "1000"],
): Promise<void> {
  const service = await startLeakService([...FAST_ALARM, ...args]);
  let stopLoad: (() => Promise<{ ok: number; failed: number }>) | undefined;
  try {
    if (module !== undefined) await service.inject(module, call);
    stopLoad = service.loadUntilStopped(rate);
    await check(service);
    const { failed } = await stopLoad();
    stopLoad = undefined;
    assert.equal(failed, 0, "requests failed under the leak");
  } finally {
    await stopLoad?.();
    await service.stop();
  }
}

/** The alarm's next line matching `pattern`, within the deadline. */
function alarmLine(service: LeakService, pattern: RegExp): Promise<string> {
  return service.waitFor(pattern, DEADLINE_MS);
}

/** The line of `text` in a leak module. */
async function lineOf(module: string, text: string): Promise<number> {
  const source = await Deno.readTextFile(new URL(module, LEAK_FIXTURES));
  const line = source.split("\n").findIndex((l) => l.includes(text)) + 1;
  assert.ok(line > 0, `${text} in ${module}`);
  return line;
}

Deno.test({
  name:
    "the leak alarm trips on ArrayBuffers and on native memory kept per request, and names the modules",
  sanitizeResources: false,
  async fn() {
    await Promise.all([
      withLeak(
        "response_snapshots.ts",
        "leakModule.snapshotResponse(id)",
        40,
        async (service) => {
          const trip = await alarmLine(service, /^leak alarm: external memory/);
          assert.match(
            trip,
            /growing \+[\d.]+ (KiB|MiB)\/s over the last (30 s|2 min) \(\d+ samples\): [\d.]+ MiB then, [\d.]+ MiB now; sampling allocations for 10 s/,
          );
          const sites = await alarmLine(
            service,
            /^leak alarm: top live allocation sites/,
          );
          const line = await lineOf(
            "response_snapshots.ts",
            "export function snapshotResponse(",
          );
          assert.match(
            sites,
            new RegExp(
              `\\d\\) [\\d.]+ [KM]iB \\d+% snapshotResponse( › [^%]+)? tests/fixtures/leaks/response_snapshots\\.ts:${line} \\(via .*console:\\d+:\\d+ › response_snapshots\\.ts:${line}\\)`,
            ),
          );
          // The JS objects that hold the buffers are small: no heap trip.
          assert.ok(
            !service.stderr.some((l) => l.startsWith("leak alarm: JS heap")),
            service.stderr.join("\n"),
          );
          const report = await service.data<LeakReport>("leak()");
          assert.deepEqual(report.suspects, ["external"]);
        },
      ),
      withLeak(
        "export_compression.ts",
        "leakModule.compressExport(`user-${n}`)",
        10,
        async (service) => {
          const trip = await alarmLine(service, /^leak alarm: native memory/);
          assert.match(
            trip,
            /^leak alarm: native memory after full GC \(RSS outside the JS heap and external memory\) growing \+[\d.]+ (KiB|MiB)\/s over the last/,
          );
          const sites = await alarmLine(
            service,
            /^leak alarm: top live allocation sites/,
          );
          assert.match(
            sites,
            /compressExport( › [^%]+)? tests\/fixtures\/leaks\/export_compression\.ts:\d+/,
          );
          const report = await service.data<LeakReport>("leak()");
          assert.ok(report.suspects!.includes("native"), Deno.inspect(report));
          assert.match(
            report.next,
            /the allocation sites name the JS objects that hold memory outside the heap/,
          );
        },
      ),
    ]);
  },
});

Deno.test({
  name:
    "the leak alarm trips on file handles opened per request and names the line that opens them",
  sanitizeResources: false,
  async fn() {
    await withLeak(
      "greeting_template.ts",
      "leakModule.renderGreeting(`user-${n}`)",
      3,
      async (service) => {
        const trip = await alarmLine(
          service,
          /^leak alarm: open Deno resources/,
        );
        assert.match(
          trip,
          /growing: fsFile \+\d+ \(files from Deno\.open\(\), Deno\.openSync\(\) or Deno\.create\(\)\)(, [^;]+)?; watching for 10 s where they are opened to name the code$/,
        );
        const origins = await alarmLine(
          service,
          /^leak alarm: resources opened in the last 10 s/,
        );
        const line = await lineOf(
          "greeting_template.ts",
          "Deno.openSync(TEMPLATE)",
        );
        assert.match(
          origins,
          new RegExp(
            `1\\) \\d+ of \\d+ fsFile still open from renderGreeting tests/fixtures/leaks/greeting_template\\.ts:${line} \\(Deno\\.openSync, via .*console:\\d+:\\d+ › greeting_template\\.ts:${line}\\)`,
          ),
        );
        const report = await service.data<LeakReport>("leak()");
        assert.deepEqual(report.suspects, ["resources"]);
        assert.ok(report.handles!.byType.fsFile! >= 32);
        assert.match(
          await service.run("leak()"),
          /open handles: \d+ Deno resources \(fsFile \d+/,
        );
        assert.match(
          await service.run("mem()"),
          /open file descriptors +unknown +no read permission for \/proc\/self\/fd \(Deno 2\.9 lets only --allow-all read \/proc\/self\/fd\)/,
        );
      },
    );
  },
});

Deno.test({
  name:
    "with --allow-all, mem(), leak() and /metrics show open file descriptors and their limit",
  sanitizeResources: false,
  async fn() {
    const service = await startLeakService(FAST_ALARM, { allowAll: true });
    try {
      const mem = await service.data<
        { handles: { fds: number; maxFds: number } }
      >(
        "mem()",
      );
      assert.ok(mem.handles.fds > 3, String(mem.handles.fds));
      assert.ok(mem.handles.maxFds >= mem.handles.fds);
      assert.match(
        await service.run("mem()"),
        /open file descriptors +\d+ +of \d+ allowed/,
      );
      await (await fetch(`${service.url}healthz`)).body?.cancel();
      const fds = await service.metric("process_open_fds");
      assert.ok(fds > 3, String(fds));
      assert.ok(await service.metric("process_max_fds") >= fds);
      const report = await service.data<LeakReport>("leak()");
      assert.ok(
        report.watches!.some((w) => w.kind === "fds"),
        Deno.inspect(report.watches),
      );
      assert.match(
        await service.run("leak()"),
        /\d+ file descriptors of \d+ allowed/,
      );
    } finally {
      await service.stop();
    }
  },
});

Deno.test({
  name:
    "the leak alarm catches a leak too slow for one window over its long horizon, with samples enough",
  sanitizeResources: false,
  async fn() {
    await withLeak(
      "audit_trail.ts",
      "leakModule.audit(`user-${n}`, `/users/${id}`)",
      250,
      async (service) => {
        const trip = await alarmLine(service, TRIP);
        assert.match(
          trip,
          /^leak alarm: JS heap after full GC growing \+[\d.]+ KiB\/s over the last 2 min \(\d+ samples\)/,
        );
        const report = await service.data<LeakReport>("leak()");
        const heap = report.watches!.find((w) => w.kind === "heap")!;
        assert.equal(heap.horizonSeconds, 120);
        // Judged (5 samples at least), not "not enough samples yet".
        assert.ok(heap.samples >= 5, String(heap.samples));
        assert.doesNotMatch(heap.verdict, /not enough/);
        const sites = await alarmLine(
          service,
          /^leak alarm: top live allocation sites/,
        );
        assert.match(
          sites,
          /audit( › [^%]+)? tests\/fixtures\/leaks\/audit_trail\.ts:\d+/,
        );
      },
      // A slow enough leak: 1.2 MiB a window is under 2 MiB, 4.8 MiB over
      // the 2-minute horizon is over it.
      [
        "--cache-limit",
        "1000",
        "--leak-alarm-min-growth",
        "2",
      ],
    );
  },
});

Deno.test({
  name:
    "the leak alarm names a module called through a wrapper module, and through a wrapper typed in the console",
  sanitizeResources: false,
  async fn() {
    const append = await lineOf("visit_history.ts", "export function append(");
    const track = await lineOf(
      "visit_tracker.ts",
      "export function trackVisit(",
    );
    await Promise.all([
      withLeak(
        "visit_tracker.ts",
        "leakModule.trackVisit(`user-${n}`)",
        300,
        async (service) => {
          const sites = await alarmLine(
            service,
            /^leak alarm: top live allocation sites/,
          );
          assert.match(
            sites,
            new RegExp(
              `\\d\\) [\\d.]+ [KM]iB \\d+% append tests/fixtures/leaks/visit_history\\.ts:${append} \\(via .*visit_tracker\\.ts:${track} › visit_history\\.ts:${append}\\)`,
            ),
          );
          assert.match(
            sites,
            new RegExp(
              `trackVisit( › [^%]+)? tests/fixtures/leaks/visit_tracker\\.ts:${track}`,
            ),
          );
        },
      ),
      withLeak(
        "visit_history.ts",
        "leakModule.append({ id, n, at: new Date().toISOString(), tags: [id, `user-${n}`] })",
        300,
        async (service) => {
          const sites = await alarmLine(
            service,
            /^leak alarm: top live allocation sites/,
          );
          // The hook itself: a console session's code, named as such.
          assert.match(
            sites,
            /users\.lookup( › [^%]+)? console:\d+:\d+ \(console session\)/,
          );
          // The module it calls still shows, with the path through the hook.
          assert.match(
            sites,
            new RegExp(
              `append tests/fixtures/leaks/visit_history\\.ts:${append} \\(via .*console:\\d+:\\d+ › visit_history\\.ts:${append}\\)`,
            ),
          );
          assert.doesNotMatch(sites, /\(anonymous\) lib\/app\.ts/);
        },
      ),
    ]);
  },
});

Deno.test({
  name:
    "the leak alarm stays quiet on a cured service under load and heap captures, and says what it ignored",
  sanitizeResources: false,
  async fn() {
    await withLeak(undefined, "", 150, async (service) => {
      // Three windows of load, with two heap captures in the middle.
      await new Promise((resolve) => setTimeout(resolve, 30_000));
      for (let i = 0; i < 2; i++) {
        assert.match(await service.run("await heap.top(3)"), /count/);
      }
      await new Promise((resolve) => setTimeout(resolve, 60_000));
      const report = await service.data<LeakReport>("leak()");
      assert.deepEqual(
        service.stderr.filter((l) => l.startsWith("leak alarm")),
        [],
      );
      assert.equal(report.state, "watching");
      assert.ok(report.gc!.ignored > 0, Deno.inspect(report.gc));
      assert.equal(report.gc!.ignoredReason, "heap capture");
      const native = report.watches!.find((w) => w.kind === "native")!;
      assert.match(native.verdict, /judged afresh after a heap capture/);
      for (const watch of report.watches!) {
        assert.equal(watch.suspected, false, Deno.inspect(watch));
      }
    }, ["--cache-limit", "1000"]);
  },
});
