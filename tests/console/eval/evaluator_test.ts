import assert from "node:assert/strict";
import {
  createEvaluator,
  type EvalResult,
  type Evaluator,
  type EvaluatorOptions,
} from "../../../console/eval/evaluator.ts";
import { gc } from "../../../console/toolkit/gc.ts";
import { parseWorkerSettled } from "../../../console/eval/parse_worker_client.ts";

interface Session {
  evaluator: Evaluator;
  stdout: string[];
  stderr: string[];
  /** Every write in order, either stream, marked background or not. */
  writes: { text: string; background?: boolean }[];
}

function openSession(
  namespace: Record<string, unknown> = {},
  options: Partial<EvaluatorOptions> = {},
): Session {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const writes: Session["writes"] = [];
  const evaluator = createEvaluator(namespace, {
    output: {
      write: (stream, text, info) => {
        (stream === "stdout" ? stdout : stderr).push(text);
        writes.push({ text, background: info?.background });
      },
    },
    ...options,
  });
  return { evaluator, stdout, stderr, writes };
}

async function value(evaluator: Evaluator, code: string): Promise<string> {
  const result = await evaluator.evaluate(code);
  assert.equal(result.kind, "value", `${code} -> ${JSON.stringify(result)}`);
  return (result as { text: string }).text;
}

/**
 * A test that is only a transcript in a fresh session, and the console
 * output the session saw.
 */
interface Transcript {
  /** The test's name. */
  name: string;
  /** Makes the session's namespace; an empty one by default. */
  namespace?: () => Record<string, unknown>;
  /** The session's options. */
  options?: Partial<EvaluatorOptions>;
  /** The snippets in turn, each with the value it must show, if any. */
  steps: [code: string, shown?: string][];
  /** How long to let the snippets' timers run before the output is read. */
  waitMs?: number;
  /** What the session must have written to stdout, where named. */
  stdout?: string[];
  /** What the session must have written to stderr, where named. */
  stderr?: string[];
}

/** Registers one test per transcript. */
function registerTranscripts(transcripts: Transcript[]): void {
  for (const transcript of transcripts) {
    Deno.test(transcript.name, async () => {
      const session = openSession(
        transcript.namespace?.(),
        transcript.options,
      );
      await assertTranscript(session.evaluator, transcript.steps);
      if (transcript.waitMs !== undefined) await tick(transcript.waitMs);
      if (transcript.stdout) {
        assert.deepEqual(session.stdout, transcript.stdout);
      }
      if (transcript.stderr) {
        assert.deepEqual(session.stderr, transcript.stderr);
      }
    });
  }
}

/**
 * Runs a transcript in one session: each snippet in turn must give a
 * value, and the value shown where its row names one.
 */
async function assertTranscript(
  evaluator: Evaluator,
  steps: [code: string, shown?: string][],
): Promise<void> {
  for (const [code, shown] of steps) {
    const text = await value(evaluator, code);
    if (shown !== undefined) {
      assert.equal(text, shown, `${code}: ${text} !== ${shown}`);
    }
  }
}

type Failure = Extract<EvalResult, { kind: "error" }>;

/**
 * Evaluates `code`, which must fail, with the fields `expected` names (a
 * pattern must match the field).
 */
async function failure(
  evaluator: Evaluator,
  code: string,
  expected: { [field in "name" | "message" | "stack"]?: string | RegExp } = {},
): Promise<Failure> {
  const result = await evaluator.evaluate(code);
  assert.equal(result.kind, "error", `${code} -> ${JSON.stringify(result)}`);
  const error = result as Failure;
  for (const [field, want] of Object.entries(expected)) {
    const actual = error[field as keyof typeof expected];
    const message = `${field} of ${code}: ${JSON.stringify(actual)}`;
    if (want instanceof RegExp) assert.match(actual, want, message);
    else assert.equal(actual, want, message);
  }
  return error;
}

/**
 * Evaluates `code`, aborts its signal after `afterMs` milliseconds, and
 * checks that the evaluation ended as Interrupted.
 */
async function assertInterrupted(
  evaluator: Evaluator,
  code: string,
  { afterMs }: { afterMs: number },
): Promise<void> {
  const controller = new AbortController();
  const pending = evaluator.evaluate(code, { signal: controller.signal });
  setTimeout(() => controller.abort(), afterMs);
  const result = await pending;
  assert.equal(result.kind, "error", JSON.stringify(result));
  assert.equal((result as Failure).name, "Interrupted");
}

/** Asks for completions at the end of each code; each answer must be as given. */
async function assertCompletions(
  evaluator: Evaluator,
  cases: [code: string, candidates: string[], start: number][],
): Promise<void> {
  for (const [code, candidates, start] of cases) {
    assert.deepEqual(
      await evaluator.complete(code, code.length),
      { candidates, start },
      code,
    );
  }
}

