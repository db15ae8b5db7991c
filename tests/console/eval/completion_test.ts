import assert from "node:assert/strict";
import { faker } from "@faker-js/faker";
import {
  completeCode,
  CompletionError,
  MAX_COMPLETION_CHARS,
} from "../../../console/eval/completion.ts";
import { createSessionScope } from "../../../console/eval/scope.ts";
import { createEvaluator } from "../../../console/eval/evaluator.ts";

function scopeWith(
  namespace: Record<string, unknown>,
  entries: Record<string, unknown> = {},
) {
  return createSessionScope(namespace, entries);
}

function complete(
  code: string,
  namespace: Record<string, unknown> = {},
  cursor = code.length,
) {
  return completeCode(code, cursor, scopeWith(namespace));
}

/** Checks that a completion starts at `start` and offers `name`, among others. */
function assertOffers(
  completion: { candidates: string[]; start: number },
  { name, start }: { name: string; start: number },
): void {
  assert.equal(completion.start, start);
  assert.ok(completion.candidates.includes(name), name);
}

const service = () => ({
  cache: new Map<string, number>(),
  config: { port: 8000, portName: "http" },
  getUser: () => undefined,
});

Deno.test("completeCode() completes namespace members, main and session names", () => {
  const scope = scopeWith(service(), { mem: () => 0, memo: 1 });
  assertOffers(completeCode("cac", 3, scope), { name: "cache", start: 0 });
  assert.deepEqual(completeCode("mai", 3, scope), {
    candidates: ["main"],
    start: 0,
  });
  assert.deepEqual(completeCode("mem", 3, scope), {
    candidates: ["mem", "memo"],
    start: 0,
  });
  assert.deepEqual(completeCode("_e", 2, scope).candidates, ["_error"]);
  assert.ok(completeCode("_", 1, scope).candidates.includes("_"));
});

Deno.test("completeCode() completes session declarations", async () => {
  const evaluator = createEvaluator({}, { output: { write() {} } });
  await evaluator.evaluate("let userCount = 1; function userList() {}");
  assert.deepEqual(await evaluator.complete("user", 4), {
    candidates: ["userCount", "userList"],
    start: 0,
  });
});

Deno.test("completeCode() completes globals and keywords", () => {
  assert.ok(complete("Ma").candidates.includes("Map"));
  assert.ok(complete("Ma").candidates.includes("Math"));
  assert.deepEqual(complete("awa").candidates, ["await"]);
  assert.deepEqual(complete("typ").candidates, ["type", "typeof"]);
  assert.ok(complete("De").candidates.includes("Deno"));
});

Deno.test("completeCode() completes members along the prototype chain", () => {
  assert.deepEqual(complete("cache.si", service()), {
    candidates: ["size"],
    start: 6,
  });
  assertOffers(complete("cache.ge", service()), { name: "get", start: 6 });
  assert.deepEqual(complete("cache.has", service()).candidates, [
    "has",
    "hasOwnProperty",
  ]);
  assert.deepEqual(complete("main.ca", service()), {
    candidates: ["cache"],
    start: 5,
  });
  assert.deepEqual(complete("main.cache.cl", service()).candidates, ["clear"]);
  assert.deepEqual(complete("config.po", service()).candidates, [
    "port",
    "portName",
  ]);
  assert.deepEqual(complete("Math.ma").candidates, ["max"]);
});

Deno.test("completeCode() completes faker.person.fi to firstName", () => {
  assert.deepEqual(complete("faker.person.fi", { faker }), {
    candidates: ["firstName"],
    start: 13,
  });
});

Deno.test("completeCode() completes members of primitive values", () => {
  assert.ok(
    complete("config.port.toFi", service()).candidates.includes("toFixed"),
  );
  assert.ok(
    complete("config.portName.toUpp", service()).candidates.includes(
      "toUpperCase",
    ),
  );
});

