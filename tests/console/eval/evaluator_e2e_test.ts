/**
 * The evaluator's promises checked through a real `main.ts serve` process
 * and its console: values whose every trap throws (thrown, rejected, thrown
 * from a timer and a microtask, left as an unhandled rejection, completed
 * with Tab), `process.exit()` and `Deno.exit(3)`, and the output of work an
 * interrupt left running. The service must answer each, keep serving HTTP
 * and stop cleanly.
 */

import assert from "node:assert/strict";
import type { Reply } from "../../../console/protocol.ts";
import { startServe } from "../../_process.ts";
import { TestConnection, valueOf } from "../_console_client.ts";

const TOKEN = "hostile-" + crypto.randomUUID();
const HOSTILE =
  "new Proxy({}, { getPrototypeOf() { throw 2 }, ownKeys() { throw 3 }, " +
  "getOwnPropertyDescriptor() { throw 4 }, get() { throw 5 }, has() { throw 6 } })";

/** A real `main.ts serve` and an authenticated JSON session on its console. */
async function openServiceSession() {
  const service = await startServe(["--console-port", "0"], {
    env: { CONSOLE_TOKEN: TOKEN },
  });
  const line = await service.stdout.waitFor(/^console listening on /);
  const port = Number(line.match(/:(\d+)$/)![1]);
  try {
    const session = await TestConnection.open(port);
    assert.equal((await session.hello(TOKEN))?.type, "hello");
    return { service, session, port };
  } catch (error) {
    service.child.kill("SIGTERM");
    await service.finish();
    throw error;
  }
}

Deno.test("a console session contains values whose every trap throws and refuses to exit the service, end to end", async () => {
  const { service, session } = await openServiceSession();
  try {
    let id = 0;
    for (
      const code of [
        `throw new Proxy({}, { getPrototypeOf() { throw 2 } })`,
        `throw ${HOSTILE}`,
        `await Promise.reject(${HOSTILE})`,
      ]
    ) {
      const { final } = await session.eval(++id, code);
      assert.equal(final.type, "error", code);
      assert.match((final as { text?: string }).text ?? "", /^Uncaught /);
    }
    // Background throws: each reported to the session as output with id null.
    const background: Reply[] = [];
    for (
      const code of [
        `setTimeout(() => { throw ${HOSTILE} }, 1); 1`,
        `queueMicrotask(() => { throw ${HOSTILE} }); 1`,
        `Promise.reject(${HOSTILE}); 1`,
      ]
    ) {
      const { final, before } = await session.eval(++id, code);
      assert.equal(valueOf(final), "1", code);
      background.push(...before);
    }
    await session.send({
      op: "eval",
      id: "var",
      code: `var hostile = ${HOSTILE}`,
    });
    const { before } = await session.until("var");
    background.push(...before);
    const uncaught = background.filter((r) =>
      r.type === "output" && r.stream === "stderr" &&
      r.text.startsWith("Uncaught")
    );
    assert.equal(uncaught.length, 3, JSON.stringify(background));
    // The microtask runs while its evaluation is still pending; the timer
    // and the unhandled rejection come after it returned: background.
    assert.deepEqual(
      uncaught.map((r) => r.type === "output" && [r.id, r.text]).sort(),
      [
        [5, "Uncaught {}\n"],
        [null, "Uncaught (in promise) {}\n"],
        [null, "Uncaught {}\n"],
      ].sort(),
    );
    // Tab completion on the proxy answers, empty, and the session goes on.
    await session.send({
      op: "complete",
      id: "tab",
      code: "hostile.",
      cursor: 8,
    });
    const { final: completions } = await session.until("tab");
    assert.deepEqual(completions, {
      type: "completions",
      id: "tab",
      candidates: [],
      start: 8,
    });
    // Neither process.exit() nor Deno.exit() stops the service.
    for (const code of ["process.exit()", "Deno.exit(3)"]) {
      const { final } = await session.eval(++id, code);
      assert.equal(final.type, "error", code);
      assert.match(
        final.type === "error" ? final.error.message : "",
        /would stop the whole service/,
      );
    }
    assert.equal(valueOf((await session.eval(++id, "6 * 7")).final), "42");
    const response = await fetch(`${service.url}users/alive`);
    assert.equal(response.status, 200);
    await response.body?.cancel();
  } finally {
    session.close();
    service.child.kill("SIGTERM");
  }
  const { code } = await service.finish();
  assert.equal(code, 0);
});

Deno.test("output of interrupted work arrives as background output (id null) even while another evaluation is pending, end to end", async () => {
  const { service, session } = await openServiceSession();
  try {
    await session.send({
      op: "eval",
      id: "slow",
      code: "console.log('running'); " +
        "await new Promise((r) => setTimeout(r, 300)); console.log('after interrupt'); " +
        "throw new Error('late')",
    });
    // Interrupted once it runs (an interrupt that comes while the snippet
    // is still being compiled stops it before it starts).
    const running = await session.reply();
    assert.deepEqual(running, {
      type: "output",
      id: "slow",
      stream: "stdout",
      text: "running\n",
    });
    await session.send({ op: "interrupt", id: "stop" });
    // Pending while the interrupted work prints: its output is still not
    // this evaluation's.
    await session.send({
      op: "eval",
      id: "waiting",
      code: "await new Promise((r) => setTimeout(r, 600)); 'done'",
    });
    const replies: Reply[] = [];
    while (replies.filter((r) => r.type === "output").length < 2) {
      const reply = await session.reply();
      assert.ok(reply !== null, "connection open");
      replies.push(reply);
    }
    const slow = replies.find((r) => r.type === "error" && r.id === "slow");
    assert.equal(slow?.type === "error" && slow.error.name, "Interrupted");
    const outputs = replies.filter((r) => r.type === "output");
    assert.deepEqual(
      outputs.map((r) =>
        r.type === "output" && [r.id, r.stream, r.text.split("\n")[0]]
      ),
      [
        [null, "stdout", "after interrupt"],
        [null, "stderr", "Uncaught (in promise) Error: late"],
      ],
    );
    const { final } = await session.until("waiting");
    assert.equal(valueOf(final), '"done"');
  } finally {
    session.close();
    service.child.kill("SIGTERM");
  }
  const { code } = await service.finish();
  assert.equal(code, 0);
});

