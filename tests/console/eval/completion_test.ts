import assert from "node:assert/strict";
import { faker } from "@faker-js/faker";
import { completeCode } from "../../../console/eval/completion.ts";
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