Deno.test("completeCode() lists every member after a dot, sorted and distinct", () => {
  const { candidates, start } = complete("cache.", service());
  assert.equal(start, 6);
  assert.deepEqual(candidates, [...new Set(candidates)].sort());
  for (const name of ["size", "get", "set", "constructor", "toString"]) {
    assert.ok(candidates.includes(name), name);
  }
  assert.equal(candidates.filter((name) => name === "constructor").length, 1);
});

Deno.test("completeCode() completes at the cursor, not at the end of the input", () => {
  assert.deepEqual(complete("cache.si + 1", service(), 8), {
    candidates: ["size"],
    start: 6,
  });
});

Deno.test("completeCode() follows optional chaining and ignores spread dots", () => {
  assert.deepEqual(complete("config?.po", service()).candidates, [
    "port",
    "portName",
  ]);
  assertOffers(complete("[...cac", service()), { name: "cache", start: 4 });
  assert.deepEqual(complete("f(...config.po", service()).candidates, [
    "port",
    "portName",
  ]);
});

Deno.test("completeCode() never runs a getter", () => {
  let calls = 0;
  const namespace = {
    holder: {
      get danger() {
        calls++;
        return { inner: 1 };
      },
    },
  };
  Object.defineProperty(namespace, "lazy", {
    get() {
      calls++;
      return { x: 1 };
    },
    enumerable: true,
  });
  assert.deepEqual(complete("holder.dan", namespace).candidates, ["danger"]);
  assert.deepEqual(complete("holder.danger.in", namespace).candidates, []);
  assert.deepEqual(complete("lazy.x", namespace).candidates, []);
  assert.ok(complete("la", namespace).candidates.includes("lazy"));
  assert.deepEqual(complete("cache.size.to", service()).candidates, []);
  assert.equal(calls, 0);
});

Deno.test("completeCode() gives nothing for chains it cannot resolve statically", () => {
  assert.deepEqual(complete("getUser().na", service()).candidates, []);
  assert.deepEqual(complete("list[0].na", service()).candidates, []);
  assert.deepEqual(complete("nothing.here", service()).candidates, []);
  assert.deepEqual(complete("1.to").candidates, []);
  assert.deepEqual(complete("config.missing.x", service()).candidates, []);
});

Deno.test("completeCode() gives nothing inside strings and comments", () => {
  assert.deepEqual(complete('getUser("cac', service()).candidates, []);
  assert.deepEqual(complete("'cac", service()).candidates, []);
  assert.deepEqual(complete("`text cac", service()).candidates, []);
  assert.deepEqual(complete("// cac", service()).candidates, []);
  assert.deepEqual(complete("/* cac", service()).candidates, []);
  assert.ok(complete("`${cac", service()).candidates.includes("cache"));
});

Deno.test("completeCode() completes across lines, whitespace and unicode names", () => {
  const namespace = {
    café: { ünïcode: 1, ascii: 2 },
    config: service().config,
  };
  assert.deepEqual(complete("café.ü", namespace), {
    candidates: ["ünïcode"],
    start: 5,
  });
  assert.deepEqual(complete("config\n  .po", namespace).candidates, [
    "port",
    "portName",
  ]);
  assert.deepEqual(complete("config .\tpo", namespace).candidates, [
    "port",
    "portName",
  ]);
  const emoji = { "𝒳val": { inner: 1 } };
  assert.deepEqual(complete("𝒳val.in", emoji).candidates, ["inner"]);
});

const WORDS = /[\p{ID_Continue}$]+/gu;

/** The fastest of `runs` timings of `fn`, in milliseconds. */
function fastest(runs: number, fn: () => void): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    fn();
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

