import assert from "node:assert/strict";
import { tokenFilePath, tokensEqual } from "../../console/token.ts";

const TOKEN = "test-token-0123456789abcdef";

Deno.test("tokensEqual() compares whole tokens of any length", async () => {
  assert.ok(await tokensEqual(TOKEN, TOKEN));
  assert.ok(!await tokensEqual(TOKEN, TOKEN + "x"));
  assert.ok(!await tokensEqual(TOKEN, ""));
  assert.ok(!await tokensEqual("", TOKEN));
});

Deno.test("tokenFilePath() names a socket's file by its absolute path", () => {
  assert.equal(
    tokenFilePath({ socket: "x.sock" }),
    tokenFilePath({ socket: `${Deno.cwd()}/x.sock` }),
  );
  assert.equal(
    tokenFilePath({ socket: "/run/a/../b.sock" }),
    tokenFilePath({ socket: "/run/b.sock" }),
  );
  assert.notEqual(
    tokenFilePath({ socket: "/run/b.sock" }),
    tokenFilePath({ socket: "/run/c.sock" }),
  );
  assert.match(tokenFilePath({ port: 44444 }), /\/console\/tcp-44444\.token$/);
});
