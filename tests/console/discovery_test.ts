import assert from "node:assert/strict";
import {
  consolesDirectory,
  entryPath,
  findConsole,
  listConsoles,
  parseEntry,
  publishEntry,
} from "../../console/discovery.ts";
import { stateDirectory } from "../../console/state_dir.ts";
import { exists } from "../_files.ts";
import { spawnDeno } from "../_process.ts";

const HOLDER = new URL("./_entry_holder.ts", import.meta.url).pathname;

/** A token file path as a console on `port` writes it. */
function tokenFile(port: number): string {
  return `${stateDirectory()}/console/tcp-${port}.token`;
}

/** A child process holding an entry (see _entry_holder.ts), once ready. */
async function holdEntry(mode: "entry" | "garbage", tokenFile?: string) {
  const process = spawnDeno([
    "run",
    "--allow-env=HOME",
    "--allow-sys=uid",
    "--allow-read",
    "--allow-write",
    HOLDER,
    mode,
    ...(tokenFile === undefined ? [] : [tokenFile]),
  ]);
  await process.stdout.waitFor(/^ready$/, 30_000);
  return {
    pid: process.child.pid,
    async kill() {
      process.child.kill("SIGKILL");
      await process.finish();
    },
  };
}

Deno.test("`publishEntry()` writes an owner-only entry that lists as alive until removed", async () => {
  const published = await publishEntry({
    pid: Deno.pid,
    program: "test.ts",
    endpoint: { socket: "/tmp/a.sock" },
    startedAt: new Date().toISOString(),
  });
  try {
    assert.equal(published.path, entryPath(Deno.pid));
    assert.equal((await Deno.stat(published.path)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(consolesDirectory())).mode! & 0o777, 0o700);
    // No temporary file is left beside it.
    const names = await Array.fromAsync(Deno.readDir(consolesDirectory()));
    assert.deepEqual(
      names.map((e) => e.name).filter((n) => n.includes(`${Deno.pid}`)),
      [`${Deno.pid}.json`],
    );
    const found = await findConsole(Deno.pid, { removeStale: true });
    assert.equal(found?.state, "alive");
    assert.deepEqual(found?.entry?.endpoint, { socket: "/tmp/a.sock" });
    assert.equal(found?.removed, undefined);
  } finally {
    published.remove();
    published.remove(); // twice is harmless
  }
  assert.equal(await exists(entryPath(Deno.pid)), false);
  assert.equal(await findConsole(Deno.pid), undefined);
});

Deno.test("`listConsoles()` tells a killed process's entry from a live one and removes it with its token file", async () => {
  const live = await holdEntry("entry", tokenFile(40997));
  const dead = await holdEntry("entry", tokenFile(40998));
  try {
    await dead.kill(); // SIGKILL: no cleanup ran, the kernel dropped its lock
    const seen = await listConsoles();
    const state = (pid: number) => seen.find((c) => c.pid === pid)?.state;
    assert.equal(state(live.pid), "alive");
    assert.equal(state(dead.pid), "stale");
    assert.equal(
      await exists(entryPath(dead.pid)),
      true,
      "listing removes nothing",
    );

    const swept = await listConsoles({ removeStale: true });
    assert.equal(swept.find((c) => c.pid === dead.pid)?.removed, true);
    assert.equal(await exists(entryPath(dead.pid)), false);
    assert.equal(await exists(tokenFile(40998)), false);
    assert.equal(await exists(entryPath(live.pid)), true);
    assert.equal(await exists(tokenFile(40997)), true);
  } finally {
    await live.kill();
    await listConsoles({ removeStale: true });
  }
  assert.equal(await exists(tokenFile(40997)), false);
});

Deno.test("`listConsoles()` keeps a token file rewritten since the dead entry (a new console on the same port)", async () => {
  const dead = await holdEntry("entry", tokenFile(40999));
  try {
    await dead.kill();
    // The dead console started a minute ago; a new one took its port now.
    const minuteAgo = new Date(Date.now() - 60_000);
    await Deno.utime(entryPath(dead.pid), minuteAgo, minuteAgo);
    await Deno.utime(tokenFile(40999), minuteAgo, minuteAgo);
    await Deno.writeTextFile(tokenFile(40999), "the new console's\n");
    const found = await findConsole(dead.pid, { removeStale: true });
    assert.equal(found?.removed, true);
    assert.equal(
      await Deno.readTextFile(tokenFile(40999)),
      "the new console's\n",
    );
  } finally {
    await Deno.remove(tokenFile(40999));
  }
});

