import assert from "node:assert/strict";
import { NotPrivateError } from "../../console/state_dir.ts";
import {
  readTokenFile,
  tokenFilePath,
  tokensEqual,
  writeTokenFile,
} from "../../console/token.ts";
import { CAN_CHOWN, OTHER_UID } from "./_owner.ts";

const TOKEN = "test-token-0123456789abcdef";

Deno.test("tokensEqual() compares whole tokens of any length", async () => {
  assert.ok(await tokensEqual(TOKEN, TOKEN));
  assert.ok(!await tokensEqual(TOKEN, TOKEN + "x"));
  assert.ok(!await tokensEqual(TOKEN, ""));
  assert.ok(!await tokensEqual("", TOKEN));
});

Deno.test("tokenFilePath() names a socket's file by its absolute path", async () => {
  assert.equal(
    await tokenFilePath({ socket: "x.sock" }),
    await tokenFilePath({ socket: `${Deno.cwd()}/x.sock` }),
  );
  assert.equal(
    await tokenFilePath({ socket: "/run/a/../b.sock" }),
    await tokenFilePath({ socket: "/run/b.sock" }),
  );
  assert.notEqual(
    await tokenFilePath({ socket: "/run/b.sock" }),
    await tokenFilePath({ socket: "/run/c.sock" }),
  );
  // The first 8 bytes of SHA-256("/run/b.sock"): the scheme every earlier
  // version used, so a client finds a running older service's token.
  assert.match(
    await tokenFilePath({ socket: "/run/b.sock" }),
    /\/console\/unix-95242085e36b5aff\.token$/,
  );
  assert.match(
    await tokenFilePath({ port: 44444 }),
    /\/console\/tcp-44444\.token$/,
  );
});

Deno.test("readTokenFile() refuses a token file others may read or write", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/tcp-1.token`;
    await writeTokenFile(path, TOKEN);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal(await readTokenFile(path), TOKEN);
    for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602]) {
      await Deno.chmod(path, mode);
      await assert.rejects(
        readTokenFile(path),
        (error: Error) =>
          error instanceof NotPrivateError &&
          error.message ===
            `Refusing the console token file "${path}": it is readable by others (mode 0${
              mode.toString(8)
            }), so its token may be known to them; restart the service for a new one`,
      );
    }
    assert.equal(await readTokenFile(`${dir}/none.token`), undefined);
    await Deno.writeTextFile(path, "x".repeat(5000), { mode: 0o600 });
    await Deno.chmod(path, 0o600);
    await assert.rejects(readTokenFile(path), /over 4096 bytes/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "readTokenFile() refuses a token file another user owns, even private (needs root)",
  ignore: !CAN_CHOWN,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/tcp-1.token`;
      await Deno.writeTextFile(path, TOKEN + "\n", { mode: 0o600 });
      await Deno.chown(path, OTHER_UID, OTHER_UID);
      await assert.rejects(
        readTokenFile(path),
        (error: Error) =>
          error instanceof NotPrivateError &&
          error.message ===
            `Refusing the console token file "${path}": it belongs to uid 65534, not to this user (uid 0), who could read or replace what is in it; remove it or give it to uid 0`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