Deno.test("completeCode() takes time linear in the input, not quadratic", () => {
  const scope = scopeWith(service());
  const unlimited = { maxChars: Infinity, budgetMs: Infinity };
  // Each shape once took time quadratic in its length (a 40 000-character
  // member chain: 5.9 s; 128 000 characters: minutes). The baseline, in the
  // same run, is one linear pass over the same text: finding its words.
  const shapes: ((n: number) => string)[] = [
    (n) => "cache" + ".x".repeat(n / 2),
    (n) => "x".repeat(n) + " ",
    (n) => "config" + ".port".repeat(n / 5) + ".to",
  ];
  for (const shape of shapes) {
    const code = shape(128_000);
    const completion = fastest(
      5,
      () => completeCode(code, code.length, scope, unlimited),
    );
    const baseline = fastest(5, () => code.match(WORDS));
    // Linear: tens of times the baseline (tokenizing costs more than a
    // regular expression); quadratic: tens of thousands.
    const ratio = completion / Math.max(baseline, 0.2);
    assert.ok(
      ratio < 500,
      `${code.slice(0, 12)}…: ${completion.toFixed(1)} ms, ${
        ratio.toFixed(1)
      }× a linear pass`,
    );
  }
});

Deno.test("completeCode() refuses code over its limit before the cursor, at once", () => {
  const scope = scopeWith(service());
  const code = "cache" + ".x".repeat(400_000);
  assert.throws(
    () => completeCode(code, code.length, scope),
    (error: Error) =>
      error instanceof CompletionError &&
      error.message ===
        `Completion reads at most ${MAX_COMPLETION_CHARS} characters before the cursor; this request has ${code.length}`,
  );
  // What follows the cursor is never read: a short prefix completes.
  assertOffers(completeCode(code, 5, scope), { name: "cache", start: 0 });
});

Deno.test("completeCode() gives up past its time budget", () => {
  const wide: Record<string, number> = {};
  for (let i = 0; i < 50_000; i++) wide[`key${i}`] = i;
  const scope = scopeWith({ wide });
  assert.throws(
    () => completeCode("wide.k", 6, scope, { budgetMs: 0 }),
    { name: "CompletionError", message: /gave up after its 0 ms budget/ },
  );
  // With time enough, the same object completes.
  assert.equal(
    completeCode("wide.key4999", 12, scope, { budgetMs: 60_000 }).candidates
      .length,
    11,
  );
});

Deno.test("completeCode() lists no indices of big arrays, typed arrays and strings", () => {
  const big = new Array(3_000_000).fill(0);
  const small = [1, 2, 3];
  const bytes = new Uint8Array(3_000_000);
  const text = "x".repeat(3_000_000);
  const scope = scopeWith({ big, small, bytes, text });
  const time = (code: string) =>
    fastest(3, () => completeCode(code, code.length, scope));
  // Listing 3 million indices took ~1 s; the names come from the
  // prototypes either way.
  assert.ok(time("big.") / Math.max(time("small."), 0.05) < 50);
  assert.ok(time("bytes.") / Math.max(time("small."), 0.05) < 50);
  assert.ok(time("text.") / Math.max(time("small."), 0.05) < 50);
  for (const name of ["big", "small"]) {
    const { candidates } = completeCode(`${name}.`, name.length + 1, scope);
    for (const member of ["length", "push", "map"]) {
      assert.ok(candidates.includes(member), `${name}.${member}`);
    }
  }
  assert.ok(completeCode("bytes.", 6, scope).candidates.includes("subarray"));
  assert.ok(completeCode("text.", 5, scope).candidates.includes("padEnd"));
  // A small array's own named properties are still offered.
  const match = Object.assign(["a"], { index: 0, input: "a" });
  assert.deepEqual(
    completeCode("match.in", 8, scopeWith({ match })).candidates,
    ["includes", "index", "indexOf", "input"],
  );
});

Deno.test("complete() rejects with a CompletionError for input over the limit", async () => {
  const evaluator = createEvaluator({}, { output: { write() {} } });
  const code = "x".repeat(MAX_COMPLETION_CHARS + 1);
  await assert.rejects(evaluator.complete(code, code.length), {
    name: "CompletionError",
  });
  evaluator.close();
});