function serviceNamespace(): Record<string, unknown> {
  return {
    cache: new Map([["a", 1], ["b", 2]]),
    config: { port: 8000 },
    getUser: (id: string) => Promise.resolve({ id, name: `user ${id}` }),
  };
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// --- scope -----------------------------------------------------------------

registerTranscripts([
  {
    name: "evaluate() sees namespace members by bare name and as main",
    namespace: serviceNamespace,
    steps: [
      ["cache.size", "2"],
      ["main.cache.size", "2"],
      ["main.cache === cache", "true"],
      ["config.port", "8000"],
    ],
  },
]);

Deno.test("evaluate() reads namespace members live", async () => {
  const namespace = serviceNamespace();
  const { evaluator } = openSession(namespace);
  assert.equal(await value(evaluator, "cache.size"), "2");
  namespace.cache = new Map();
  assert.equal(await value(evaluator, "cache.size"), "0");
  namespace.added = "later";
  assert.equal(await value(evaluator, "added"), '"later"');
  delete namespace.added;
  assert.equal(await value(evaluator, "typeof added"), '"undefined"');
});

Deno.test("evaluate() writes a bare namespace member through to the namespace", async () => {
  const namespace = serviceNamespace();
  const { evaluator } = openSession(namespace);
  await value(evaluator, "config = { port: 1 }");
  assert.deepEqual(namespace.config, { port: 1 });
  await failure(evaluator, "main = 1", { name: "TypeError" });
});

Deno.test("evaluate() sees session scope entries without adding them to the namespace", async () => {
  const namespace = serviceNamespace();
  const { evaluator } = openSession(namespace, {
    scope: { mem: () => "12 MB" },
  });
  assert.equal(await value(evaluator, "mem()"), '"12 MB"');
  assert.equal("mem" in namespace, false);
  assert.equal(await value(evaluator, "typeof main.mem"), '"undefined"');
});

Deno.test("evaluate() lets session declarations shadow namespace members", async () => {
  const namespace = serviceNamespace();
  const { evaluator } = openSession(namespace);
  await value(evaluator, "let cache = 'mine'");
  assert.equal(await value(evaluator, "cache"), '"mine"');
  assert.equal(await value(evaluator, "main.cache.size"), "2");
  assert.ok(namespace.cache instanceof Map);
});

// --- declarations ----------------------------------------------------------

registerTranscripts([
  {
    name: "evaluate() keeps declarations of every kind across snippets",
    steps: [
      ["let a = 1"],
      ["const b = 2"],
      ["var c = 3"],
      ["function f() { return a + b + c }"],
      ["class Point { constructor(x) { this.x = x } }"],
      ["const { d, e } = { d: 4, e: 5 }"],
      ["let [x, , y = 7] = [6]"],
      ["async function* gen() { yield 1 }"],
      ["f()", "6"],
      ["new Point(1).x", "1"],
      ["[d, e, x, y]", "[ 4, 5, 6, 7 ]"],
      ["typeof gen", '"function"'],
    ],
  },
  {
    name: "evaluate() lets a function see declarations made after it",
    steps: [
      ["function later() { return z }"],
      ["let z = 'seen'"],
      ["later()", '"seen"'],
    ],
  },
  {
    name: "evaluate() hoists function declarations within a snippet",
    steps: [["early(); function early() { return 'ok' }\nearly()", '"ok"']],
  },
  {
    name:
      "evaluate() overwrites a let or const declared again in a later snippet",
    steps: [
      ["let a = 1"],
      ["let a = 2"],
      ["a", "2"],
      ["const k = 1"],
      ["const k = 'two'"],
      ["k", '"two"'],
      ["class K {}"],
      ["let K = 3"],
      ["K", "3"],
    ],
  },
  {
    // Documented behaviour: a session const behaves like let.
    name: "evaluate() does not enforce const after its declaration",
    steps: [["const fixed = 1"], ["fixed = 2; fixed", "2"]],
  },
  {
    name:
      "evaluate() keeps a var's value when it is declared again without a value",
    steps: [["var v = 1"], ["var v; v", "1"]],
  },
  {
    name: "evaluate() keeps vars declared in loops and blocks, not block lets",
    steps: [
      ["for (var i = 0; i < 3; i++) {}"],
      ["for (var key in { p: 1 }) {}"],
      ["if (true) { var inside = 'v'; let local = 'l' }"],
      ["[i, key, inside]", '[ 3, "p", "v" ]'],
      ["typeof local", '"undefined"'],
    ],
  },
  {
    name: "evaluate() still reaches globals",
    steps: [
      ["Math.max(1, 2)", "2"],
      ["typeof Deno.inspect", '"function"'],
      ["this === globalThis", "true"],
    ],
  },
]);

Deno.test("evaluate() makes an undeclared assignment a session variable, not a global", async () => {
  const { evaluator } = openSession();
  await assertTranscript(evaluator, [
    ["implicit = 5", "5"],
    ["implicit", "5"],
    ["({ late } = { late: 'x' }); late", '"x"'],
    [
      "function setLater() { fromFunction = 1 } setLater(); fromFunction",
      "1",
    ],
  ]);
  assert.equal("implicit" in globalThis, false);
  assert.equal("late" in globalThis, false);
  assert.equal("fromFunction" in globalThis, false);
});

Deno.test("evaluate() puts nothing on globalThis", async () => {
  const before = new Set(Object.getOwnPropertyNames(globalThis));
  const { evaluator } = openSession();
  await assertTranscript(evaluator, [
    ["let l = 1; const c = 2; var v = 3; function f() {} class C {}"],
    ["implicitGlobal = 4; for (var loopVar of [1]) {}"],
  ]);
  const added = Object.getOwnPropertyNames(globalThis).filter((name) =>
    !before.has(name)
  );
  assert.deepEqual(added, []);
});

Deno.test("evaluate() keeps sessions apart", async () => {
  const namespace = serviceNamespace();
  const one = openSession(namespace).evaluator;
  const two = openSession(namespace).evaluator;
  await value(one, "let mine = 'one'; implicitOne = 1");
  assert.equal(await value(two, "_"), "undefined");
  await failure(two, "mine", { name: "ReferenceError" });
  assert.equal(await value(two, "typeof implicitOne"), '"undefined"');
  assert.equal(await value(one, "mine"), '"one"');
});

Deno.test("evaluate() keeps typeof and ReferenceError for undeclared names", async () => {
  const { evaluator } = openSession();
  assert.equal(await value(evaluator, "typeof notDeclared"), '"undefined"');
  await failure(evaluator, "notDeclared + 1", {
    name: "ReferenceError",
    message: "notDeclared is not defined",
  });
});

// --- values ----------------------------------------------------------------

registerTranscripts([
  {
    name: "evaluate() returns the last expression statement's value",
    steps: [
      ["1 + 1", "2"],
      ["let x = 1", "undefined"],
      ["x; let y = 2", "1"],
      ["if (true) { 'then' } else { 'else' }", '"then"'],
      ["for (const n of [1, 2, 3]) n * 10", "30"],
      ["function g() { 5 }", "undefined"],
      ["", "undefined"],
      ["// just a comment", "undefined"],
      ["(function () { return 7 })()", "7"],
      ["'a'\n'b'", '"b"'],
    ],
  },
  {
    name: "evaluate() reads a leading { as an object literal",
    steps: [
      ["{a: 1}", "{ a: 1 }"],
      ["{}", "{}"],
      ["{ let inner = 2; inner * 2 }", "4"],
    ],
  },
  {
    name: "evaluate() awaits at top level and keeps what it declares",
    namespace: serviceNamespace,
    steps: [
      ["await 1", "1"],
      ['const u = await getUser("x")', "undefined"],
      ["u.name", '"user x"'],
      ["for await (const n of [Promise.resolve(3)]) n", "3"],
      [
        "const later = await new Promise((r) => setTimeout(() => r(9), 5)); later",
        "9",
      ],
    ],
  },
  {
    name: "evaluate() keeps output of a custom inspector in the session",
    steps: [[
      "({ [Symbol.for('Deno.customInspect')]() { console.log('inspected'); return 'shown' } })",
      "shown",
    ]],
    stdout: ["inspected\n"],
  },
]);

Deno.test("evaluate() awaits a promise value, interruptibly", async () => {
  const { evaluator } = openSession(serviceNamespace());
  await assertTranscript(evaluator, [
    ["Promise.resolve(1)", "1"],
    ["_", "1"],
    ["[Promise.resolve(2)]", "[ Promise { 2 } ]"],
  ]);
  const rejected = await evaluator.evaluate(
    "Promise.reject(new RangeError('no'))",
  );
  assert.equal(rejected.kind, "error");
  await assertInterrupted(evaluator, "new Promise(() => {})", { afterMs: 20 });
  assert.equal(await value(evaluator, "40 + 2"), "42");
});

Deno.test("evaluate() sets _ to the last value and _error to the last error", async () => {
  const { evaluator } = openSession();
  await value(evaluator, "40 + 2");
  assert.equal(await value(evaluator, "_"), "42");
  await failure(evaluator, "throw new RangeError('nope')");
  assert.equal(await value(evaluator, "_error.message"), '"nope"');
  assert.equal(await value(evaluator, "_error instanceof RangeError"), "true");
  await failure(evaluator, "1 +* 2");
  assert.equal(await value(evaluator, "_error.name"), '"SyntaxError"');
});

Deno.test("evaluate() renders with Deno.inspect, colored on request", async () => {
  const plain = openSession().evaluator;
  await assertTranscript(plain, [
    ["new Map([['a', 1]])", 'Map(1) { "a" => 1 }'],
    ["'text'", '"text"'],
    ["undefined", "undefined"],
  ]);
  const colored = openSession({}, { colors: true }).evaluator;
  assert.equal(await value(colored, "42"), "\x1b[33m42\x1b[39m");
});

Deno.test("evaluate() truncates long values with a visible marker", async () => {
  const { evaluator } = openSession({}, { maxResultChars: 50 });
  const text = await value(evaluator, "'x'.repeat(200)");
  assert.equal(text, `"${"x".repeat(49)}… (truncated, 152 more chars)`);
  const defaults = openSession().evaluator;
  const big = await value(defaults, "'y'.repeat(150_000)");
  assert.match(big, /… \(truncated, 50002 more chars\)$/);
});

// --- errors ----------------------------------------------------------------

Deno.test("evaluate() reports a thrown error with a clean stack and carries on", async () => {
  const { evaluator } = openSession();
  const error = await failure(
    evaluator,
    "function boom() { throw new TypeError('bad') }\nboom()",
    {
      name: "TypeError",
      message: "bad",
      stack:
        "TypeError: bad\n    at boom (<console>:1:25)\n    at <console>:2:1",
    },
  );
  assert.equal(error.text, `Uncaught ${error.stack}`);
  assert.doesNotMatch(error.text, /evaluator\.ts|async_hooks|compile\.ts/);
  assert.ok(error.durationMs >= 0);
  assert.equal(await value(evaluator, "1"), "1");
});

Deno.test("evaluate() maps stack columns back to the snippet as typed", async () => {
  const { evaluator } = openSession();
  await failure(evaluator, "let a = 1; a = 2; null.x", {
    stack: /at <console>:1:24$/,
  });
});

Deno.test("evaluate() keeps frames of the service code a snippet calls", async () => {
  const thrower = function serviceThrower() {
    throw new Error("from service");
  };
  const { evaluator } = openSession({ thrower });
  await failure(evaluator, "thrower()", {
    stack:
      /at serviceThrower \(file:.*evaluator_test\.ts:\d+:\d+\)\n {4}at <console>:1:1$/,
  });
});

Deno.test("evaluate() reports a thrown non-Error value", async () => {
  const { evaluator } = openSession();
  const error = await failure(evaluator, "throw 42");
  assert.deepEqual({ ...error, durationMs: 0 }, {
    kind: "error",
    name: "number",
    message: "42",
    stack: "",
    text: "Uncaught 42",
    durationMs: 0,
  });
  assert.equal(await value(evaluator, "_error"), "42");
  const object = await failure(evaluator, "throw { code: 'E' }");
  assert.equal(object.name, "object");
  assert.equal(object.text, 'Uncaught { code: "E" }');
});

Deno.test("evaluate() reports a rejected top-level await as an error", async () => {
  const { evaluator } = openSession();
  await failure(evaluator, "await Promise.reject(new Error('rejected'))", {
    message: "rejected",
    stack: /^Error: rejected\n {4}at <console>:1:22$/,
  });
  await failure(evaluator, "await null; throw new Error('after await')", {
    message: "after await",
  });
});

Deno.test("evaluate() reports a syntax error with the line and a caret", async () => {
  const { evaluator } = openSession();
  const error = await failure(evaluator, "1 +* 2", {
    name: "SyntaxError",
    message: "Unexpected token (1:4)",
    stack: "SyntaxError: Unexpected token (1:4)\n1 +* 2\n   ^",
  });
  assert.equal(error.text, `Uncaught ${error.stack}`);
  for (const code of [")", "let a = 1; let a = 2", "return 1"]) {
    await failure(evaluator, code, { name: "SyntaxError" });
  }
});

// --- incomplete input ------------------------------------------------------

Deno.test("evaluate() asks for more input when the snippet is unfinished", async () => {
  const { evaluator } = openSession();
  for (
    const code of [
      "foo(",
      "[1, 2",
      "function f() {",
      "{",
      "`template",
      "`${1 +",
      "'continued \\",
      "1 +",
      "a ?",
      "if (x)",
      "x.",
      "/* comment",
      "let n: number =",
      "interface User {",
    ]
  ) {
    assert.deepEqual(
      await evaluator.evaluate(code),
      { kind: "incomplete" },
      code,
    );
  }
});

Deno.test("evaluate() treats a quoted string cut at the line end as a syntax error", async () => {
  // A '...' string cannot span lines, so more input cannot complete it.
  const { evaluator } = openSession();
  await failure(evaluator, "'abc", {
    message: "Unterminated string constant (1:1)",
  });
});

// --- TypeScript ------------------------------------------------------------

registerTranscripts([
  {
    name: "evaluate() accepts TypeScript syntax",
    namespace: serviceNamespace,
    steps: [
      ["let n: number = 5; n * 2", "10"],
      ["interface User { id: string }", "undefined"],
      ["type Id = string", "undefined"],
      ["(cache as Map<string, number>).size", "2"],
      ["function id<T>(value: T): T { return value }\nid<string>('x')", '"x"'],
      ["enum Color { Red, Green }\nColor.Green", "1"],
      ["Color[0]", '"Red"'],
      ["const u: { id: string } = await getUser('t'); u.id", '"t"'],
      ["class P { constructor(public x: number) {} }\nnew P(3).x", "3"],
      ["config!.port satisfies number", "8000"],
    ],
  },
]);

Deno.test("evaluate() reports TypeScript errors with the line of the snippet", async () => {
  const { evaluator } = openSession();
  await failure(evaluator, "let ok: number = 1;\nthrow new Error('ts ' + ok)", {
    message: "ts 1",
    stack: /at <console>:2:/,
  });
});

// --- console output --------------------------------------------------------

registerTranscripts([
  {
    name: "evaluate() sends console output to the session's streams",
    steps: [[
      "console.log('log', { a: 1 }); console.info('info'); console.debug('debug'); " +
      "console.warn('warn'); console.error('error'); console.dir({ b: 2 }); console.log('%s=%d', 'n', 42.9)",
    ]],
    stdout: [
      "log { a: 1 }\n",
      "info\n",
      "debug\n",
      "{ b: 2 }\n",
      "n=42\n",
    ],
    stderr: ["warn\n", "error\n"],
  },
  {
    name:
      "evaluate() routes output from called functions, timers and after await",
    namespace: () => ({
      logIt: (text: string) => console.log(`service says ${text}`),
    }),
    steps: [
      ["logIt('direct')"],
      ["await null; logIt('after await')"],
      [
        "setTimeout(() => console.log('from timer'), 5); queueMicrotask(() => console.log('micro'))",
      ],
    ],
    waitMs: 100,
    stdout: [
      "service says direct\n",
      "service says after await\n",
      "micro\n",
      "from timer\n",
    ],
  },
  {
    name:
      "evaluate() formats console.table, group, count, assert and trace like Deno",
    steps: [[
      "console.table([{ a: 1 }]); console.group('g'); console.log('in'); console.groupEnd(); " +
      "console.count(); console.count(); console.assert(false, 'why'); console.trace('here')",
    ]],
    stdout: [
      "┌───────┬───┐\n│ (idx) │ a │\n├───────┼───┤\n│     0 │ 1 │\n└───────┴───┘\n",
      "g\n",
      "  in\n",
      "default: 1\n",
      "default: 2\n",
    ],
    stderr: [
      "Assertion failed: why\n",
      "Trace: here\n    at <console>:1:159\n",
    ],
  },
  {
    name: "evaluate() colors console output on request",
    options: { colors: true },
    steps: [["console.log('plain', 1)"]],
    stdout: ["plain \x1b[33m1\x1b[39m\n"],
  },
  {
    name: "evaluate() reports a snippet's unhandled rejection to the session",
    steps: [[
      "Promise.reject(new Error('lost')); 'still running'",
      '"still running"',
    ]],
    waitMs: 30,
    stderr: ["Uncaught (in promise) Error: lost\n    at <console>:1:16\n"],
  },
]);

Deno.test("evaluate() keeps concurrent sessions' output apart", async () => {
  const one = openSession();
  const two = openSession();
  const first = one.evaluator.evaluate(
    "await new Promise((r) => setTimeout(r, 10)); console.log('one')",
  );
  const second = two.evaluator.evaluate(
    "await null; console.log('two'); await new Promise((r) => setTimeout(r, 5)); console.log('two again')",
  );
  await Promise.all([first, second]);
  assert.deepEqual(one.stdout, ["one\n"]);
  assert.deepEqual(two.stdout, ["two\n", "two again\n"]);
});

Deno.test("evaluate() reports errors thrown by a snippet's microtasks and timers", async () => {
  const { evaluator, stderr } = openSession();
  await value(evaluator, "queueMicrotask(() => { throw new Error('micro') })");
  await value(evaluator, "setTimeout(() => { throw new Error('timer') }, 1)");
  await value(
    evaluator,
    "let ticks = 0; const id = setInterval(() => { if (++ticks === 2) { clearInterval(id); throw new Error('interval') } }, 1)",
  );
  await tick(100);
  assert.deepEqual(stderr, [
    "Uncaught Error: micro\n    at <console>:1:30\n",
    "Uncaught Error: timer\n    at <console>:1:26\n",
    "Uncaught Error: interval\n    at <console>:1:93\n",
  ]);
  assert.equal(
    await value(evaluator, "'service still up'"),
    '"service still up"',
  );
});

// --- interrupt -------------------------------------------------------------

Deno.test("evaluate() settles promptly as Interrupted when the signal aborts", async () => {
  const { evaluator, writes } = openSession();
  const started = performance.now();
  await assertInterrupted(
    evaluator,
    "await new Promise((r) => setTimeout(r, 200)); console.log('orphan finished')",
    { afterMs: 5 },
  );
  assert.ok(performance.now() - started < 150);
  assert.equal(await value(evaluator, "'usable'"), '"usable"');
  const second = evaluator.evaluate(
    "await new Promise((r) => setTimeout(r, 400)); console.log('second')",
  );
  await tick(250);
  // The interrupted work goes on, and its output arrives as background
  // output even while another evaluation is pending.
  assert.deepEqual(writes, [{ text: "orphan finished\n", background: true }]);
  await second;
  assert.deepEqual(writes.at(-1), { text: "second\n", background: false });
});

Deno.test("evaluate() reports a later failure of interrupted work as background output", async () => {
  const { evaluator, writes } = openSession();
  await assertInterrupted(
    evaluator,
    "await new Promise((r) => setTimeout(r, 30)); throw new Error('late')",
    { afterMs: 5 },
  );
  await tick(100);
  assert.deepEqual(writes, [{
    text: "Uncaught (in promise) Error: late\n    at <console>:1:52\n",
    background: true,
  }]);
});

Deno.test("evaluate() with an already aborted signal does not run the snippet", async () => {
  const { evaluator } = openSession();
  const result = await evaluator.evaluate("ran = true", {
    signal: AbortSignal.abort(),
  });
  assert.equal((result as { name: string }).name, "Interrupted");
  assert.equal(await value(evaluator, "typeof ran"), '"undefined"');
});

Deno.test("evaluate() ignores a signal that never aborts", async () => {
  const { evaluator } = openSession();
  const controller = new AbortController();
  assert.equal(
    (await evaluator.evaluate("await 5", { signal: controller.signal })).kind,
    "value",
  );
  const error = await evaluator.evaluate(
    "await Promise.reject(new Error('x'))",
    { signal: controller.signal },
  );
  assert.equal((error as { message: string }).message, "x");
});

Deno.test("evaluate() gives up reading a snippet past its parse budget, and the session goes on", async () => {
  const { evaluator } = openSession({}, { parseBudgetMs: 300 });
  // 90 characters whose TypeScript reading backtracks for a second or
  // more (each 5 more double it: 150 take hours).
  const result = await evaluator.evaluate("a<b>(".repeat(18));
  assert.equal(result.kind, "error");
  assert.equal((result as { name: string }).name, "ParseBudgetError");
  assert.match(
    (result as { text: string }).text,
    /^Uncaught ParseBudgetError: Reading the snippet took over 300 ms/,
  );
  // The snippet never ran: no frames (they would be the console's own).
  assert.doesNotMatch((result as { text: string }).text, /\n\s+at /);
  // Deno cannot stop the worker while it reads: until the given-up reading
  // ends, TypeScript is refused (plain JavaScript runs), then read again.
  const busy = await evaluator.evaluate("let early: number = 1; early");
  assert.equal((busy as { name: string }).name, "ParseWorkerBusyError");
  assert.equal(await value(evaluator, "6 * 7"), "42");
  await parseWorkerSettled();
  assert.equal(
    await value(evaluator, "let typed: number = 6 * 7; typed"),
    "42",
  );
});

Deno.test("evaluate() is interrupted while its snippet is being read", async () => {
  const { evaluator } = openSession();
  const controller = new AbortController();
  const pending = evaluator.evaluate("a<b>(".repeat(18), {
    signal: controller.signal,
  });
  controller.abort();
  const result = await pending;
  assert.equal((result as { name: string }).name, "Interrupted");
  // Answered at once: the reading was given up, not waited for; the
  // worker is free again once it ends by itself.
  assert.equal(await value(evaluator, "'plain'"), '"plain"');
  await parseWorkerSettled();
  assert.equal(await value(evaluator, "const s: string = 'ok'; s"), '"ok"');
});

Deno.test("evaluate() reads a long snippet off the event loop", async () => {
  const { evaluator } = openSession();
  const code = "[" + "1,".repeat(200_000) + "].length";
  // Timers keep firing while the snippet is read: the loop is free.
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    const before = ticks;
    assert.equal(await value(evaluator, code), "200000");
    assert.ok(ticks > before, "no timer fired while the snippet was read");
  } finally {
    clearInterval(timer);
  }
});

