import assert from "node:assert/strict";
import { tokenFilePath, tokensEqual } from "../../console/token.ts";

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
