import assert from "node:assert/strict";
import { mainArgs } from "../../_process.ts";
import { TestConnection } from "../_console_client.ts";

const ROOT = new URL("../../../", import.meta.url);

Deno.test("logToStderr() and printToStdout() count a line they cannot write instead of throwing", async () => {
  // Closed streams, in a process of its own: the writes fail with
  // BadResource, as after `Deno.stderr.close()` in a console session.
  const script = `
    import { logToStderr, logWriteFailures, printToStdout } from "./console/server/log.ts";
    Deno.stderr.close();
    Deno.stdout.close();
    logToStderr("lost");
    logToStderr("lost too");
    printToStdout("lost as well");
    const { stdout, stderr } = logWriteFailures();
    Deno.exit(stdout === 1 && stderr === 2 ? 0 : 3);
  `;
  const { code } = await new Deno.Command("deno", {
    args: ["eval", "--ext=ts", script],
    cwd: ROOT,
    stdout: "null",
    stderr: "null",
  }).output();
  assert.equal(code, 0);
});

/** The sample of `leakwatch_log_lines_dropped_total` on `/metrics`. */
async function droppedLines(url: string): Promise<number> {
  const text = await (await fetch(`${url}metrics`)).text();
  const value = text.match(/^leakwatch_log_lines_dropped_total (\S+)$/m)?.[1];
  assert.ok(value !== undefined, text);
  return Number(value);
}

/** Polls `/metrics` until more lines were dropped than `before`. */
async function untilDropped(url: string, before: number): Promise<number> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const dropped = await droppedLines(url);
    if (dropped > before) return dropped;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`No dropped line counted beyond ${before}`);
}

Deno.test("main.ts serve keeps serving when its stdout and stderr readers are gone, and shuts down cleanly", async () => {
  const child = new Deno.Command("deno", {
    args: await mainArgs(["serve", "--port", "0", "--console-port", "0"]),
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let status: Deno.CommandStatus | undefined;
  try {
    const stdout = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    while (!/^console token in .*\n/m.test(text)) {
      const { done, value } = await stdout.read();
      assert.ok(!done, `stdout ended:\n${text}`);
      text += value;
    }
    const url = text.match(/(http:\/\/\S+)/)![1]!;
    const consolePort = Number(
      text.match(/console listening on .*:(\d+)$/m)![1],
    );
    const tokenFile = text.match(/^console token in (.*)$/m)![1]!;
    // The readers go, as a crashed log shipper or `| head -3` would.
    await stdout.cancel();
    await child.stderr.cancel();

    const before = await droppedLines(url);
    // A wrong token: the console logs the refusal to the dead stderr.
    const intruder = await TestConnection.open(consolePort);
    await intruder.hello("not-the-token-at-all-0123456789");
    intruder.close();
    let after = await untilDropped(url, before);
    // SIGUSR1: Deno's own inspector lines and the guard's refusal.
    child.kill("SIGUSR1");
    after = await untilDropped(url, after);

    // It still serves HTTP and the console.
    for (let i = 0; i < 20; i++) {
      assert.equal((await fetch(`${url}users/user-${i}`)).status, 200);
    }
    const token = (await Deno.readTextFile(tokenFile)).trim();
    const operator = await TestConnection.open(consolePort);
    assert.equal((await operator.hello(token))?.type, "hello");
    operator.close();
    await untilDropped(url, after);

    child.kill("SIGTERM");
    status = await child.status;
    assert.equal(status.code, 0);
    await assert.rejects(() => Deno.stat(tokenFile), Deno.errors.NotFound);
  } finally {
    if (status === undefined) {
      child.kill("SIGKILL");
      await child.status;
    }
  }
});