// --- completion ------------------------------------------------------------

Deno.test("complete() uses the session's own declarations", async () => {
  const { evaluator } = openSession(serviceNamespace(), {
    scope: { mem: () => 0 },
  });
  await value(evaluator, "let sessionThing = { deep: 1 }");
  await assertCompletions(evaluator, [
    ["sessionTh", ["sessionThing"], 0],
    ["sessionThing.de", ["deep"], 13],
    ["me", ["mem"], 0],
    ["cache.si", ["size"], 6],
  ]);
});

Deno.test("close() releases the session and refuses later evaluations", async () => {
  const { evaluator } = openSession();
  await value(evaluator, "let kept = new Array(10).fill(0)");
  evaluator.close();
  await failure(evaluator, "kept", {
    message: "The console session is closed",
  });
});

Deno.test("close() leaves what the session defined working for whoever still calls it", async () => {
  const users = {
    lookup(id: string): string | undefined {
      return id === "known" ? "a user" : undefined;
    },
  };
  const namespace: Record<string, unknown> = { users };
  const first = openSession(namespace);
  // The shape of the report: a hook calling a function and a counter of the
  // session's, installed into the service, then the operator logs out.
  await value(
    first.evaluator,
    [
      "let calls = 0;",
      "const original = users.lookup.bind(users);",
      "const L = (id) => { calls++; lastId = id; return original(id) };",
      "users.lookup = (id) => L(id);",
      "users.lookupCalls = () => calls;",
      "users.lastLookup = () => lastId;",
    ].join("\n"),
  );
  first.evaluator.close();
  const hooked = users as typeof users & {
    lookupCalls(): number;
    lastLookup(): string;
  };
  assert.equal(hooked.lookup("known"), "a user");
  assert.equal(hooked.lookup("other"), undefined);
  assert.equal(hooked.lookupCalls(), 2);
  // An assignment to a name the session never declared stays the
  // session's: it never becomes a global.
  assert.equal(hooked.lastLookup(), "other");
  assert.equal("lastId" in globalThis, false);
  // Another session calls it too; the counter goes on.
  const second = openSession(namespace);
  assert.equal(
    await value(second.evaluator, "users.lookup('known'); users.lookupCalls()"),
    "3",
  );
  second.evaluator.close();
});

