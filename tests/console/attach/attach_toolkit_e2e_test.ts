/**
 * The leak toolkit in an attached session, end to end: a plain `deno run`
 * app and a Node app with a leak and no leakwatch code, attached by pid;
 * `mem()`, `heap.leaks()`, `alloc.top()` and `count()` answer in the
 * target's global scope with the target's figures, its holders and its
 * `.ts` lines; after detach the target keeps serving, its inspector port is
 * closed and none of the toolkit's names is left in its global scope.
 */

import assert from "node:assert/strict";
import {
  holdsInspectorPort,
  startDenoTarget,
  startNodeTarget,
  withTarget,
} from "./_attach.ts";
import { type MainProcess, spawnMain } from "../../_process.ts";

const encoder = new TextEncoder();
const TOOLKIT_NAMES = [
  "mem",
  "gc",
  "count",
  "heap",
  "alloc",
  "leak",
  "instances",
];

/** An attach session fed one snippet at a time, read line by line. */
class Session {
  #writer: WritableStreamDefaultWriter<Uint8Array>;

  constructor(readonly process: MainProcess) {
    this.#writer = process.child.stdin.getWriter();
  }

  static async start(pid: number): Promise<Session> {
    return new Session(
      await spawnMain(["attach", String(pid)], { task: "attach", stdin: true }),
    );
  }

  /** Sends a snippet; returns the first stdout line matching `pattern`. */
  async send(snippet: string, pattern: RegExp, timeoutMs = 120_000) {
    await this.#writer.write(encoder.encode(snippet + "\n"));
    try {
      return await this.process.stdout.waitFor(pattern, timeoutMs);
    } catch (error) {
      // Say why attach stopped answering: its stderr has the reason (a
      // session still running is stopped first, as a hung one would be).
      try {
        this.process.child.kill("SIGTERM");
      } catch {
        // It has exited already.
      }
      const { code, stderr } = await this.process.finish();
      throw new Error(
        `${
          (error as Error).message
        }\nattach exited ${code}; its stderr:\n${stderr}`,
      );
    }
  }

  /** Reads on to the next stdout line matching `pattern`. */
  next(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    return this.process.stdout.waitFor(pattern, timeoutMs);
  }

  /** Ends the input; attach detaches. */
  async finish() {
    await this.#writer.close();
    return await this.process.finish();
  }
}

/** The 1-based line and column of the first `needle` in a fixture. */
async function positionOf(file: string, needle: string): Promise<string> {
  const text = await Deno.readTextFile(
    new URL(`./_targets/${file}`, import.meta.url),
  );
  const lines = text.split("\n");
  const index = lines.findIndex((line) => line.includes(needle));
  assert.ok(index >= 0, `${needle} is in ${file}`);
  return `${index + 1}:${lines[index]!.indexOf(needle) + 1}`;
}

