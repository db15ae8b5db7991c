// This file runs in its own isolate: the console stubs below are what the
// routing patch sees as the "original" console.
import assert from "node:assert/strict";
import { createEvaluator } from "../../../console/eval/evaluator.ts";
import {
  installConsoleRouting,
  runInContext,
} from "../../../console/eval/console_routing.ts";
import { createSessionConsole } from "../../../console/eval/session_console.ts";

const original: { method: string; args: unknown[] }[] = [];
for (const method of ["log", "error", "warn", "table"] as const) {
  console[method] = (...args: unknown[]) =>
    void original.push({ method, args });
}
installConsoleRouting();
installConsoleRouting();

function context(lines: string[]) {
  const sessionConsole = createSessionConsole({
    write: (_stream, text) => lines.push(text),
  });
  return { console: sessionConsole, pending: true, reportUncaught() {} };
}

Deno.test("installConsoleRouting() leaves console calls outside sessions unchanged", () => {
  original.length = 0;
  const data = { a: 1 };
  console.log("plain", data);
  console.table([data]);
  assert.deepEqual(original, [
    { method: "log", args: ["plain", data] },
    { method: "table", args: [[data]] },
  ]);
});

Deno.test("runInContext() routes console calls to the session only", async () => {
  original.length = 0;
  const lines: string[] = [];
  await runInContext(context(lines), async () => {
    console.log("one");
    await null;
    console.error("two");
  });
  console.log("outside");
  assert.deepEqual(lines, ["one\n", "two\n"]);
  assert.deepEqual(original, [{ method: "log", args: ["outside"] }]);
});

Deno.test("runInContext() still routes output of a context no one waits for", () => {
  original.length = 0;
  const lines: string[] = [];
  const finished = { ...context(lines), pending: false };
  runInContext(finished, () => console.log("background"));
  assert.deepEqual(lines, ["background\n"]);
  assert.deepEqual(original, []);
});

Deno.test("runInContext() sends console calls made while writing to the original console", () => {
  original.length = 0;
  const lines: string[] = [];
  const sessionConsole = createSessionConsole({
    write(_stream, text) {
      console.log("server log while writing");
      lines.push(text);
    },
  });
  runInContext(
    { console: sessionConsole, pending: true, reportUncaught() {} },
    () => {
      console.log("snippet");
    },
  );
  assert.deepEqual(lines, ["snippet\n"]);
  assert.deepEqual(original, [{
    method: "log",
    args: ["server log while writing"],
  }]);
});

Deno.test("installConsoleRouting() reports a session's unhandled rejection to it", async () => {
  const reported: unknown[] = [];
  const ctx = {
    ...context([]),
    reportUncaught: (error: unknown) => void reported.push(error),
  };
  const reason = new Error("nobody caught me");
  runInContext(ctx, () => void Promise.reject(reason));
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(reported, [reason]);
});

Deno.test("installConsoleRouting() survives a report that throws, for rejections, microtasks and timers", async () => {
  const hostile = new Proxy({}, {
    getPrototypeOf() {
      throw 2;
    },
  });
  let calls = 0;
  const ctx = {
    ...context([]),
    reportUncaught() {
      calls++;
      throw hostile;
    },
  };
  runInContext(ctx, () => {
    void Promise.reject(hostile);
    queueMicrotask(() => {
      throw hostile;
    });
    setTimeout(() => {
      throw hostile;
    }, 1);
  });
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(calls, 3);
});

Deno.test("installConsoleRouting() leaves rejections outside sessions to the process", async () => {
  let prevented: boolean | undefined;
  const listener = (event: PromiseRejectionEvent) => {
    prevented = event.defaultPrevented;
    event.preventDefault(); // this test's own handling
  };
  globalThis.addEventListener("unhandledrejection", listener);
  try {
    void Promise.reject(new Error("service bug"));
    await new Promise((resolve) => setTimeout(resolve, 10));
  } finally {
    globalThis.removeEventListener("unhandledrejection", listener);
  }
  assert.equal(prevented, false);
});

Deno.test("close() hands output of work a session left running back to the process", async () => {
  original.length = 0;
  const lines: string[] = [];
  const evaluator = createEvaluator({}, {
    output: { write: (_stream, text) => lines.push(text) },
  });
  await evaluator.evaluate(
    "setTimeout(() => console.log('left running'), 5); setTimeout(() => { throw new Error('late') }, 5)",
  );
  evaluator.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(lines, []);
  assert.deepEqual(
    original.map((
      { method, args },
    ) => [method, String(args[0]).split("\n")[0]]),
    [
      ["log", "left running"],
      ["error", "Uncaught Error: late"],
    ],
  );
});