/** Collects garbage until `done()` holds (finalizers run after a collection). */
async function collectUntil(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("Never collected");
    await gc();
    await tick(0);
  }
}

Deno.test("close() lets a session nothing references be collected, and one a hook references live until the hook goes", async () => {
  const collected: string[] = [];
  const registry = new FinalizationRegistry<string>((held) =>
    collected.push(held)
  );
  const hooks: { bump?: () => number } = {};
  // Each session lives in a function of its own: a suspended async frame
  // may keep a stale reference to what its loop last held.
  const closedSession = async (name: string, hook: string) => {
    const { evaluator } = openSession({ registry, hooks });
    await value(
      evaluator,
      "const big = new Array(100_000).fill(1); let count = 0;\n" +
        "function bump() { return ++count + big.length }\n" +
        `registry.register(big, "${name}"); ${hook}`,
    );
    evaluator.close();
  };
  await closedSession("free", "");
  await closedSession("hooked", "hooks.bump = bump");
  await collectUntil(() => collected.includes("free"));
  assert.deepEqual(collected, ["free"]);
  assert.equal(hooks.bump!(), 100_001);
  assert.equal(hooks.bump!(), 100_002);
  delete hooks.bump;
  await collectUntil(() => collected.includes("hooked"));
});

// --- odds and ends ---------------------------------------------------------