Deno.test("attach PID: mem() gives the target's memory, heap.leaks() names the Map the app keeps requests in, alloc.top() its .ts line; detach removes the toolkit's names and closes the port", async (t) => {
  await withTarget(t, () => startDenoTarget(), async (target) => {
    const handlerAt = await positionOf("deno_app.ts", "(request) =>");
    const before = JSON.parse(await target.get("/globals")) as string[];
    const session = await Session.start(target.pid);
    let detached: Awaited<ReturnType<Session["finish"]>>;
    try {
      // 96 MiB outside the target's V8 heap: no attach client holds that.
      await session.send(
        "globalThis.ballast = new Uint8Array(96 * 2 ** 20); 'ballast'",
        /^"ballast"$/,
      );
      assert.equal(
        await session.send(
          "const m = await mem(); [m.external >= 96 * 2 ** 20, Math.abs(m.rss - Deno.memoryUsage().rss) < 64 * 2 ** 20, m.heapLimit > 0]",
          /^\[/,
        ),
        "[ true, true, true ]",
      );
      // Printed as in-process: the table, with the target's ballast.
      await session.send("mem()", /^memory\s+size\s+note$/);
      const external = await session.next(/^external\s/);
      assert.match(external, /^external\s+9\d\.\d MiB/);

      await session.send("await heap.leaks()", /^leak baseline set/);
      for (let i = 0; i < 300; i++) await target.get(`/users/${i}`);
      await session.send(
        "await heap.leaks()",
        /^objects allocated since the baseline/,
      );
      const top = await session.next(/\S/);
      assert.match(top, /retained\s+count\s+objects\s+held by/);
      await session.next(/^-+/);
      const first = await session.next(/\S/);
      assert.match(
        first,
        /\s300\s+Object\s+visits \(tests\/console\/attach\/_targets\/deno_app\.ts\)/,
      );

      await session.send(
        "await alloc.start({ interval: 512 })",
        /^allocation sampling started/,
      );
      for (let i = 0; i < 600; i++) await target.get(`/more/${i}`);
      await session.send("await alloc.top(8)", /^\s+live\s+share/);
      const rows: string[] = [];
      for (let line = ""; !line.startsWith("(total sampled");) {
        line = await session.next(/.*/);
        rows.push(line);
      }
      assert.ok(
        rows.some((row) =>
          row.includes(`tests/console/attach/_targets/deno_app.ts:${handlerAt}`)
        ),
        `the request handler's .ts line ${handlerAt} is an allocation site:\n${
          rows.join("\n")
        }`,
      );

      // Hostile and unsupported calls answer in one clear error each.
      await session.send(
        "(() => { try { heap.top('x'.repeat(70000)) } catch (e) { return e.message } })()",
        /arguments are too long to send to the attach client/,
      );
      await session.send(
        "await count(42).catch((e) => e.name + ': ' + e.message)",
        /^"TypeError: count\(\) takes a class/,
      );
      await session.send(
        "await count(Map)",
        /^Map: [\d ]+ live instances? \(\d+ ms\)$/,
      );
      await session.send(
        "leak()",
        /^The leak alarm runs only in-process/,
      );
    } finally {
      detached = await session.finish();
    }
    assert.equal(detached.code, 0, detached.stderr);
    assert.match(
      detached.stderr,
      new RegExp(`detached from pid ${target.pid}: its inspector is closed`),
    );
    assert.doesNotMatch(detached.stderr, /could not be removed/);
    assert.equal(await holdsInspectorPort(target.pid), false);
    // The target serves on; of the names added to its global scope, only
    // the snippet's own `ballast` stays (and what Deno defines lazily once
    // its Node globals are touched), no stub and no binding of the toolkit.
    const after = JSON.parse(await target.get("/globals")) as string[];
    const added = after.filter((name) => !before.includes(name));
    assert.ok(added.includes("ballast"));
    for (const name of [...TOOLKIT_NAMES, "_", "_error", "inspect", "help"]) {
      assert.ok(!after.includes(name), `${name} was left in the target`);
    }
    assert.deepEqual(added.filter((name) => /leakwatch/i.test(name)), []);
  });
});

Deno.test("attach PID in a Node app: count(), heap.leaks() and mem() over the inspector; the port is closed after and the app keeps serving", async (t) => {
  await withTarget(t, () => startNodeTarget(), async (target) => {
    const session = await Session.start(target.pid);
    let detached: Awaited<ReturnType<Session["finish"]>>;
    try {
      await session.send("await heap.leaks()", /^leak baseline set/);
      for (let i = 0; i < 200; i++) await target.get(`/orders/${i}`);
      await session.send(
        "await heap.leaks()",
        /^objects allocated since the baseline/,
      );
      await session.next(/held by/);
      await session.next(/^-+/);
      assert.match(
        await session.next(/\S/),
        /\s200\s+Object\s+.*visits/,
      );
      const counted = await session.send(
        "await count('Map')",
        /^Map: [\d ]+ live instances?/,
      );
      assert.ok(
        Number(counted.match(/^Map: ([\d ]+)/)![1]!.replace(/ /g, "")) >= 1,
      );
      assert.equal(
        await session.send(
          "const m = await mem(); m.rss === process.memoryUsage().rss || Math.abs(m.rss - process.memoryUsage().rss) < 64 * 2 ** 20",
          /^(true|false)$/,
        ),
        "true",
      );
    } finally {
      detached = await session.finish();
    }
    assert.equal(detached.code, 0, detached.stderr);
    assert.equal(await holdsInspectorPort(target.pid), false);
    assert.match(await target.get(), /^visits: 201\n$/);
  });
});
