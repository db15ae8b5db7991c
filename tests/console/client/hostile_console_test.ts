/**
 * A fake (or compromised) console sends terminal escapes in every field it
 * has: the client shows each one escaped, wherever it prints the server's
 * text (`-e`, `--json`, piped input, the `--target` table and `[target]`
 * lines, the interactive REPL, errors, progress, completion), and keeps
 * the colours of values when it asked for them.
 */

import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { runInteractive } from "../../../console/client/interactive.ts";
import { connectConsole } from "../../../console/client/connection.ts";
import { ProgressLine } from "../../../console/client/progress_bar.ts";
import { createCompleter } from "../../../console/client/tab_completion.ts";
import { spawnMain } from "../../_process.ts";
import { assertInert, HOSTILE } from "./_hostile.ts";
import {
  SCRIPTED_TOKEN as TOKEN,
  startScriptedConsole,
} from "./_scripted_console.ts";

const encoder = new TextEncoder();

/** Every message an evaluation can get, each carrying the attack, then `final`. */
function hostileAnswer(id: number, final: Record<string, unknown>): string {
  return [
    { type: "output", id, stream: "stdout", text: HOSTILE + "\n" },
    { type: "output", id, stream: "stderr", text: HOSTILE + "\n" },
    { type: "output", id: null, stream: "stdout", text: HOSTILE },
    { type: "progress", id, label: HOSTILE, done: 1, total: 2 },
    { type: "error", id: null, error: { name: HOSTILE, message: HOSTILE } },
    { id, durationMs: 1, ...final },
  ].map((message) => JSON.stringify(message)).join("\n");
}

const VALUE = { type: "result", value: HOSTILE, json: JSON.stringify(HOSTILE) };
const ERROR = {
  type: "error",
  error: { name: HOSTILE, message: HOSTILE, stack: HOSTILE },
  text: `Uncaught ${HOSTILE}\n    at ${HOSTILE}`,
};

/** Runs `main.ts console` with the console task's permissions. */
async function runClient(args: string[], stdin?: string) {
  const client = await spawnMain(["console", "--token", TOKEN, ...args], {
    task: "console",
    stdin: stdin !== undefined,
  });
  if (stdin !== undefined) {
    const writer = client.child.stdin.getWriter();
    await writer.write(encoder.encode(stdin));
    await writer.close();
  }
  return await client.finish();
}

Deno.test("`main.ts console -e` shows a console's escapes escaped: output, progress, notices, value, error", async () => {
  for (const final of [VALUE, ERROR]) {
    await using fake = startScriptedConsole(
      (request) => hostileAnswer(request.id, final),
    );
    const { code, stdout, stderr } = await runClient([
      "--port",
      String(fake.port),
      "-e",
      "x",
    ]);
    assert.equal(code, final === VALUE ? 0 : 1, stderr);
    assertInert(stdout, `stdout (${final.type})`);
    assertInert(stderr, `stderr (${final.type})`);
  }
});

Deno.test("`main.ts console --json -e` writes JSON safe on a terminal, with the console's very values", async () => {
  for (const final of [VALUE, ERROR]) {
    await using fake = startScriptedConsole(
      (request) => hostileAnswer(request.id, final),
    );
    const { stdout, stderr } = await runClient([
      "--port",
      String(fake.port),
      "--json",
      "-e",
      "x",
    ]);
    assertInert(stdout, `stdout (${final.type})`);
    assertInert(stderr, `stderr (${final.type})`);
    const parsed = JSON.parse(stdout);
    if (final === VALUE) assert.equal(parsed, HOSTILE);
    else assert.deepEqual(parsed.error, ERROR.error);
  }
});

Deno.test("`main.ts console` with piped input shows a console's escapes escaped", async () => {
  await using fake = startScriptedConsole(
    (request) => hostileAnswer(request.id, request.id === 1 ? VALUE : ERROR),
  );
  const { code, stdout, stderr } = await runClient(
    ["--port", String(fake.port)],
    "first\nsecond\n",
  );
  assert.equal(code, 1);
  assertInert(stdout, "stdout");
  assertInert(stderr, "stderr");
});

