import assert from "node:assert/strict";
import {
  ensurePrivateDirectory,
  NotPrivateError,
  stateDirectory,
} from "../../console/state_dir.ts";
import { runMain } from "../_process.ts";
import { CAN_CHOWN, OTHER_UID } from "./_owner.ts";

/** Runs `fn` with `$HOME` set to a fresh directory. */
async function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  const home = await Deno.makeTempDir();
  const previous = Deno.env.get("HOME");
  Deno.env.set("HOME", home);
  try {
    await fn(home);
  } finally {
    if (previous === undefined) Deno.env.delete("HOME");
    else Deno.env.set("HOME", previous);
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("ensurePrivateDirectory() makes the state directory and its subdirectory 0700, closing an open one", async () => {
  await withHome(async (home) => {
    await Deno.mkdir(`${home}/.leakwatch`, { mode: 0o755 });
    await Deno.chmod(`${home}/.leakwatch`, 0o755);
    await ensurePrivateDirectory(`${stateDirectory()}/console`);
    for (const path of [`${home}/.leakwatch`, `${home}/.leakwatch/console`]) {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o700, path);
    }
  });
});

Deno.test({
  name:
    "ensurePrivateDirectory() refuses a state directory another user made, and puts nothing in it (needs root)",
  ignore: !CAN_CHOWN,
  async fn() {
    await withHome(async (home) => {
      // Made beforehand by someone else, open to all.
      const state = `${home}/.leakwatch`;
      await Deno.mkdir(state);
      await Deno.chmod(state, 0o777);
      await Deno.chown(state, OTHER_UID, OTHER_UID);
      await assert.rejects(
        ensurePrivateDirectory(`${state}/console`),
        (error: Error) =>
          error instanceof NotPrivateError &&
          error.message ===
            `Refusing the directory "${state}": it belongs to uid ${OTHER_UID}, not to this user (uid 0), who could read or replace what is in it; remove it or give it to uid 0`,
      );
      const info = await Deno.stat(state);
      assert.equal(info.mode! & 0o777, 0o777, "not adopted by a chmod");
      assert.equal(info.uid, OTHER_UID);
      assert.deepEqual(await Array.fromAsync(Deno.readDir(state)), []);
      // Ours above, another user's below.
      await Deno.chown(state, 0, 0);
      await Deno.mkdir(`${state}/console`);
      await Deno.chown(`${state}/console`, OTHER_UID, OTHER_UID);
      await assert.rejects(
        ensurePrivateDirectory(`${state}/console`),
        /Refusing the directory ".*\/\.leakwatch\/console": it belongs to uid 65534/,
      );
      // Through a symbolic link to another user's directory.
      await Deno.remove(state, { recursive: true });
      const elsewhere = await Deno.makeTempDir();
      await Deno.chown(elsewhere, OTHER_UID, OTHER_UID);
      await Deno.symlink(elsewhere, state);
      await assert.rejects(
        ensurePrivateDirectory(`${state}/console`),
        /belongs to uid 65534/,
      );
      await Deno.remove(elsewhere, { recursive: true });
    });
  },
});

Deno.test({
  name:
    "serve refuses to start when another user owns the state directory: one line, nothing bound (needs root)",
  ignore: !CAN_CHOWN,
  async fn() {
    const home = await Deno.makeTempDir();
    try {
      await Deno.mkdir(`${home}/.leakwatch`, { mode: 0o777 });
      await Deno.chmod(`${home}/.leakwatch`, 0o777);
      await Deno.chown(`${home}/.leakwatch`, OTHER_UID, OTHER_UID);
      const { code, stdout, stderr } = await runMain(
        ["serve", "--port", "0", "--console-port", "0"],
        { home },
      );
      assert.equal(code, 2, stderr);
      const lines = stderr.trim().split("\n");
      assert.equal(lines.length, 1, stderr);
      assert.match(
        lines[0]!,
        /^error: Refusing the directory ".*\/\.leakwatch": it belongs to uid 65534, not to this user \(uid 0\)/,
      );
      assert.ok(!stdout.includes("listening"), stdout);
      assert.equal(
        (await Deno.stat(`${home}/.leakwatch`)).mode! & 0o777,
        0o777,
      );
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});