Deno.test("an 800 KB completion, a 900 KB snippet and a TypeScript snippet that reads in exponential time are answered while HTTP keeps answering, and SIGTERM still stops the service, end to end", async () => {
  const { service, session } = await openServiceSession();
  /** A request answered while the console works: the event loop is free. */
  const healthy = async () => {
    const response = await fetch(`${service.url}healthz`);
    await response.body?.cancel();
    return response.status;
  };
  try {
    // The case that took minutes, holding HTTP and ignoring SIGTERM.
    const code = "cache" + ".x".repeat(400_000);
    await session.send({ op: "complete", id: "long", code });
    const [completion, status] = await Promise.all([
      session.until("long"),
      healthy(),
    ]);
    assert.equal(status, 200);
    assert.equal(completion.final.type, "error");
    assert.match(
      completion.final.type === "error" ? completion.final.error.name : "",
      /^CompletionError$/,
    );
    // A long snippet is read in the worker, and still runs.
    const array = "[" + "1,".repeat(450_000) + "].length";
    await session.send({ op: "eval", id: "array", code: array });
    const [long] = await Promise.all([session.until("array"), healthy()]);
    assert.equal(valueOf(long.final), "450000");
    // TypeScript still reads as TypeScript, through the worker.
    const typed = await session.eval(
      "typed",
      "const id = <T,>(x: T): T => x; id<number>(7)",
    );
    assert.equal(valueOf(typed.final), "7");
    // 120 characters that made the TypeScript reading take minutes: the
    // service answers HTTP meanwhile, and gives up after its budget.
    await session.send({ op: "eval", id: "nested", code: "a<b>(".repeat(24) });
    assert.equal(await healthy(), 200);
    const nested = await session.until("nested", 120_000);
    assert.equal(nested.final.type, "error");
    assert.equal(
      nested.final.type === "error" && nested.final.error.name,
      "ParseBudgetError",
    );
    assert.equal(valueOf((await session.eval("after", "6 * 7")).final), "42");
    // SIGTERM while the given-up reading still runs in the worker (Deno
    // cannot stop it) and another TypeScript snippet is refused: the
    // service stops all the same.
    await session.send({ op: "eval", id: "again", code: "a<b>(".repeat(30) });
    assert.equal(await healthy(), 200);
  } finally {
    session.close();
    service.child.kill("SIGTERM");
  }
  const { code } = await service.finish();
  assert.equal(code, 0);
});

Deno.test("a hook a session installed keeps working, with the session's variables, after the session ends; a session nothing references is collected, end to end", async () => {
  const { service, session: observer, port: consolePort } =
    await openServiceSession();
  /** Opens a session, runs `code`, and leaves (the client disconnects). */
  const runAndLeave = async (code: string) => {
    const session = await TestConnection.open(consolePort);
    try {
      assert.equal((await session.hello(TOKEN))?.type, "hello");
      valueOf((await session.eval(1, code)).final);
    } finally {
      session.close();
    }
  };
  try {
    // A registry that outlives the sessions, to see what is collected.
    valueOf(
      (await observer.eval(
        1,
        "main.collected = []; main.registry = new FinalizationRegistry((name) => collected.push(name)); 1",
      )).final,
    );
    // The report's shape: a hook calling a function bound in the session.
    await runAndLeave([
      "let calls = 0;",
      "const original = users.lookup.bind(users);",
      "const L = (id) => { calls++; console.log(`hooked lookup ${calls}`); return original(id) };",
      "users.lookup = (id) => L(id);",
      "users.lookupCalls = () => calls;",
      "registry.register(L, 'hooked'); 1",
    ].join("\n"));
    // A session whose objects nothing references once it is gone.
    await runAndLeave(
      "const big = new Array(100_000).fill(1); registry.register(big, 'free'); 1",
    );
    await service.stderr.waitFor(/console session 3 from .* closed$/);
    for (const id of ["ada", "grace", "alan"]) {
      const response = await fetch(`${service.url}users/${id}`);
      await response.body?.cancel();
      assert.equal(response.status, 200, `/users/${id}`);
    }
    await service.stdout.waitFor(/^hooked lookup 3$/);
    // The counter kept counting; another session sees it through the hook.
    assert.equal(
      valueOf((await observer.eval(2, "users.lookupCalls()")).final),
      "3",
    );
    // Collect until the free session's array is finalized; the hooked
    // session's function is still referenced by users.lookup.
    let collected = "[]";
    for (let round = 3; !collected.includes("free"); round++) {
      assert.ok(round < 200, `never collected: ${collected}`);
      collected = valueOf(
        (await observer.eval(
          round,
          "await gc(); await new Promise((r) => setTimeout(r, 0)); JSON.stringify(collected)",
        )).final,
      );
    }
    assert.equal(collected, "'[\"free\"]'");
  } finally {
    observer.close();
    service.child.kill("SIGTERM");
  }
  const { code } = await service.finish();
  assert.equal(code, 0);
});
