import assert from "node:assert/strict";
import { CIRCULAR, toJsonText } from "../../../console/eval/json_value.ts";

Deno.test("toJsonText() turns string-keyed Maps into objects and others into pairs", () => {
  assert.equal(toJsonText(new Map([["a", 1], ["b", 2]])), '{"a":1,"b":2}');
  assert.equal(
    toJsonText(new Map<unknown, string>([[1, "x"], [{ k: 1 }, "y"]])),
    '[[1,"x"],[{"k":1},"y"]]',
  );
  assert.equal(toJsonText(new Map()), "{}");
});

Deno.test("toJsonText() converts Sets, bigints, undefined, symbols and functions", () => {
  assert.equal(toJsonText(new Set([1, "a"])), '[1,"a"]');
  assert.equal(toJsonText(12345678901234567890n), '"12345678901234567890"');
  assert.equal(toJsonText(undefined), "null");
  assert.equal(toJsonText({ a: undefined }), '{"a":null}');
  assert.equal(toJsonText([undefined, NaN, Infinity]), "[null,null,null]");
  assert.equal(toJsonText(Symbol("s")), '"Symbol(s)"');
  assert.equal(toJsonText(function named() {}), '"named"');
  assert.equal(toJsonText(() => {}), '"[anonymous]"');
});

Deno.test("toJsonText() writes Dates as ISO text, invalid ones as null", () => {
  assert.equal(toJsonText(new Date(0)), '"1970-01-01T00:00:00.000Z"');
  assert.equal(toJsonText(new Date(NaN)), "null");
});

Deno.test("toJsonText() marks cycles and repeats shared objects", () => {
  const a: Record<string, unknown> = { name: "a" };
  a.self = a;
  const shared = { s: 1 };
  assert.equal(
    toJsonText({ a, list: [shared, shared] }),
    `{"a":{"name":"a","self":"${CIRCULAR}"},"list":[{"s":1},{"s":1}]}`,
  );
  const map = new Map<string, unknown>();
  map.set("me", map);
  assert.equal(toJsonText(map), `{"me":"${CIRCULAR}"}`);
});

Deno.test("toJsonText() keeps toJSON, boxed primitives, errors and typed arrays readable", () => {
  assert.equal(
    toJsonText({ toJSON: () => ({ via: "toJSON" }) }),
    '{"via":"toJSON"}',
  );
  assert.equal(toJsonText(new String("help")), '"help"');
  assert.equal(
    toJsonText(new RangeError("big")),
    '{"name":"RangeError","message":"big"}',
  );
  assert.equal(toJsonText(new Uint8Array([1, 2])), "[1,2]");
  assert.equal(toJsonText(new BigUint64Array([3n])), '["3"]');
});

Deno.test("toJsonText() lets errors of hostile values through and refuses oversize text", () => {
  const hostile = new Proxy({}, {
    ownKeys() {
      throw new TypeError("no keys");
    },
  });
  assert.throws(() => toJsonText(hostile), { message: "no keys" });
  assert.throws(() => toJsonText("x".repeat(100), { maxChars: 50 }), {
    name: "RangeError",
    message: /102 characters, over the 50-character limit/,
  });
});
