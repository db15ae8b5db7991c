/**
 * The example host (`examples/embed/`), end to end, as its README runs it:
 * its own deno.json, its own tasks' exact permissions, its own folder as the
 * working directory. It type-checks there without casts; the client finds
 * it by `--pid` and `--list`; `heap.leaks()` names its holder and
 * `alloc.top()` its line; SIGTERM ends it as the signal would without the
 * console, and it leaves no file behind.
 */

import assert from "node:assert/strict";
import { sendLoad } from "../../bench/load.ts";
import { listDir } from "../_files.ts";
import { spawnDeno } from "../_process.ts";

const EXAMPLE = new URL("../../examples/embed/", import.meta.url);
const HOME = Deno.env.get("HOME")!;
const STATE = `${HOME}/.leakwatch`;

/** A task's command from the example's deno.json, `$HOME` expanded. */
async function taskWords(task: string): Promise<string[]> {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", EXAMPLE)),
  );
  const command: string = config.tasks[task].command;
  const words = command.replaceAll("$HOME", HOME).trim().split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ["deno", "run"], command);
  return words.slice(1);
}

/** Runs a task's command (its exact flags) in the example's folder. */
async function spawnTask(
  task: string,
  args: string[],
  options: { env?: Record<string, string>; stdin?: boolean } = {},
) {
  return spawnDeno([...await taskWords(task), ...args], {
    cwd: EXAMPLE,
    ...options,
  });
}

async function runTask(task: string, args: string[]) {
  const { status, stdout, stderr } = await (await spawnTask(task, args))
    .finish();
  return { code: status.code, stdout, stderr };
}

Deno.test("the example host embeds the console in at most 10 lines, without casts, and type-checks in its own folder", async () => {
  const source = await Deno.readTextFile(new URL("app.ts", EXAMPLE));
  const embedding = source.split("\n").filter((line) =>
    line.includes("// leakwatch")
  );
  assert.ok(
    embedding.length >= 2 && embedding.length <= 10,
    embedding.join("\n"),
  );
  assert.doesNotMatch(source, /\bas\s+(unknown|any|Record)\b|<[A-Z]\w*>\s*\w/);
  const { code, stderr } = await new Deno.Command("deno", {
    args: ["check", "app.ts"],
    cwd: EXAMPLE,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stderr);
  assert.equal(code, 0, text);
  assert.doesNotMatch(text, /not a dependency|error/i);
});

Deno.test("the example host, found by --pid, names its leak and its line, and leaves nothing behind on SIGTERM", async (t) => {
  const before = {
    consoles: await listDir(`${STATE}/consoles`),
    tokens: await listDir(`${STATE}/console`),
  };
  const host = await spawnTask("start", [], { env: { PORT: "0" } });
  let exited = false;
  try {
    // Deno.serve announces itself on stderr, before the console does.
    const url = (await host.stderr.waitFor(/^Listening on http:/, 30_000))
      .match(/(http:\/\/\S+?\/)/)![1]!;
    const announced = await host.stderr.waitFor(
      /^app\.ts console listening on /,
      30_000,
    );
    const pid = host.child.pid;
    assert.match(
      announced,
      new RegExp(
        `^app\\.ts console listening on 127\\.0\\.0\\.1:\\d+, pid ${pid}, token in ${STATE}/console/tcp-\\d+\\.token$`,
      ),
    );

    await t.step(
      "--list shows it alive with its program and endpoint",
      async () => {
        const { code, stdout, stderr } = await runTask("console", ["--list"]);
        assert.equal(code, 0, stderr);
        const row = stdout.split("\n").find((line) =>
          line.trim().startsWith(`${pid} `)
        );
        assert.ok(row, stdout);
        assert.match(row, /\s+app\.ts\s+127\.0\.0\.1:\d+\s+alive\s+\d{4}-/);
      },
    );

    await t.step(
      "a session by --pid: heap.leaks() names recentRequests (app.ts), alloc.top() app.ts:30",
      async () => {
        const client = await spawnTask("console", ["--pid", String(pid)], {
          stdin: true,
        });
        const writer = client.child.stdin.getWriter();
        const send = (line: string) =>
          writer.write(new TextEncoder().encode(line + "\n"));
        try {
          await send("alloc.start()");
          await client.stdout.waitFor(/^allocation sampling started/, 30_000);
          await send("await heap.leaks()");
          await client.stdout.waitFor(/^leak baseline set/, 60_000);
          const report = await sendLoad(url, 5_000, 16);
          assert.equal(report.ok, 5_000);
          await send("await heap.leaks()");
          const first = await client.stdout.waitFor(/\bObject\b/, 60_000);
          assert.match(first, /\bObject\s+recentRequests \(app\.ts\)/);
          await send("alloc.top(5)");
          await client.stdout.waitFor(
            /\bremember\b.*\sapp\.ts:30:\d+\b/,
            30_000,
          );
          await send("recentRequests.length");
          await client.stdout.waitFor(/^50\d\d$/, 30_000);
        } finally {
          await writer.close();
        }
        const { status, stderr } = await client.finish();
        assert.equal(status.code, 0, stderr);
      },
    );

    await t.step("SIGTERM ends it by the signal, its files gone", async () => {
      host.child.kill("SIGTERM");
      // A host kept alive by the console's signal listener would be killed
      // at finish()'s deadline, and fail here.
      const { status, stderr } = await host.finish();
      exited = true;
      assert.equal(status.signal, "SIGTERM", stderr);
      assert.deepEqual(await listDir(`${STATE}/consoles`), before.consoles);
      assert.deepEqual(await listDir(`${STATE}/console`), before.tokens);
      const { stdout } = await runTask("console", ["--list"]);
      assert.doesNotMatch(stdout, new RegExp(`^\\s*${pid}\\s`, "m"));
    });
  } finally {
    if (!exited) {
      host.child.kill("SIGKILL");
      await host.finish();
    }
  }
});
