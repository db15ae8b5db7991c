/**
 * The agent, installed in this process the way the inspector installs it
 * in a target (its source evaluated), against hostile values; and the
 * console's own helpers it ships (toJsonText, readLimits) running from
 * their source alone.
 */

import assert from "node:assert/strict";
import {
  type Agent,
  agentExpression,
} from "../../../console/attach/target_agent.ts";
import { toJsonText } from "../../../console/eval/json_value.ts";
import { readLimits } from "../../../console/eval/session_helpers.ts";
import {
  DEFAULT_LIMITS,
  INSPECT_LIMITS,
} from "../../../console/eval/inspection.ts";

const spec = {
  limits: DEFAULT_LIMITS,
  colors: false,
  maxChars: 1_000,
  capChars: 2_000,
  json: true,
};

function install(): Agent {
  const source = agentExpression({
    inspectLimits: INSPECT_LIMITS,
    help: "the help text",
    snippetUrl: "<console>",
  });
  return (0, eval)(source)(undefined);
}

Deno.test("toJsonText() and readLimits() run from their own source, with no module around them (as attach ships them)", () => {
  const shippedJson = new Function(
    `return (${toJsonText})`,
  )() as typeof toJsonText;
  const looped: Record<string, unknown> = { set: new Set([1n]) };
  looped.self = looped;
  assert.equal(shippedJson(looped), toJsonText(looped));
  assert.equal(shippedJson(looped), '{"set":["1"],"self":"[Circular]"}');
  assert.throws(
    () => shippedJson("x".repeat(20), { maxChars: 10 }),
    RangeError,
  );
  const shippedLimits = new Function(
    `return (${readLimits})`,
  )() as typeof readLimits;
  assert.deepEqual(
    shippedLimits({ depth: 1 }, INSPECT_LIMITS),
    readLimits({ depth: 1 }, INSPECT_LIMITS),
  );
  assert.throws(
    () => shippedLimits({ entries: 0 }, INSPECT_LIMITS),
    RangeError,
  );
});

Deno.test("the agent adds _, _error, inspect and help as global properties and removes them again; a name the target has is left alone", () => {
  const globals = globalThis as Record<string, unknown>;
  globals.help = "the target's own help";
  try {
    const agent = install();
    assert.deepEqual(agent.info().installed, ["inspect", "_", "_error"]);
    assert.deepEqual(agent.info().skipped, ["help"]);
    agent.settle(42);
    assert.equal(globals._, 42);
    assert.equal(
      Object.getOwnPropertyDescriptor(globalThis, "_")?.enumerable,
      false,
    );
    assert.deepEqual(agent.remove(), ["inspect", "_", "_error"]);
    assert.equal("_" in globalThis, false);
    assert.equal("inspect" in globalThis, false);
    assert.equal(globals.help, "the target's own help");
  } finally {
    delete globals.help;
  }
});

Deno.test("the agent renders within the client's bounds: shallower when too tall, long strings measured and cut for the wire", () => {
  const agent = install();
  try {
    const tall = Object.fromEntries(
      Array.from(
        { length: 60 },
        (_, i) => [`k${i}`, { nested: { deeper: i } }],
      ),
    );
    const shown = agent.present(tall, spec);
    assert.deepEqual(Object.keys(shown.renders).sort(), ["0", "1", "2"]);
    assert.equal(
      shown.renders["0"]!.text,
      "[Object: null prototype] {}".length > 0 ? shown.renders["0"]!.text : "",
    );
    const long = agent.present("y".repeat(50_000), { ...spec, json: false });
    const measured = long.renders["2"]!;
    assert.equal(measured.length, 50_002); // quotes
    assert.equal(measured.text.length, spec.capChars);
    assert.equal(measured.lines, 1);
  } finally {
    agent.remove();
  }
});

Deno.test("the agent survives hostile values: traps that throw, a getter that throws in JSON, a huge JSON text, thrown non-errors", () => {
  const agent = install();
  try {
    const hostile = new Proxy({}, {
      get() {
        throw new Error("trap");
      },
      ownKeys() {
        throw new Error("trap");
      },
      getPrototypeOf() {
        throw new Error("trap");
      },
      getOwnPropertyDescriptor() {
        throw new Error("trap");
      },
    });
    const shown = agent.present(hostile, spec);
    assert.equal(typeof shown.renders["2"]!.text, "string");
    assert.deepEqual(shown.json, { error: { name: "Error", message: "trap" } });
    assert.deepEqual(agent.names(hostile), []);
    const getter = agent.present({
      get bad() {
        throw new TypeError("no");
      },
    }, spec);
    assert.deepEqual(getter.json, {
      error: { name: "TypeError", message: "no" },
    });
    const big = agent.present(new Array(5_000).fill("abc"), spec);
    assert.equal(
      big.json && "error" in big.json && big.json.error.name,
      "RangeError",
    );
    const thrown = agent.describe(hostile, spec);
    assert.equal(thrown.name, "object");
    assert.match(thrown.text.text, /^Uncaught /);
    const error = agent.describe(new SyntaxError("bad"), spec);
    assert.equal(error.name, "SyntaxError");
    assert.match(error.stack.text, /^SyntaxError: bad\n {4}at /);
    assert.equal(
      agent.describe(undefined, spec).text.text,
      "Uncaught undefined",
    );
  } finally {
    agent.remove();
  }
});

Deno.test("inspect() wrappers carry their bounds to present(); bad bounds throw the console's own RangeError", () => {
  const agent = install();
  const globals = globalThis as Record<string, unknown>;
  try {
    const inspect = globals.inspect as (
      value: unknown,
      options?: unknown,
    ) => object;
    const deep = { a: { b: { c: { d: { e: 1 } } } } };
    const wrapped = inspect(deep, { depth: 10, lines: 5 });
    const shown = agent.present(wrapped, spec);
    assert.deepEqual(shown.limits, { depth: 10, entries: 100, lines: 5 });
    assert.match(shown.renders["10"]!.text, /e: 1/);
    assert.equal(agent.present(inspect(deep), spec).limits.lines, "Infinity");
    assert.equal(
      Deno.inspect(wrapped),
      Deno.inspect(deep, { depth: 10, iterableLimit: 100 }),
    );
    assert.throws(
      () => inspect(deep, { depth: -1 }),
      /inspect\(\) takes depth as a whole number ≥ 0/,
    );
    assert.throws(() => inspect(deep, null), TypeError);
    const help = (globals.help as () => unknown)();
    assert.deepEqual(agent.present(help, spec).plain, {
      text: "the help text",
      length: 13,
      lines: 1,
    });
  } finally {
    agent.remove();
  }
});

Deno.test("snippetRunning() is false outside a snippet and restores Error.prepareStackTrace", () => {
  const agent = install();
  try {
    const before = (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
    assert.equal(agent.snippetRunning(), false);
    assert.equal(
      (Error as { prepareStackTrace?: unknown }).prepareStackTrace,
      before,
    );
    assert.equal(Error.stackTraceLimit, 10);
    // Code under the snippets' source URL on the stack: running.
    const fromSnippet = new Function(
      "agent",
      "return agent.snippetRunning()\n//# sourceURL=<console>",
    );
    assert.equal(fromSnippet(agent), true);
  } finally {
    agent.remove();
  }
});
