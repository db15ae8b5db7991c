import assert from "node:assert/strict";
import { connectConsole } from "../../../console/client/connection.ts";
import { evaluateOnTargets } from "../../../console/client/fan_out.ts";
import { SCRIPTED_TOKEN, startScriptedConsole } from "./_scripted_console.ts";

const credentials = () =>
  Promise.resolve({ token: SCRIPTED_TOKEN, source: "--token" });

/** A result reply for `id` with extra fields. */
function result(id: number, extra: Record<string, unknown>): string {
  return JSON.stringify({
    type: "result",
    id,
    value: "{ a: 1 }",
    durationMs: 1,
    ...extra,
  });
}

Deno.test("evaluate() asks for format json and returns the console's JSON text", async () => {
  const seen: unknown[] = [];
  await using fake = startScriptedConsole((request) => {
    seen.push(request.format);
    return result(request.id, { json: '{"a":1}' });
  });
  const connection = await connectConsole(
    { host: "127.0.0.1", port: fake.port },
    { credentials },
  );
  try {
    const outcome = await connection.evaluate("x", {}, { format: "json" });
    assert.deepEqual(outcome, {
      kind: "value",
      value: "{ a: 1 }",
      json: '{"a":1}',
      durationMs: 1,
    });
    const plain = await connection.evaluate("x");
    assert.equal(plain.kind === "value" && plain.json, undefined);
    assert.deepEqual(seen, ["json", undefined]);
  } finally {
    await connection.close();
  }
});

Deno.test("evaluate() with format json turns a missing, mistyped or malformed json field into a ProtocolError", async () => {
  const bad: unknown[] = [undefined, 42, "{bad", '{"a":1} trailing', ""];
  let next = 0;
  await using fake = startScriptedConsole((request) =>
    result(request.id, { json: bad[next++] })
  );
  const connection = await connectConsole(
    { host: "127.0.0.1", port: fake.port },
    { credentials },
  );
  try {
    for (const json of bad) {
      const outcome = await connection.evaluate("x", {}, { format: "json" });
      assert.equal(outcome.kind, "error", JSON.stringify(json));
      assert.equal(outcome.kind === "error" && outcome.name, "ProtocolError");
      assert.match(
        outcome.kind === "error" ? outcome.message : "",
        /^The console at 127\.0\.0\.1:\d+ sent no valid JSON for the value/,
      );
    }
    // The session goes on.
    assert.equal(connection.closed, false);
  } finally {
    await connection.close();
  }
});

Deno.test("evaluateOnTargets() with json reports a console's malformed JSON as that target's failure", async () => {
  await using fake = startScriptedConsole((request) =>
    result(request.id, { json: "[1, 2" })
  );
  const [outcome] = await evaluateOnTargets(
    [{ host: "127.0.0.1", port: fake.port }],
    "x",
    { credentials, timeoutMs: 5_000, json: true },
  );
  assert.equal(outcome!.ok, false);
  assert.equal(outcome!.error!.name, "ProtocolError");
  assert.equal(outcome!.pid, 4242);
});