registerTranscripts([
  {
    name: "evaluate() calls bare-name functions without the scope as this",
    namespace: () => ({
      strictThis: function () {
        "use strict";
        return this;
      },
    }),
    steps: [
      ["strictThis()", "undefined"],
      ["function sloppy() { return this === globalThis }\nsloppy()", "true"],
      ["let local = 3; eval('local * 2')", "6"],
    ],
  },
  {
    name: "evaluate() supports dynamic import",
    steps: [[
      "const os = await import('node:os'); typeof os.cpus",
      '"function"',
    ]],
  },
  {
    name: "evaluate() disposes a using declaration at the end of its block",
    steps: [[
      "{ using resource = { [Symbol.dispose]() { console.log('disposed') } }; console.log('using') }",
    ]],
    stdout: ["using\n", "disposed\n"],
  },
]);

// --- JSON format -------------------------------------------------------------

Deno.test("evaluate() with format json adds the value as JSON text", async () => {
  const { evaluator } = openSession(serviceNamespace());
  const result = await evaluator.evaluate("cache", { format: "json" });
  assert.equal(result.kind, "value");
  assert.equal((result as { json?: string }).json, '{"a":1,"b":2}');
  assert.match((result as { text: string }).text, /Map\(2\)/);
  const plain = await evaluator.evaluate("cache");
  assert.equal("json" in plain, false);
  const awaited = await evaluator.evaluate("getUser('7')", { format: "json" });
  assert.equal(
    (awaited as { json?: string }).json,
    '{"id":"7","name":"user 7"}',
  );
});

