import assert from "node:assert/strict";
import { settle, startTest, TOKEN } from "./_server.ts";

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

Deno.test("runTextSession() counts every character dropped for a client that does not read, and queues no more than its limit", async () => {
  const logs: string[] = [];
  await using t = await startTest({
    promptDelayMs: 60_000,
    log: (line) => logs.push(line),
  });
  const c = await t.connect();
  const printed = 30_000_000;
  // One line of 30 million characters, then 10 000 lines of 999: the
  // client reads nothing until both evaluations are done.
  await c.write(
    `${TOKEN}\nconsole.log("x".repeat(${printed - 1}))\n` +
      "for (let i = 0; i < 10_000; i++) console.log('y'.repeat(998)); 'end'\n",
  );
  await settle(
    () => logs.filter((line) => / eval .* ok$/.test(line)).length === 2,
    60_000,
  );
  await c.write(".exit\n");
  let text = "";
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(1 << 20);
  while (true) {
    const n = await c.conn.read(buffer);
    if (n === null) break;
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  // The snippets' output lies between the first prompt and the last
  // result, with the first result (`undefined`) and the notes among it.
  const note =
    /… \((\d+) characters of output dropped: the client did not read fast enough\)\n/g;
  let region = text.slice(
    text.indexOf(">>> ") + 4,
    text.lastIndexOf('"end"\n>>> '),
  );
  const noted = [...region.matchAll(note)].reduce(
    (sum, match) => sum + Number(match[1]),
    0,
  );
  region = region.replace(note, "");
  assert.equal(region.split("undefined\n>>> ").length, 2);
  const delivered = region.length - "undefined\n>>> ".length;
  assert.ok(noted > 0);
  assert.equal(delivered + noted, printed + 10_000 * 999);
  // The backlog kept for the client stayed near the 8 MiB limit: far less
  // than what was printed arrived.
  assert.ok(delivered < 12 * 1024 * 1024, `${delivered} delivered`);
  assert.match(text, /"end"\n>>> \n$/);
});
