import assert from "node:assert/strict";
import {
  ParseBudgetError,
  ParseWorkerBusyError,
  parseWorkerSettled,
  parseWorkerStarts,
  prepareInWorker,
  stopParseWorker,
} from "../../../console/eval/parse_worker_client.ts";

// 90 characters that make sucrase backtrack for a second or more (each 5
// more double it: 120 took minutes, 200 would outlast anyone). Deno 2.9
// cannot stop a worker while it reads (Worker.terminate() leaves a busy
// thread running: denoland/deno#35657), so tests only give up readings that
// end by themselves, and wait for them (parseWorkerSettled()).
const EXPONENTIAL = "a<b>(".repeat(18);

Deno.test("prepareInWorker() reads TypeScript, as TypeScript", async () => {
  const prepared = await prepareInWorker(
    "interface User { id: string }\nconst id = <T,>(x: T): T => x;\nid<number>(7)",
  );
  assert.equal(prepared.kind, "prepared");
  assert.ok(prepared.kind === "prepared" && !prepared.body.includes("<"));
  assert.deepEqual(
    prepared.kind === "prepared" && prepared.lexicalNames,
    ["id"],
  );
  assert.deepEqual(await prepareInWorker("let x: number ="), {
    kind: "incomplete",
  });
  assert.equal((await prepareInWorker("let x: = 1")).kind, "error");
  stopParseWorker();
});

Deno.test("prepareInWorker() gives up past the budget, and the next snippet gets a fresh worker", async () => {
  await prepareInWorker("1 as number"); // the worker is up and ready
  const starts = parseWorkerStarts();
  await assert.rejects(
    prepareInWorker(EXPONENTIAL, { budgetMs: 300 }),
    (error: Error) =>
      error instanceof ParseBudgetError &&
      /took over 300 ms: gave up/.test(error.message),
  );
  // The given-up reading still runs (Deno cannot stop it): refused, with
  // how long ago it was given up, until it ends by itself.
  await assert.rejects(
    prepareInWorker("let n: number = 1; n"),
    (error: Error) =>
      error instanceof ParseWorkerBusyError &&
      /still runs in the parse worker/.test(error.message),
  );
  await parseWorkerSettled();
  const next = await prepareInWorker("let n: number = 1; n");
  assert.equal(next.kind, "prepared");
  assert.equal(parseWorkerStarts(), starts + 1);
  stopParseWorker();
});

Deno.test("prepareInWorker() stops a reading when its signal aborts", async () => {
  await prepareInWorker("1 as number");
  const controller = new AbortController();
  const reason = new Error("interrupted");
  const pending = prepareInWorker(EXPONENTIAL, {
    signal: controller.signal,
    budgetMs: 3_600_000,
  });
  // Queued behind it: refused at once, as the given-up reading runs on.
  const after = prepareInWorker("const typed: string = 'x'; typed");
  controller.abort(reason);
  await assert.rejects(pending, (error) => error === reason);
  await assert.rejects(after, ParseWorkerBusyError);
  await parseWorkerSettled();
  assert.equal(
    (await prepareInWorker("const typed: string = 'x'; typed")).kind,
    "prepared",
  );
  // An aborted signal is refused before anything starts.
  await assert.rejects(
    prepareInWorker("1 as number", { signal: controller.signal }),
    (error) => error === reason,
  );
  stopParseWorker();
});

Deno.test("prepareInWorker() answers queued snippets in order, and reports what a reading threw", async () => {
  const outcomes = await Promise.all(
    ["1 as number", "foo<", "let s: string = 'a'"].map((code) =>
      prepareInWorker(code)
    ),
  );
  assert.deepEqual(outcomes.map((outcome) => outcome.kind), [
    "prepared",
    "incomplete",
    "prepared",
  ]);
  // Nested past the stack's depth: its RangeError, not a dead worker.
  await assert.rejects(
    prepareInWorker("x" + "<x".repeat(300_000)),
    { name: "RangeError" },
  );
  assert.equal((await prepareInWorker("2 as number")).kind, "prepared");
  stopParseWorker();
});

Deno.test("stopParseWorker() rejects what is waiting", async () => {
  const pending = prepareInWorker(EXPONENTIAL);
  stopParseWorker();
  await assert.rejects(pending, { message: "The parse worker was stopped" });
  await parseWorkerSettled();
});

Deno.test("evaluate() without read access to the worker's code says which flag to add, and plain JavaScript still runs", async () => {
  const child = new URL("./_no_read_child.ts", import.meta.url);
  const { code, stdout, stderr } = await new Deno.Command("deno", {
    args: ["run", "--no-prompt", child.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  assert.equal(code, 0, decoder.decode(stderr));
  const [typed, plain] = decoder.decode(stdout).trim().split("\n").map((line) =>
    JSON.parse(line)
  );
  assert.equal(typed.kind, "error");
  assert.match(
    typed.message,
    /^The parse worker \(it reads TypeScript and long snippets\) could not load its code: run with --allow-read=\/.*\/console\/eval\/,\/.*\/console\/npm\/ /,
  );
  assert.equal(plain.kind, "value");
  assert.equal(plain.text, "42");
});