Deno.test("evaluate() with format json turns an unreadable value into an error result", async () => {
  const { evaluator } = openSession();
  const result = await evaluator.evaluate(
    "new Proxy({}, { ownKeys() { throw new TypeError('trap') } })",
    { format: "json" },
  );
  assert.equal(result.kind, "error");
  assert.equal((result as { message: string }).message, "trap");
  assert.equal(await value(evaluator, "_error.message"), '"trap"');
});

// --- hostile values ----------------------------------------------------------

const HOSTILE =
  "new Proxy({}, { getPrototypeOf() { throw 2 }, ownKeys() { throw 3 }, " +
  "getOwnPropertyDescriptor() { throw 4 }, get() { throw 5 }, has() { throw 6 } })";

registerTranscripts([
  {
    // Rendered, not mistaken for a throw of the value that a trap threw.
    name: "evaluate() renders a value whose every trap throws",
    steps: [
      [`var hostile = ${HOSTILE}; hostile`, "{}"],
      ["typeof hostile", '"object"'],
    ],
  },
]);

Deno.test("evaluate() describes a thrown value whose every trap throws", async () => {
  const { evaluator } = openSession();
  for (
    const code of [
      `throw ${HOSTILE}`,
      `await Promise.reject(${HOSTILE})`,
      `throw new Proxy({}, { getPrototypeOf() { throw 2 } })`,
    ]
  ) {
    const error = await failure(evaluator, code);
    assert.match(error.text, /^Uncaught /, code);
  }
  assert.equal(await value(evaluator, "1 + 1"), "2");
});

