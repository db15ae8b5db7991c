/** Process facts from `ps` and port holders from `ss`, including lines that are not what they should be. */

import assert from "node:assert/strict";
import {
  maskHas,
  parseFields,
  readProcess,
  runtimeOf,
  stillRunning,
} from "../../../console/attach/process_facts.ts";
import {
  parsePortHolders,
  portHolders,
} from "../../../console/attach/listening_sockets.ts";

Deno.test("parseFields() reads ps's fields and refuses short or non-numeric lines", () => {
  const facts = parseFields(
    "T  0 0 0 7 fffffffffffffdff 4026531833 4026531836 Mon Jan  1 00:00:00 2024",
  );
  assert.equal(facts?.state, "T");
  assert.equal(facts?.catchesSigusr1, false);
  for (
    const line of [
      "",
      "S 1 2",
      "S a b c 1 0 1 1 Mon Jan 1 00:00:00 2024",
      "\u0000".repeat(50),
    ]
  ) {
    assert.equal(parseFields(line), undefined, JSON.stringify(line));
  }
});

Deno.test("maskHas() reads a signal mask bit and refuses anything that is not hexadecimal", () => {
  assert.equal(maskHas("200", 10), true);
  assert.equal(maskHas("0000000100004643", 10), true);
  assert.equal(maskHas("ffffffffffffffffffffffffffffffff", 64), true);
  for (const bad of ["", "0x200", "zz", "1".repeat(33), "-200"]) {
    assert.equal(maskHas(bad, 10), false, bad);
  }
});

Deno.test("runtimeOf() knows deno and node binaries by name, and nothing else", () => {
  assert.equal(runtimeOf("deno"), "deno");
  assert.equal(runtimeOf("/opt/node-v20/bin/node"), "node");
  assert.equal(runtimeOf("/usr/bin/nodejs"), "node");
  for (
    const other of ["/usr/bin/denox", "/app/my-deno-app", "node-gyp", "", "/"]
  ) {
    assert.equal(runtimeOf(other), undefined, other);
  }
});

Deno.test("readProcess() describes a real child (runtime, args, handler) and stillRunning() notices its end", async () => {
  const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const facts = await readProcess(child.pid);
    assert.ok(facts !== undefined);
    assert.equal(facts.runtime, undefined);
    assert.match(facts.exe, /sleep$/);
    assert.deepEqual(facts.argv.slice(1), ["30"]);
    assert.equal(facts.catchesSigusr1, false);
    assert.equal(await stillRunning(facts), true);
    child.kill("SIGKILL");
    await child.status;
    assert.equal(await stillRunning(facts), false);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Gone.
    }
  }
});

Deno.test("parsePortHolders() keeps only LISTEN lines of the port, with every pid named", () => {
  const text = [
    'LISTEN 0 511 127.0.0.1:9229 0.0.0.0:* users:(("deno",pid=1,fd=3),("deno",pid=2,fd=3))',
    "ESTAB 0 0 127.0.0.1:9229 127.0.0.1:5000",
    "LISTEN 0 511 127.0.0.1:92290 0.0.0.0:*",
    "garbage",
    "",
  ].join("\n");
  assert.deepEqual(parsePortHolders(text, 9229), {
    sockets: ["127.0.0.1:9229"],
    pids: [1, 2],
  });
});

Deno.test("portHolders() finds this process on a port it listens on", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const { port } = listener.addr as Deno.NetAddr;
    assert.deepEqual(await portHolders(port), {
      sockets: [`127.0.0.1:${port}`],
      pids: [Deno.pid],
    });
  } finally {
    listener.close();
  }
});
