import assert from "node:assert/strict";
import { startTest, TOKEN } from "./_server.ts";

Deno.test("runTextSession() asks for the token, shows a banner and prompts, accepts CRLF", async () => {
  await using t = await startTest({ promptDelayMs: 50 });
  const c = await t.connect();
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(1024);
  const n = await c.conn.read(buffer);
  assert.equal(decoder.decode(buffer.subarray(0, n!)), "token: ");
  await c.write(`${TOKEN}\r\n`);
  assert.equal(await c.line(), "");
  assert.match(
    (await c.line())!,
    /^leakwatch console \(protocol 3\), pid \d+$/,
  );
  assert.equal(await c.line(), "In scope: main, cache, state, slow");
  assert.match((await c.line())!, /help\(\)/);
  assert.match((await c.line())!, /synchronous endless loop/);
  await c.write("let s = [1,\r\n2,\r\n3]\r\ns.length\r\n");
  // Prompt, continuation prompts, then each result after its prompt.
  assert.equal(await c.line(), ">>> ... ... undefined");
  assert.equal(await c.line(), ">>> 3");
  await c.write("console.log('hi'); throw new Error('nope')\r\n");
  assert.equal(await c.line(), ">>> hi");
  assert.equal(await c.line(), "Uncaught Error: nope");
  await c.write(".exit\r\n");
  let rest = "";
  while (true) {
    const line = await c.line();
    if (line === null) break;
    rest += line + "\n";
  }
  assert.match(rest, /^\s+at <console>:1:\d+\n>>> \n$/);
});

Deno.test("runTextSession() asks no token question of a token sent at once", async () => {
  await using t = await startTest({ promptDelayMs: 50 });
  const c = await t.connect();
  await c.write(`${TOKEN}\n6*7\n`);
  assert.match((await c.line())!, /^leakwatch console/);
  await c.line();
  await c.line();
  await c.line();
  assert.equal(await c.line(), ">>> 42");
});

Deno.test("runTextSession() evaluates every line piped in before the input ended", async () => {
  await using t = await startTest({ promptDelayMs: 60_000 });
  const c = await t.connect();
  await c.write(`${TOKEN}\nawait slow(30); 6 * 7\n[1,\n2].length\n'last'\n`);
  await c.conn.closeWrite();
  let text = "";
  for (let line = await c.line(); line !== null; line = await c.line()) {
    text += line + "\n";
  }
  assert.match(text, />>> 42\n>>> \.\.\. 2\n>>> "last"\n>>> \n$/);
});