Deno.test("`main.ts console --target` shows every instance's escapes escaped: the table, the [target] lines, the JSON lines", async () => {
  for (const json of [false, true]) {
    await using valued = startScriptedConsole(
      (request) => hostileAnswer(request.id, VALUE),
    );
    await using failing = startScriptedConsole(
      (request) => hostileAnswer(request.id, ERROR),
    );
    const { stdout, stderr } = await runClient([
      "--target",
      `127.0.0.1:${valued.port}`,
      "--target",
      `127.0.0.1:${failing.port}`,
      ...json ? ["--json"] : [],
      "-e",
      "x",
    ]);
    assertInert(stdout, `stdout (json: ${json})`);
    assertInert(stderr, `stderr (json: ${json})`);
    // Every line of output carries its target's mark.
    for (const line of stderr.trimEnd().split("\n")) {
      assert.match(line, /^\[127\.0\.0\.1:\d+\] /);
    }
    if (json) {
      const lines = stdout.trimEnd().split("\n").map((line) =>
        JSON.parse(line)
      );
      assert.equal(lines[0].value, HOSTILE);
      assert.deepEqual(lines[1].error, {
        name: HOSTILE,
        message: HOSTILE,
      });
    }
  }
});

Deno.test("`main.ts console` shows a refusal's escapes escaped", async () => {
  for (const name of ["SessionLimitError", HOSTILE]) {
    await using fake = startScriptedConsole(() => "", {
      refusal: JSON.stringify({
        type: "error",
        id: null,
        error: { name, message: HOSTILE },
      }),
    });
    const { code, stdout, stderr } = await runClient([
      "--port",
      String(fake.port),
      "-e",
      "x",
    ]);
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assertInert(stderr, "stderr");
  }
});

Deno.test("runInteractive() shows a console's escapes escaped: banner, output, progress, notices, value, error; and keeps its colours", async () => {
  await using fake = startScriptedConsole(
    (request) =>
      hostileAnswer(request.id, request.code === "value" ? VALUE : ERROR),
    {
      banner: HOSTILE,
      complete: (request) =>
        JSON.stringify({
          type: "completions",
          id: request.id,
          candidates: ["safe", `evil${HOSTILE}`, "a\nb"],
          start: 0,
        }),
    },
  );
  const connection = await connectConsole(
    { host: "127.0.0.1", port: fake.port },
    {
      credentials: () => Promise.resolve({ token: TOKEN, source: "--token" }),
      colors: true,
    },
  );
  const input = new PassThrough();
  const output = new PassThrough();
  const errorOutput = new PassThrough();
  let stdout = "";
  let stderr = "";
  let bar = "";
  output.on("data", (chunk) => stdout += chunk.toString());
  errorOutput.on("data", (chunk) => stderr += chunk.toString());
  const done = runInteractive(connection, {
    input,
    output,
    errorOutput,
    terminal: false,
    banner: connection.info.banner,
    colors: true,
    progress: new ProgressLine((text) => bar += text),
  });
  input.write("value\nerror\n");
  input.end();
  assert.equal(await done, 0);
  await connection.close();
  assertInert(stdout, "stdout", { colors: true });
  assertInert(stderr, "stderr", { colors: true });
  assert.ok(stdout.includes("\x1b[31mred\x1b[39m"), "the colour passed");
  // The bar is the client's own drawing: its label is the server's text.
  assertInert(bar.replaceAll("\r", "").replaceAll("\x1b[K", ""), "progress");
});

Deno.test("createCompleter() offers none of a console's candidates that hold control characters", async () => {
  await using fake = startScriptedConsole(() => "", {
    complete: (request) =>
      JSON.stringify({
        type: "completions",
        id: request.id,
        candidates: ["safe", `evil${HOSTILE}`, "a\nb", "x\u202ey", "s\x9b2J"],
        start: 0,
      }),
  });
  const connection = await connectConsole(
    { host: "127.0.0.1", port: fake.port },
    { credentials: () => Promise.resolve({ token: TOKEN, source: "--token" }) },
  );
  try {
    const complete = createCompleter(
      (code, cursor) => connection.complete(code, cursor),
      () => "",
    );
    assert.deepEqual(await complete("s"), [["safe"], "s"]);
  } finally {
    await connection.close();
  }
});
