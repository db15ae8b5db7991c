import assert from "node:assert/strict";
import {
  formatArgs,
  indentLines,
  inspectValue,
} from "../../../console/eval/format_args.ts";

// Expected strings were taken from Deno 2.9.6's own console.log.
Deno.test("formatArgs() substitutes %s, %d, %i, %f like Deno's console", () => {
  assert.equal(formatArgs(["%s", { a: 1 }]), "[object Object]");
  assert.equal(formatArgs(["%s", [1, 2]]), "1,2");
  assert.equal(formatArgs(["%s", 5n]), "5");
  assert.equal(formatArgs(["%s", Symbol("q")]), "Symbol(q)");
  assert.equal(formatArgs(["%s", -0]), "0");
  assert.equal(formatArgs(["%d", "12"]), "12");
  assert.equal(formatArgs(["%d", "abc"]), "NaN");
  assert.equal(formatArgs(["%d", 42.9]), "42");
  assert.equal(formatArgs(["%d", 5n]), "5");
  assert.equal(formatArgs(["%d", Symbol("x")]), "NaN");
  assert.equal(formatArgs(["%i", "3.7"]), "3");
  assert.equal(formatArgs(["%f", "3.7"]), "3.7");
  assert.equal(formatArgs(["%f", {}]), "NaN");
  assert.equal(formatArgs(["%f", 1e21]), "1e+21");
});

Deno.test("formatArgs() substitutes %o, %O, %j, %c and %%", () => {
  assert.equal(formatArgs(["%o", "str"]), '"str"');
  assert.equal(formatArgs(["%O", { a: [1] }]), "{ a: [ 1 ] }");
  assert.equal(formatArgs(["%j", { a: [1] }]), '{"a":[1]}');
  assert.equal(formatArgs(["%c styled", "color: red"]), " styled");
  assert.equal(formatArgs(["%%s", 1]), "%s 1");
  assert.equal(formatArgs(["100%", 1]), "100% 1");
  assert.equal(formatArgs(["%x %s", 1]), "%x 1");
  assert.equal(formatArgs(["%s %s", 1]), "1 %s");
});

Deno.test("formatArgs() prints strings raw and inspects everything else", () => {
  assert.equal(formatArgs(["a %s b"]), "a %s b");
  assert.equal(formatArgs(["x", "y", 1, "z"]), "x y 1 z");
  assert.equal(formatArgs([1, "%s", 2]), "1 %s 2");
  assert.equal(formatArgs([]), "");
  assert.equal(formatArgs([{ a: "x\ny" }]), '{ a: "x\\ny" }');
  assert.equal(formatArgs([new Map([["k", 1]])]), 'Map(1) { "k" => 1 }');
  assert.equal(formatArgs([1], { colors: true }), "\x1b[33m1\x1b[39m");
});

Deno.test("formatArgs() indents every line for console.group", () => {
  assert.equal(formatArgs(["a\nb"], { indent: 2 }), "  a\n  b");
  assert.equal(indentLines("x", 0), "x");
});

Deno.test("inspectValue() survives values whose inspection throws", () => {
  const hostile = {
    [Symbol.for("Deno.customInspect")]() {
      throw new Error("no inspection");
    },
  };
  assert.match(
    inspectValue(hostile),
    /^\[value could not be inspected: Error: no/,
  );
});
