import assert from "node:assert/strict";
import {
  createEvaluator,
  type EvalResult,
  type Evaluator,
  type EvaluatorOptions,
} from "../../../console/eval/evaluator.ts";

interface Session {
  evaluator: Evaluator;
  stdout: string[];
  stderr: string[];
}

function openSession(
  namespace: Record<string, unknown> = {},
  options: Partial<EvaluatorOptions> = {},
): Session {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const evaluator = createEvaluator(namespace, {
    output: {
      write: (stream, text) =>
        (stream === "stdout" ? stdout : stderr).push(text),
    },
    ...options,
  });
  return { evaluator, stdout, stderr };
}

async function value(evaluator: Evaluator, code: string): Promise<string> {
  const result = await evaluator.evaluate(code);
  assert.equal(result.kind, "value", `${code} -> ${JSON.stringify(result)}`);
  return (result as { text: string }).text;
}

async function failure(
  evaluator: Evaluator,
  code: string,
): Promise<Extract<EvalResult, { kind: "error" }>> {
  const result = await evaluator.evaluate(code);
  assert.equal(result.kind, "error", `${code} -> ${JSON.stringify(result)}`);
  return result as Extract<EvalResult, { kind: "error" }>;
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

Deno.test("evaluate() sees namespace members by bare name and as main", async () => {
  const { evaluator } = openSession(serviceNamespace());
  assert.equal(await value(evaluator, "cache.size"), "2");
  assert.equal(await value(evaluator, "main.cache.size"), "2");
  assert.equal(await value(evaluator, "main.cache === cache"), "true");
  assert.equal(await value(evaluator, "config.port"), "8000");
});

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
  const error = await failure(evaluator, "main = 1");
  assert.equal(error.name, "TypeError");
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

Deno.test("evaluate() keeps declarations of every kind across snippets", async () => {
  const { evaluator } = openSession();
  await value(evaluator, "let a = 1");
  await value(evaluator, "const b = 2");
  await value(evaluator, "var c = 3");
  await value(evaluator, "function f() { return a + b + c }");
  await value(evaluator, "class Point { constructor(x) { this.x = x } }");
  await value(evaluator, "const { d, e } = { d: 4, e: 5 }");
  await value(evaluator, "let [x, , y = 7] = [6]");
  await value(evaluator, "async function* gen() { yield 1 }");
  assert.equal(await value(evaluator, "f()"), "6");
  assert.equal(await value(evaluator, "new Point(1).x"), "1");
  assert.equal(await value(evaluator, "[d, e, x, y]"), "[ 4, 5, 6, 7 ]");
  assert.equal(await value(evaluator, "typeof gen"), '"function"');
});

Deno.test("evaluate() lets a function see declarations made after it", async () => {
  const { evaluator } = openSession();
  await value(evaluator, "function later() { return z }");
  await value(evaluator, "let z = 'seen'");
  assert.equal(await value(evaluator, "later()"), '"seen"');
});

Deno.test("evaluate() hoists function declarations within a snippet", async () => {
  const { evaluator } = openSession();
  assert.equal(
    await value(
      evaluator,
      "early(); function early() { return 'ok' }\nearly()",
    ),
    '"ok"',
  );
});

Deno.test("evaluate() overwrites a let or const declared again in a later snippet", async () => {
  const { evaluator } = openSession();
  await value(evaluator, "let a = 1");
  await value(evaluator, "let a = 2");
  assert.equal(await value(evaluator, "a"), "2");
  await value(evaluator, "const k = 1");
  await value(evaluator, "const k = 'two'");
  assert.equal(await value(evaluator, "k"), '"two"');
  await value(evaluator, "class K {}");
  await value(evaluator, "let K = 3");
  assert.equal(await value(evaluator, "K"), "3");
});

Deno.test("evaluate() does not enforce const after its declaration", async () => {
  // Documented behaviour: a session const behaves like let.
  const { evaluator } = openSession();
  await value(evaluator, "const fixed = 1");
  assert.equal(await value(evaluator, "fixed = 2; fixed"), "2");
});

Deno.test("evaluate() keeps a var's value when it is declared again without a value", async () => {
  const { evaluator } = openSession();
  await value(evaluator, "var v = 1");
  assert.equal(await value(evaluator, "var v; v"), "1");
});

Deno.test("evaluate() keeps vars declared in loops and blocks, not block lets", async () => {
  const { evaluator } = openSession();
  await value(evaluator, "for (var i = 0; i < 3; i++) {}");
  await value(evaluator, "for (var key in { p: 1 }) {}");
  await value(evaluator, "if (true) { var inside = 'v'; let local = 'l' }");
  assert.equal(await value(evaluator, "[i, key, inside]"), '[ 3, "p", "v" ]');
  assert.equal(await value(evaluator, "typeof local"), '"undefined"');
});

Deno.test("evaluate() makes an undeclared assignment a session variable, not a global", async () => {
  const { evaluator } = openSession();
  assert.equal(await value(evaluator, "implicit = 5"), "5");
  assert.equal(await value(evaluator, "implicit"), "5");
  assert.equal(
    await value(evaluator, "({ late } = { late: 'x' }); late"),
    '"x"',
  );
  assert.equal(
    await value(
      evaluator,
      "function setLater() { fromFunction = 1 } setLater(); fromFunction",
    ),
    "1",
  );
  assert.equal("implicit" in globalThis, false);
  assert.equal("late" in globalThis, false);
  assert.equal("fromFunction" in globalThis, false);
});

Deno.test("evaluate() puts nothing on globalThis", async () => {
  const before = new Set(Object.getOwnPropertyNames(globalThis));
  const { evaluator } = openSession();
  await value(
    evaluator,
    "let l = 1; const c = 2; var v = 3; function f() {} class C {}",
  );
  await value(evaluator, "implicitGlobal = 4; for (var loopVar of [1]) {}");
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
  const error = await failure(two, "mine");
  assert.equal(error.name, "ReferenceError");
  assert.equal(await value(two, "typeof implicitOne"), '"undefined"');
  assert.equal(await value(one, "mine"), '"one"');
});

Deno.test("evaluate() keeps typeof and ReferenceError for undeclared names", async () => {
  const { evaluator } = openSession();
  assert.equal(await value(evaluator, "typeof notDeclared"), '"undefined"');
  const error = await failure(evaluator, "notDeclared + 1");
  assert.equal(error.name, "ReferenceError");
  assert.equal(error.message, "notDeclared is not defined");
});

Deno.test("evaluate() still reaches globals", async () => {
  const { evaluator } = openSession();
  assert.equal(await value(evaluator, "Math.max(1, 2)"), "2");
  assert.equal(await value(evaluator, "typeof Deno.inspect"), '"function"');
  assert.equal(await value(evaluator, "this === globalThis"), "true");
});

// --- values ----------------------------------------------------------------

Deno.test("evaluate() returns the last expression statement's value", async () => {
  const { evaluator } = openSession();
  assert.equal(await value(evaluator, "1 + 1"), "2");
  assert.equal(await value(evaluator, "let x = 1"), "undefined");
  assert.equal(await value(evaluator, "x; let y = 2"), "1");
  assert.equal(
    await value(evaluator, "if (true) { 'then' } else { 'else' }"),
    '"then"',
  );
  assert.equal(
    await value(evaluator, "for (const n of [1, 2, 3]) n * 10"),
    "30",
  );
  assert.equal(await value(evaluator, "function g() { 5 }"), "undefined");
  assert.equal(await value(evaluator, ""), "undefined");
  assert.equal(await value(evaluator, "// just a comment"), "undefined");
  assert.equal(await value(evaluator, "(function () { return 7 })()"), "7");
  assert.equal(await value(evaluator, "'a'\n'b'"), '"b"');
});

Deno.test("evaluate() reads a leading { as an object literal", async () => {
  const { evaluator } = openSession();
  assert.equal(await value(evaluator, "{a: 1}"), "{ a: 1 }");
  assert.equal(await value(evaluator, "{}"), "{}");
  assert.equal(await value(evaluator, "{ let inner = 2; inner * 2 }"), "4");
});

Deno.test("evaluate() awaits at top level and keeps what it declares", async () => {
  const { evaluator } = openSession(serviceNamespace());
  assert.equal(await value(evaluator, "await 1"), "1");
  assert.equal(
    await value(evaluator, 'const u = await getUser("x")'),
    "undefined",
  );
  assert.equal(await value(evaluator, "u.name"), '"user x"');
  assert.equal(
    await value(evaluator, "for await (const n of [Promise.resolve(3)]) n"),
    "3",
  );
  assert.equal(
    await value(
      evaluator,
      "const later = await new Promise((r) => setTimeout(() => r(9), 5)); later",
    ),
    "9",
  );
});

Deno.test("evaluate() awaits a promise value, interruptibly", async () => {
  const { evaluator } = openSession(serviceNamespace());
  assert.equal(await value(evaluator, "Promise.resolve(1)"), "1");
  assert.equal(await value(evaluator, "_"), "1");
  assert.equal(
    await value(evaluator, "[Promise.resolve(2)]"),
    "[ Promise { 2 } ]",
  );
  const rejected = await evaluator.evaluate(
    "Promise.reject(new RangeError('no'))",
  );
  assert.equal(rejected.kind, "error");
  const controller = new AbortController();
  const pending = evaluator.evaluate("new Promise(() => {})", {
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(), 20);
  assert.equal(((await pending) as { name: string }).name, "Interrupted");
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
  assert.equal(
    await value(plain, "new Map([['a', 1]])"),
    'Map(1) { "a" => 1 }',
  );
  assert.equal(await value(plain, "'text'"), '"text"');
  assert.equal(await value(plain, "undefined"), "undefined");
  const colored = openSession({}, { colors: true }).evaluator;
  assert.equal(await value(colored, "42"), "\x1b[33m42\x1b[39m");
});

Deno.test("evaluate() keeps output of a custom inspector in the session", async () => {
  const { evaluator, stdout } = openSession();
  const text = await value(
    evaluator,
    "({ [Symbol.for('Deno.customInspect')]() { console.log('inspected'); return 'shown' } })",
  );
  assert.equal(text, "shown");
  assert.deepEqual(stdout, ["inspected\n"]);
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
  );
  assert.equal(error.name, "TypeError");
  assert.equal(error.message, "bad");
  assert.equal(
    error.stack,
    "TypeError: bad\n    at boom (<console>:1:25)\n    at <console>:2:1",
  );
  assert.equal(error.text, `Uncaught ${error.stack}`);
  assert.doesNotMatch(error.text, /evaluator\.ts|async_hooks|compile\.ts/);
  assert.ok(error.durationMs >= 0);
  assert.equal(await value(evaluator, "1"), "1");
});

Deno.test("evaluate() maps stack columns back to the snippet as typed", async () => {
  const { evaluator } = openSession();
  const error = await failure(evaluator, "let a = 1; a = 2; null.x");
  assert.match(error.stack, /at <console>:1:24$/);
});

Deno.test("evaluate() keeps frames of the service code a snippet calls", async () => {
  const thrower = function serviceThrower() {
    throw new Error("from service");
  };
  const { evaluator } = openSession({ thrower });
  const error = await failure(evaluator, "thrower()");
  assert.match(
    error.stack,
    /at serviceThrower \(file:.*evaluator_test\.ts:\d+:\d+\)\n {4}at <console>:1:1$/,
  );
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
  const error = await failure(
    evaluator,
    "await Promise.reject(new Error('rejected'))",
  );
  assert.equal(error.message, "rejected");
  assert.match(error.stack, /^Error: rejected\n {4}at <console>:1:22$/);
  const thrown = await failure(
    evaluator,
    "await null; throw new Error('after await')",
  );
  assert.equal(thrown.message, "after await");
});

Deno.test("evaluate() reports a syntax error with the line and a caret", async () => {
  const { evaluator } = openSession();
  const error = await failure(evaluator, "1 +* 2");
  assert.equal(error.name, "SyntaxError");
  assert.equal(error.message, "Unexpected token (1:4)");
  assert.equal(
    error.stack,
    "SyntaxError: Unexpected token (1:4)\n1 +* 2\n   ^",
  );
  assert.equal(error.text, `Uncaught ${error.stack}`);
  assert.equal((await failure(evaluator, ")")).name, "SyntaxError");
  assert.equal(
    (await failure(evaluator, "let a = 1; let a = 2")).name,
    "SyntaxError",
  );
  assert.equal((await failure(evaluator, "return 1")).name, "SyntaxError");
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
  const error = await failure(evaluator, "'abc");
  assert.equal(error.message, "Unterminated string constant (1:1)");
});

// --- TypeScript ------------------------------------------------------------

Deno.test("evaluate() accepts TypeScript syntax", async () => {
  const { evaluator } = openSession(serviceNamespace());
  assert.equal(await value(evaluator, "let n: number = 5; n * 2"), "10");
  assert.equal(
    await value(evaluator, "interface User { id: string }"),
    "undefined",
  );
  assert.equal(await value(evaluator, "type Id = string"), "undefined");
  assert.equal(
    await value(evaluator, "(cache as Map<string, number>).size"),
    "2",
  );
  assert.equal(
    await value(
      evaluator,
      "function id<T>(value: T): T { return value }\nid<string>('x')",
    ),
    '"x"',
  );
  assert.equal(
    await value(evaluator, "enum Color { Red, Green }\nColor.Green"),
    "1",
  );
  assert.equal(await value(evaluator, "Color[0]"), '"Red"');
  assert.equal(
    await value(
      evaluator,
      "const u: { id: string } = await getUser('t'); u.id",
    ),
    '"t"',
  );
  assert.equal(
    await value(
      evaluator,
      "class P { constructor(public x: number) {} }\nnew P(3).x",
    ),
    "3",
  );
  assert.equal(await value(evaluator, "config!.port satisfies number"), "8000");
});

Deno.test("evaluate() reports TypeScript errors with the line of the snippet", async () => {
  const { evaluator } = openSession();
  const error = await failure(
    evaluator,
    "let ok: number = 1;\nthrow new Error('ts ' + ok)",
  );
  assert.equal(error.message, "ts 1");
  assert.match(error.stack, /at <console>:2:/);
});

// --- console output --------------------------------------------------------

Deno.test("evaluate() sends console output to the session's streams", async () => {
  const { evaluator, stdout, stderr } = openSession();
  await value(
    evaluator,
    "console.log('log', { a: 1 }); console.info('info'); console.debug('debug'); " +
      "console.warn('warn'); console.error('error'); console.dir({ b: 2 }); console.log('%s=%d', 'n', 42.9)",
  );
  assert.deepEqual(stdout, [
    "log { a: 1 }\n",
    "info\n",
    "debug\n",
    "{ b: 2 }\n",
    "n=42\n",
  ]);
  assert.deepEqual(stderr, ["warn\n", "error\n"]);
});

Deno.test("evaluate() routes output from called functions, timers and after await", async () => {
  const namespace = {
    logIt: (text: string) => console.log(`service says ${text}`),
  };
  const { evaluator, stdout } = openSession(namespace);
  await value(evaluator, "logIt('direct')");
  await value(evaluator, "await null; logIt('after await')");
  await value(
    evaluator,
    "setTimeout(() => console.log('from timer'), 5); queueMicrotask(() => console.log('micro'))",
  );
  await tick(100);
  assert.deepEqual(stdout, [
    "service says direct\n",
    "service says after await\n",
    "micro\n",
    "from timer\n",
  ]);
});

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

Deno.test("evaluate() formats console.table, group, count, assert and trace like Deno", async () => {
  const { evaluator, stdout, stderr } = openSession();
  await value(
    evaluator,
    "console.table([{ a: 1 }]); console.group('g'); console.log('in'); console.groupEnd(); " +
      "console.count(); console.count(); console.assert(false, 'why'); console.trace('here')",
  );
  assert.deepEqual(stdout, [
    "┌───────┬───┐\n│ (idx) │ a │\n├───────┼───┤\n│     0 │ 1 │\n└───────┴───┘\n",
    "g\n",
    "  in\n",
    "default: 1\n",
    "default: 2\n",
  ]);
  assert.deepEqual(stderr, [
    "Assertion failed: why\n",
    "Trace: here\n    at <console>:1:159\n",
  ]);
});

Deno.test("evaluate() colors console output on request", async () => {
  const { evaluator, stdout } = openSession({}, { colors: true });
  await value(evaluator, "console.log('plain', 1)");
  assert.deepEqual(stdout, ["plain \x1b[33m1\x1b[39m\n"]);
});

Deno.test("evaluate() reports a snippet's unhandled rejection to the session", async () => {
  const { evaluator, stderr } = openSession();
  assert.equal(
    await value(
      evaluator,
      "Promise.reject(new Error('lost')); 'still running'",
    ),
    '"still running"',
  );
  await tick(30);
  assert.deepEqual(stderr, [
    "Uncaught (in promise) Error: lost\n    at <console>:1:16\n",
  ]);
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
  const writes: { text: string; background?: boolean }[] = [];
  const evaluator = createEvaluator({}, {
    output: {
      write: (_stream, text, info) =>
        writes.push({ text, background: info?.background }),
    },
  });
  const controller = new AbortController();
  const pending = evaluator.evaluate(
    "await new Promise((r) => setTimeout(r, 200)); console.log('orphan finished')",
    { signal: controller.signal },
  );
  setTimeout(() => controller.abort(), 5);
  const started = performance.now();
  const result = await pending;
  assert.ok(performance.now() - started < 150);
  assert.equal(result.kind, "error");
  assert.equal((result as { name: string }).name, "Interrupted");
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
  const writes: { text: string; background?: boolean }[] = [];
  const evaluator = createEvaluator({}, {
    output: {
      write: (_stream, text, info) =>
        writes.push({ text, background: info?.background }),
    },
  });
  const controller = new AbortController();
  const pending = evaluator.evaluate(
    "await new Promise((r) => setTimeout(r, 30)); throw new Error('late')",
    { signal: controller.signal },
  );
  setTimeout(() => controller.abort(), 5);
  assert.equal(((await pending) as { name: string }).name, "Interrupted");
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

// --- completion ------------------------------------------------------------

Deno.test("complete() uses the session's own declarations", async () => {
  const { evaluator } = openSession(serviceNamespace(), {
    scope: { mem: () => 0 },
  });
  await value(evaluator, "let sessionThing = { deep: 1 }");
  assert.deepEqual(await evaluator.complete("sessionTh", 9), {
    candidates: ["sessionThing"],
    start: 0,
  });
  assert.deepEqual(await evaluator.complete("sessionThing.de", 15), {
    candidates: ["deep"],
    start: 13,
  });
  assert.deepEqual(await evaluator.complete("me", 2), {
    candidates: ["mem"],
    start: 0,
  });
  assert.deepEqual(await evaluator.complete("cache.si", 8), {
    candidates: ["size"],
    start: 6,
  });
});

Deno.test("close() releases the session and refuses later evaluations", async () => {
  const { evaluator } = openSession();
  await value(evaluator, "let kept = new Array(10).fill(0)");
  evaluator.close();
  const result = await failure(evaluator, "kept");
  assert.equal(result.message, "The console session is closed");
});

// --- odds and ends ---------------------------------------------------------

Deno.test("evaluate() calls bare-name functions without the scope as this", async () => {
  const namespace = {
    strictThis: function () {
      "use strict";
      return this;
    },
  };
  const { evaluator } = openSession(namespace);
  assert.equal(await value(evaluator, "strictThis()"), "undefined");
  assert.equal(
    await value(
      evaluator,
      "function sloppy() { return this === globalThis }\nsloppy()",
    ),
    "true",
  );
  assert.equal(await value(evaluator, "let local = 3; eval('local * 2')"), "6");
});

Deno.test("evaluate() disposes a using declaration at the end of its block", async () => {
  const { evaluator, stdout } = openSession();
  await value(
    evaluator,
    "{ using resource = { [Symbol.dispose]() { console.log('disposed') } }; console.log('using') }",
  );
  assert.deepEqual(stdout, ["using\n", "disposed\n"]);
});

Deno.test("evaluate() supports dynamic import", async () => {
  const { evaluator } = openSession();
  assert.equal(
    await value(
      evaluator,
      "const os = await import('node:os'); typeof os.cpus",
    ),
    '"function"',
  );
});

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

Deno.test("evaluate() renders a value whose every trap throws", async () => {
  const { evaluator } = openSession();
  // Rendered, not mistaken for a throw of the value that a trap threw.
  assert.equal(
    await value(evaluator, `var hostile = ${HOSTILE}; hostile`),
    "{}",
  );
  assert.equal(await value(evaluator, "typeof hostile"), '"object"');
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
  assert.deepEqual(await evaluator.complete("hostile.", 8), {
    candidates: [],
    start: 8,
  });
  assert.deepEqual(await evaluator.complete("hostile.a.b", 11), {
    candidates: [],
    start: 10,
  });
});

// --- TypeScript first ------------------------------------------------------------

Deno.test("evaluate() reads a snippet as TypeScript first, like deno repl", async () => {
  const { evaluator } = openSession();
  await value(evaluator, "function id26<T>(v: T): T { return v }");
  assert.equal(await value(evaluator, "id26<number>(7)"), "7");
  assert.equal(await value(evaluator, "id26<string>('s')"), '"s"');
  await value(evaluator, "const pair = <A, B>(a: A, b: B): [A, B] => [a, b]");
  assert.equal(
    await value(evaluator, "pair<number, string>(1, 'x')"),
    '[ 1, "x" ]',
  );
  assert.equal(
    await value(evaluator, "new Map<string, number>([['a', 1]]).size"),
    "1",
  );
});

Deno.test("evaluate() falls back to JavaScript where TypeScript cannot parse the snippet", async () => {
  const { evaluator } = openSession();
  // As TypeScript this is a block with a bad label; as JavaScript an object.
  assert.equal(
    await value(evaluator, "{ ok: 1 < 2, n: 2 }"),
    "{ ok: true, n: 2 }",
  );
  assert.equal(await value(evaluator, "let lt = 1 < 2; lt"), "true");
  assert.equal(await value(evaluator, "[3 < 4, 5 > 6]"), "[ true, false ]");
});

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
