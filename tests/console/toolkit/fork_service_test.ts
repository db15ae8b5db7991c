/**
 * The service started as `deno task start:fork` starts it: heap captures
 * happen in a child, which never serves a request, never touches the
 * console's unix socket or token file, never prints twice.
 */

import assert from "node:assert/strict";
import { findLibc } from "../../../console/toolkit/libc.ts";
import { runMain, spawnMain, taskFlags } from "../../_process.ts";

const LIBC = findLibc();

/**
 * The flags `start:fork` adds to `start`, its `$(…)` (the libc path)
 * expanded the way the task's shell does.
 */
async function forkFlags(): Promise<string[]> {
  const start = await taskFlags("start");
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../../../deno.json", import.meta.url)),
  );
  const command: string = config.tasks["start:fork"].command;
  const words = command.replace(/\$\([^)]*\)/, LIBC ?? "")
    .replaceAll("$HOME", Deno.env.get("HOME") ?? "").split(/\s+/);
  const flags = words.slice(words.indexOf("run") + 1, words.indexOf("main.ts"));
  return flags.filter((flag) => !start.includes(flag));
}

Deno.test({
  name: "`start:fork` is `start` plus FFI on libc and the child's V8 flags",
  ignore: LIBC === undefined,
  async fn() {
    const extra = await forkFlags();
    assert.deepEqual(extra, [
      `--allow-ffi=${LIBC}`,
      "--v8-flags=--no-concurrent-recompilation,--no-concurrent-osr,--no-concurrent-sparkplug",
    ]);
    // The task's own substitution prints the same path.
    const { stdout } = await new Deno.Command("deno", {
      args: [
        "run",
        "--allow-read=/lib,/lib64,/usr/lib,/usr/lib64",
        "console/toolkit/libc.ts",
      ],
      cwd: new URL("../../../", import.meta.url),
    }).output();
    assert.equal(new TextDecoder().decode(stdout).trim(), LIBC);
  },
});

Deno.test({
  name:
    "in `start:fork` a capture's child leaves the socket, the token file and the output alone",
  ignore: Deno.build.os !== "linux" || LIBC === undefined,
  async fn() {
    const home = Deno.env.get("HOME")!;
    const socket = `${home}/.leakwatch/console.sock`;
    const service = await spawnMain(
      ["serve", "--port", "0", "--console-socket", socket],
      { denoFlags: await forkFlags() },
    );
    try {
      const url = (await service.stdout.waitFor(/listening on http/))
        .match(/(http:\/\/\S+)/)![1]!;
      const tokenFile = (await service.stdout.waitFor(/^console token in /))
        .replace(/^console token in /, "");
      const token = await Deno.readTextFile(tokenFile);
      const tokenInfo = await Deno.stat(tokenFile);
      const run = (code: string) =>
        runMain(["console", "--socket", socket, "-e", code], {
          task: "console",
        });
      for (let i = 0; i < 50; i++) {
        await (await fetch(`${url}users/random`)).text();
      }

      const mem = await run("mem().captureMode");
      assert.equal(mem.stdout.trim(), '"fork"', mem.stderr);
      const top = await run(
        "const rows = await heap.top(5); console.log(JSON.stringify([rows.length, mem().lastCapture]))",
      );
      assert.equal(top.code, 0, top.stderr);
      const [rows, last] = JSON.parse(top.stdout.split("\n")[0]!);
      assert.equal(rows, 5);
      assert.equal(last.mode, "fork");
      assert.ok(last.pauseMs < 2_000, `paused ${last.pauseMs} ms`);
      // The analysis worker was stopped after the call: what stays is V8's
      // map of object ids (~40 bytes an object, kept for heap.leaks(), as
      // after any in-process capture), not the snapshot's text or the
      // worker's graph (77 → 123 MiB when the worker stayed).
      assert.ok(
        last.rssAfter < last.rssBefore * 1.45,
        `rss ${last.rssBefore} → ${last.rssAfter}`,
      );
      // { reuse: true } after a fork capture takes a fresh one (the
      // worker has no snapshot left to reuse): new "before" figures.
      const again = await run(
        "await heap.top(3, { reuse: true }); console.log(JSON.stringify(mem().lastCapture))",
      );
      const next = JSON.parse(again.stdout.split("\n")[0]!);
      assert.equal(next.mode, "fork", again.stderr);
      assert.notEqual(next.rssBefore, last.rssBefore);
      const snapshot = await run(
        "console.log(JSON.stringify((await heap.snapshot()).path))",
      );
      assert.equal(snapshot.code, 0, snapshot.stderr);
      const path = JSON.parse(snapshot.stdout.split("\n")[0]!);
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
      // Nothing but the snapshot was left in the snapshot directory.
      const names = [...Deno.readDirSync(`${home}/.leakwatch/snapshots`)]
        .map((e) => e.name);
      assert.deepEqual(names, [path.split("/").at(-1)]);
      // HOME is shared by the run's test files: leave nothing behind.
      await Deno.remove(path);

      // The socket and the token file are the service's, untouched.
      assert.ok((await Deno.lstat(socket)).isSocket);
      assert.equal(await Deno.readTextFile(tokenFile), token);
      assert.equal(
        (await Deno.stat(tokenFile)).mtime?.getTime(),
        tokenInfo.mtime?.getTime(),
      );
      assert.equal((await run("1 + 1")).stdout.trim(), "2");
      assert.equal((await fetch(`${url}healthz`)).status, 200);
    } finally {
      service.child.kill("SIGTERM");
    }
    const { code, stdout } = await service.finish();
    assert.equal(code, 0);
    // Every line once: no child flushed the service's output again.
    for (const line of stdout.trim().split("\n")) {
      assert.equal(
        stdout.split(line).length - 1,
        1,
        `printed more than once: ${line}`,
      );
    }
    // The service removed its socket on the way out (the child did not).
    await assert.rejects(Deno.lstat(socket), Deno.errors.NotFound);
  },
});
