import assert from "node:assert/strict";
import {
  createCompleter,
  toReadlineCompleter,
} from "../../../console/client/tab_completion.ts";

Deno.test("createCompleter() returns the candidates and the word they replace", async () => {
  const asked: [string, number][] = [];
  const completer = createCompleter((code, cursor) => {
    asked.push([code, cursor]);
    return Promise.resolve({ candidates: ["set", "size"], start: 6 });
  }, () => "");
  assert.deepEqual(await completer("cache.s"), [["set", "size"], "s"]);
  assert.deepEqual(asked, [["cache.s", 7]]);
});

Deno.test("createCompleter() sends the earlier lines of an incomplete snippet along", async () => {
  const asked: string[] = [];
  const completer = createCompleter((code) => {
    asked.push(code);
    return Promise.resolve({ candidates: ["cache"], start: code.length - 2 });
  }, () => "let o = {\n  a: 1,");
  assert.deepEqual(await completer("  b: ca"), [["cache"], "ca"]);
  assert.deepEqual(asked, ["let o = {\n  a: 1,\n  b: ca"]);
});

Deno.test("createCompleter() completes nothing when the console fails or answers nonsense", async () => {
  const failing = createCompleter(
    () => Promise.reject(new Error("connection lost")),
    () => "",
  );
  assert.deepEqual(await failing("ca"), [[], ""]);
  const outside = createCompleter(
    () => Promise.resolve({ candidates: ["x"], start: 0 }),
    () => "previous line",
  );
  assert.deepEqual(await outside("ca"), [[], ""]);
});

Deno.test("toReadlineCompleter() answers through readline's callback", async () => {
  const completer = toReadlineCompleter((line) =>
    Promise.resolve([[line + "!"], line])
  );
  const result = await new Promise((resolve) =>
    completer("a", (error, value) => resolve([error, value]))
  );
  assert.deepEqual(result, [null, [["a!"], "a"]]);
  const failing = toReadlineCompleter(() => Promise.reject(new Error("no")));
  const empty = await new Promise((resolve) =>
    failing("a", (_error, value) => resolve(value))
  );
  assert.deepEqual(empty, [[], ""]);
});
