import assert from "node:assert/strict";
import { findToken } from "../../../console/client/credentials.ts";
import { ConsoleClientError } from "../../../console/client/connection.ts";
import { writeTokenFile } from "../../../console/token.ts";
import { runMain } from "../../_process.ts";
import { CAN_CHOWN, OTHER_UID } from "../_owner.ts";
import { startTestConsole, TOKEN } from "./_fixture.ts";

/**
 * A console listening on a free port, and a `$HOME` holding its token file
 * as `prepare` leaves it; runs `main.ts console --port P -e 1` there.
 */
async function clientWithTokenFile(
  prepare: (file: string) => Promise<void>,
) {
  await using server = await startTestConsole();
  const home = await Deno.makeTempDir();
  try {
    const file = `${home}/.leakwatch/console/tcp-${server.port}.token`;
    await Deno.mkdir(`${home}/.leakwatch/console`, {
      recursive: true,
      mode: 0o700,
    });
    await writeTokenFile(file, TOKEN);
    await prepare(file);
    const result = await runMain(
      ["console", "--port", String(server.port), "-e", "cache.size"],
      { task: "console", home },
    );
    return { ...result, file };
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("the client uses its own private token file", async () => {
  const { code, stdout, stderr } = await clientWithTokenFile(() =>
    Promise.resolve()
  );
  assert.equal(code, 0, stderr);
  assert.equal(stdout, "2\n");
});

Deno.test("the client refuses a token file others may read, in one line", async () => {
  const { code, stdout, stderr, file } = await clientWithTokenFile((file) =>
    Deno.chmod(file, 0o644)
  );
  assert.equal(code, 2);
  assert.equal(stdout, "");
  assert.equal(
    stderr,
    `error: refusing the console token file "${file}": it is readable by others (mode 0644), so its token may be known to them; restart the service for a new one\n`,
  );
});

Deno.test({
  name:
    "the client refuses a token file another user owns, in one line (needs root)",
  ignore: !CAN_CHOWN,
  async fn() {
    const { code, stdout, stderr, file } = await clientWithTokenFile((file) =>
      Deno.chown(file, OTHER_UID, OTHER_UID)
    );
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.equal(
      stderr,
      `error: refusing the console token file "${file}": it belongs to uid 65534, not to this user (uid 0), who could read or replace what is in it; remove it or give it to uid 0\n`,
    );
  },
});

Deno.test("findToken() turns a refused token file into a client error", async () => {
  const home = await Deno.makeTempDir();
  const previous = Deno.env.get("HOME");
  Deno.env.set("HOME", home);
  try {
    const file = `${home}/.leakwatch/console/tcp-7.token`;
    await writeTokenFile(file, TOKEN);
    await Deno.chmod(file, 0o660);
    await assert.rejects(
      findToken({ host: "127.0.0.1", port: 7 }),
      (error: Error) =>
        error instanceof ConsoleClientError &&
        /^refusing the console token file ".*": it is readable by others \(mode 0660\)/
          .test(error.message),
    );
  } finally {
    if (previous === undefined) Deno.env.delete("HOME");
    else Deno.env.set("HOME", previous);
    await Deno.remove(home, { recursive: true });
  }
});