Deno.test("`listConsoles()` removes only leakwatch token files, whatever a stale entry names", async () => {
  const dir = await Deno.makeTempDir({ prefix: "discovery-" });
  const victims = [
    `${dir}/precious.txt`,
    `${stateDirectory()}/console_history`,
    `${stateDirectory()}/console/tcp-1.token.bak`,
  ];
  await Deno.mkdir(`${stateDirectory()}/console`, { recursive: true });
  for (const victim of victims) await Deno.writeTextFile(victim, "keep\n");
  try {
    for (const victim of victims) {
      const dead = await holdEntry("entry", victim);
      await dead.kill();
      assert.equal(
        (await findConsole(dead.pid, { removeStale: true }))?.removed,
        true,
      );
      assert.equal(await Deno.readTextFile(victim), "keep\n", victim);
    }
  } finally {
    for (const victim of victims) await Deno.remove(victim);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`listConsoles()` reports an unreadable entry a live process holds, and never removes it", async () => {
  const holder = await holdEntry("garbage");
  try {
    const found = (await listConsoles({ removeStale: true })).find((c) =>
      c.pid === holder.pid
    );
    assert.equal(found?.state, "invalid");
    assert.equal(found?.problem, "not JSON");
    assert.equal(found?.removed, undefined);
    assert.equal(await exists(entryPath(holder.pid)), true);
  } finally {
    await holder.kill();
    await findConsole(holder.pid, { removeStale: true });
  }
});

Deno.test("`listConsoles()` treats hostile files as stale entries or ignores them, without throwing", async () => {
  const dir = consolesDirectory();
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const files: Record<string, string | Uint8Array> = {
    "900000001.json": "{not json",
    "900000002.json": "x".repeat(20_000),
    "900000003.json": new Uint8Array([0xff, 0xfe, 0x00]),
    "900000004.json": JSON.stringify({ pid: 1 }),
    "notes.txt": "ignored",
    "0123.json": "{}", // not a pid as written: ignored
    "900000005.json.1234.tmp": "{}",
  };
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === "string") {
      await Deno.writeTextFile(`${dir}/${name}`, content);
    } else await Deno.writeFile(`${dir}/${name}`, content);
  }
  await Deno.mkdir(`${dir}/900000006.json`); // a directory with an entry's name
  try {
    const listed = (await listConsoles()).filter((c) => c.pid >= 900000000);
    assert.deepEqual(
      listed.map((c) => [c.pid, c.state, c.problem]),
      [
        [900000001, "stale", "not JSON"],
        [900000002, "stale", "over 16384 bytes (20000)"],
        [900000003, "stale", "The encoded data is not valid"],
        [900000004, "stale", "its pid is not 900000004"],
      ],
    );
    const swept = await listConsoles({ removeStale: true });
    assert.equal(swept.filter((c) => c.pid >= 900000000).length, 4);
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(),
      ["0123.json", "900000005.json.1234.tmp", "900000006.json", "notes.txt"],
    );
  } finally {
    for (const name of [...Object.keys(files), "900000006.json"]) {
      await Deno.remove(`${dir}/${name}`, { recursive: true }).catch(() => {});
    }
  }
});

Deno.test("`parseEntry()` refuses every field that is missing, of the wrong type or out of bounds", () => {
  const good = {
    pid: 7,
    program: "app.ts",
    endpoint: { host: "127.0.0.1", port: 9 },
    tokenFile: "/home/u/.leakwatch/console/tcp-9.token",
    startedAt: "2026-12-07T10:00:00.000Z",
  };
  assert.deepEqual(parseEntry(JSON.stringify(good), 7), good);
  assert.deepEqual(
    parseEntry(JSON.stringify({ ...good, endpoint: { socket: "/s" } }), 7)
      .endpoint,
    { socket: "/s" },
  );
  const bad: [unknown, RegExp][] = [
    ["[]", /not a JSON object/],
    [{ ...good, pid: "7" }, /pid is not 7/],
    [{ ...good, program: "" }, /program/],
    [{ ...good, program: "p".repeat(101) }, /program/],
    [{ ...good, program: 5 }, /program/],
    [{ ...good, program: "app\u001b[31m.ts" }, /control characters/],
    [{ ...good, endpoint: { host: "h", port: 0 } }, /endpoint/],
    [{ ...good, endpoint: { host: "h", port: 65536 } }, /endpoint/],
    [{ ...good, endpoint: { host: "h", port: "9" } }, /endpoint/],
    [{ ...good, endpoint: { host: "", port: 9 } }, /endpoint/],
    [{ ...good, endpoint: { socket: "relative.sock" } }, /endpoint/],
    [{ ...good, endpoint: { socket: "/s", host: "h", port: 9 } }, /endpoint/],
    [{ ...good, endpoint: { socket: "/s\n" } }, /control characters/],
    [{ ...good, endpoint: null }, /endpoint/],
    [{ ...good, tokenFile: "relative.token" }, /tokenFile/],
    [{ ...good, tokenFile: 1 }, /tokenFile/],
    [{ ...good, startedAt: "yesterday" }, /startedAt/],
    [{ ...good, startedAt: undefined }, /startedAt/],
  ];
  for (const [value, message] of bad) {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    assert.throws(() => parseEntry(text, 7), message, text);
  }
});