Deno.test("evaluate() reports background throws of a value whose every trap throws", async () => {
  const { evaluator, stderr } = openSession();
  await value(evaluator, `setTimeout(() => { throw ${HOSTILE} }, 1); 1`);
  await value(evaluator, `queueMicrotask(() => { throw ${HOSTILE} }); 1`);
  await value(evaluator, `Promise.reject(${HOSTILE}); 1`);
  await value(evaluator, `setTimeout(() => Promise.reject(${HOSTILE}), 1); 1`);
  await tick(100);
  assert.equal(stderr.length, 4);
  for (const line of stderr) assert.match(line, /^Uncaught /);
  assert.equal(await value(evaluator, "'still here'"), '"still here"');
});

Deno.test("evaluate() answers dir(), len(), inspect() and help() on a value whose every trap throws", async () => {
  const { evaluator } = openSession({ hostileMember: undefined });
  await value(evaluator, `var hostile = ${HOSTILE}`);
  await value(evaluator, `main.hostileMember = ${HOSTILE}`);
  assert.match(await value(evaluator, "dir(hostile)"), /^dir\(\) is Python/);
  assert.match(await value(evaluator, "len(hostile)"), /^len\(\) is Python/);
  assert.equal(await value(evaluator, "inspect(hostile)"), "{}");
  assert.match(
    await value(evaluator, "help()"),
    /hostileMember +\(could not be read\)/,
  );
  const json = await evaluator.evaluate("hostile", { format: "json" });
  assert.equal(json.kind, "error");
});

