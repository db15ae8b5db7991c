import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import {
  type InteractiveOptions,
  INTERRUPT_SENT,
  runInteractive,
} from "../../../console/client/interactive.ts";
import { ProgressLine } from "../../../console/client/progress_bar.ts";
import { startTestConsole, type TestConsole } from "./_fixture.ts";
import { screenOf } from "./_terminal.ts";

const CTRL_C = "\x03";
const CTRL_D = "\x04";
const ENTER = "\r";

/**
 * Opens a session on `t` and drives `runInteractive` on it like a terminal
 * would, keys in, screen out, from its first prompt on.
 */
async function drive(
  t: TestConsole,
  options: Partial<InteractiveOptions> = {},
) {
  const connection = await t.connect();
  const input = new PassThrough();
  const output = new PassThrough();
  const errorOutput = new PassThrough();
  let stdout = "";
  let stderr = "";
  output.on("data", (chunk) => stdout += chunk.toString());
  errorOutput.on("data", (chunk) => stderr += chunk.toString());
  const exit = runInteractive(connection, {
    input,
    output,
    errorOutput,
    terminal: true,
    ...options,
  });
  const screen = {
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    /** Sends keys, one chunk each (a chunk of several is a paste). */
    async keys(...chunks: string[]) {
      for (const chunk of chunks) {
        input.write(chunk);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    /** Waits until what stdout or stderr shows matches. */
    async waitFor(
      pattern: RegExp,
      stream: "stdout" | "stderr" = "stdout",
      timeoutMs = 5_000,
    ) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(screenOf(stream === "stdout" ? stdout : stderr))) {
        if (Date.now() > deadline) {
          throw new Error(
            `No ${pattern} in ${stream}:\n${JSON.stringify(stdout)}\n${
              JSON.stringify(stderr)
            }`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    exit,
    connection,
  };
  await screen.waitFor(/>>> /);
  return screen;
}

Deno.test("runInteractive() shows the banner and prompts, evaluates lines and continues incomplete snippets", async () => {
  await using t = await startTestConsole();
  const screen = await drive(t, { banner: "hello there" });
  assert.match(screen.stdout, /^hello there\n/);
  await screen.keys("cache.size", ENTER);
  await screen.waitFor(/\n2\n/);
  await screen.keys("[1,", ENTER);
  await screen.waitFor(/\.\.\. $/);
  await screen.keys("", ENTER); // a blank line inside a snippet asks for more
  await screen.keys("2]", ENTER);
  await screen.waitFor(/\[ 1, 2 \]\n/);
  await screen.keys("nope", ENTER);
  await screen.waitFor(
    /Uncaught ReferenceError: nope is not defined/,
    "stderr",
  );
  await screen.keys(".exit", ENTER);
  assert.equal(await screen.exit, 0);
  assert.match(
    screenOf(screen.stdout),
    />>> \[1,\n\.\.\. \n\.\.\. 2\]\n\[ 1, 2 \]\n/,
  );
});

Deno.test("runInteractive() clears the line and any incomplete snippet on Ctrl-C", async () => {
  await using t = await startTestConsole();
  const screen = await drive(t);
  await screen.keys("garbage(");
  await screen.keys(CTRL_C);
  await screen.waitFor(/\^C\n/);
  await screen.keys("[", ENTER);
  await screen.waitFor(/\.\.\. $/);
  await screen.keys(CTRL_C);
  await screen.keys("1 + 1", ENTER);
  await screen.waitFor(/\n2\n/);
  await screen.keys(CTRL_C); // on an empty line: a hint
  await screen.waitFor(/To leave, press Ctrl-D or type \.exit/);
  await screen.keys(CTRL_D);
  assert.equal(await screen.exit, 0);
  assert.equal(screen.stderr, "");
  assert.equal(
    screenOf(screen.stdout),
    [
      ">>> garbage(^C",
      ">>> [",
      "... ^C",
      ">>> 1 + 1",
      "2",
      ">>> ^C",
      "(To leave, press Ctrl-D or type .exit)",
      ">>> ",
      "",
    ].join("\n"),
  );
});

Deno.test("runInteractive() interrupts a pending evaluation on Ctrl-C and leaves on a second one", async () => {
  await using t = await startTestConsole();
  const screen = await drive(t);
  await screen.keys("await slow(10_000)", ENTER);
  await new Promise((resolve) => setTimeout(resolve, 50));
  await screen.keys(CTRL_C);
  await screen.waitFor(/Interrupted\n$/, "stderr");
  assert.equal(screen.stderr, INTERRUPT_SENT + "Interrupted\n");
  await screen.keys("'still here'", ENTER);
  await screen.waitFor(/"still here"\n/);
  // A snippet stuck where an interrupt cannot reach it: the first Ctrl-C
  // says so at once, the second leaves. (Simulated: a busy evaluation whose
  // interrupt is never answered; the real loop is in run_test.ts.)
  screen.connection.interrupt = () => new Promise(() => {});
  await screen.keys("await slow(300)", ENTER);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const before = screen.stderr.length;
  await screen.keys(CTRL_C);
  await screen.waitFor(/Press Ctrl-C again to leave the console/, "stderr");
  assert.equal(screen.stderr.slice(before), INTERRUPT_SENT);
  await screen.keys(CTRL_C);
  assert.equal(await screen.exit, 130);
  assert.match(screen.stderr, /does not answer the interrupt/);
});

Deno.test("runInteractive() completes with Tab from the console's candidates", async () => {
  await using t = await startTestConsole();
  const screen = await drive(t);
  await screen.keys("cache.si", "\t");
  await screen.waitFor(/cache\.size/);
  await screen.keys(ENTER);
  await screen.waitFor(/\n2\n/);
  await screen.keys("cache.", "\t", "\t"); // two Tabs list the candidates
  await screen.waitFor(/forEach/);
  await screen.keys(CTRL_C, CTRL_D); // Ctrl-D leaves from an empty line only
  assert.equal(await screen.exit, 0);
});

Deno.test("runInteractive() prints output of background work above the prompt, keeping the typed text", async () => {
  await using t = await startTestConsole();
  const screen = await drive(t);
  await screen.keys("setTimeout(() => console.log('tick'), 300); 0", ENTER);
  await screen.waitFor(/\n0\n/);
  await screen.keys("half typ");
  await screen.waitFor(/tick\n>>> half typ$/);
  // The prompt's line was erased before the output, then drawn again.
  assert.ok(screen.stdout.includes("\r\x1b[Ktick\n"));
  assert.match(
    screenOf(screen.stdout),
    /^>>> setTimeout.*\n0\ntick\n>>> half typ$/,
  );
  await screen.keys("ed", CTRL_C, CTRL_D);
  assert.equal(await screen.exit, 0);
});

Deno.test("runInteractive() draws progress while evaluating and clears it for the result", async () => {
  await using t = await startTestConsole();
  const bars: string[] = [];
  const screen = await drive(t, {
    progress: new ProgressLine((text) => bars.push(text)),
  });
  await screen.keys("await work(4)", ENTER);
  await screen.waitFor(/\n4\n/);
  assert.equal(bars[0], "\r[....................]   0% work\x1b[K");
  assert.ok(bars.includes("\r[##########..........]  50% work\x1b[K"));
  assert.equal(bars.at(-1), "\r\x1b[K");
  await screen.keys(CTRL_D);
  assert.equal(await screen.exit, 0);
});

Deno.test("runInteractive() saves and reloads its history file, owner-only", async () => {
  await using t = await startTestConsole();
  const home = await Deno.makeTempDir();
  const historyPath = `${home}/.leakwatch/console_history`;
  try {
    const first = await drive(t, { historyPath });
    await first.keys("40 + 2", ENTER);
    await first.waitFor(/\n42\n/);
    await first.keys(CTRL_D);
    assert.equal(await first.exit, 0);
    assert.equal(await Deno.readTextFile(historyPath), "40 + 2\n");
    assert.equal((await Deno.stat(historyPath)).mode! & 0o777, 0o600);

    const second = await drive(t, { historyPath });
    await second.keys("\x1b[A", ENTER); // arrow up: the last session's line
    await second.waitFor(/\n42\n/);
    await second.keys(CTRL_D);
    assert.equal(await second.exit, 0);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("runInteractive() ends with 2 when the console goes away", async () => {
  await using t = await startTestConsole();
  const screen = await drive(t);
  await t.stopServer();
  assert.equal(await screen.exit, 2);
  assert.match(
    screen.stderr,
    /error: the console at 127\.0\.0\.1:\d+ closed the connection\n$/,
  );
});