Deno.test("complete() answers with nothing on a value whose every trap throws", async () => {
  const { evaluator } = openSession();
  await value(evaluator, `var hostile = ${HOSTILE}`);
  await assertCompletions(evaluator, [
    ["hostile.", [], 8],
    ["hostile.a.b", [], 10],
  ]);
});

// --- TypeScript first ------------------------------------------------------------

registerTranscripts([
  {
    name: "evaluate() reads a snippet as TypeScript first, like deno repl",
    steps: [
      ["function id26<T>(v: T): T { return v }"],
      ["id26<number>(7)", "7"],
      ["id26<string>('s')", '"s"'],
      ["const pair = <A, B>(a: A, b: B): [A, B] => [a, b]"],
      ["pair<number, string>(1, 'x')", '[ 1, "x" ]'],
      ["new Map<string, number>([['a', 1]]).size", "1"],
    ],
  },
  {
    // As TypeScript the first is a block with a bad label; as JavaScript
    // an object.
    name:
      "evaluate() falls back to JavaScript where TypeScript cannot parse the snippet",
    steps: [
      ["{ ok: 1 < 2, n: 2 }", "{ ok: true, n: 2 }"],
      ["let lt = 1 < 2; lt", "true"],
      ["[3 < 4, 5 > 6]", "[ true, false ]"],
    ],
  },
]);

Deno.test("evaluate() with format json gives hints, dot commands and inspect() their JSON too", async () => {
  const { evaluator } = openSession(serviceNamespace());
  const json = async (code: string) => {
    const result = await evaluator.evaluate(code, { format: "json" });
    assert.equal(result.kind, "value", code);
    return JSON.parse((result as { json: string }).json);
  };
  assert.match(await json(".help"), /^help\(\) lists what is in scope/);
  assert.match(await json("len(cache)"), /here 2/);
  assert.deepEqual(await json("inspect(cache, { depth: 0 })"), { a: 1, b: 2 });
});
