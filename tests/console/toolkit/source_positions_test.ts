import assert from "node:assert/strict";
import {
  clearSourceMapCache,
  formatSourcePosition,
  mapThroughStackTraces,
  mapToSource,
} from "../../../console/toolkit/source_positions.ts";
import { closeInspector, post } from "../../../console/toolkit/inspector.ts";
import { fetchUserFromDatabase } from "../../../lib/fake_database.ts";
import { createUsers } from "../../../lib/users.ts";

const ROOT = new URL("../../../", import.meta.url);

interface Location {
  scriptId: string;
  lineNumber: number;
  columnNumber: number;
}

/** V8's `[[FunctionLocation]]` of a function: a position in emitted code. */
async function functionLocation(fn: unknown): Promise<Location> {
  const key = `__sourcePositionsTest${Math.random().toString(36).slice(2)}`;
  (globalThis as Record<string, unknown>)[key] = fn;
  try {
    const { result } = await post<{ result: { objectId: string } }>(
      "Runtime.evaluate",
      { expression: `globalThis.${key}` },
    );
    const { internalProperties } = await post<
      { internalProperties: { name: string; value: { value: Location } }[] }
    >("Runtime.getProperties", { objectId: result.objectId });
    const location = internalProperties.find((p) =>
      p.name === "[[FunctionLocation]]"
    );
    assert.ok(location, "V8 gives a function location");
    return location.value.value;
  } finally {
    delete (globalThis as Record<string, unknown>)[key];
  }
}

/** The emitted code V8 runs for a script, as the inspector has it. */
async function scriptSource(scriptId: string): Promise<string> {
  await post("Debugger.enable");
  try {
    const { scriptSource } = await post<{ scriptSource: string }>(
      "Debugger.getScriptSource",
      { scriptId },
    );
    return scriptSource;
  } finally {
    await post("Debugger.disable");
  }
}

/** 0-based position of `needle` in `text`. */
function positionOf(text: string, needle: string): [number, number] {
  const at = text.indexOf(needle);
  assert.ok(at >= 0, `"${needle}" is in the emitted code`);
  const before = text.slice(0, at).split("\n");
  return [before.length - 1, before.at(-1)!.length];
}

/** 1-based line where `needle` is in a project source file. */
async function sourceLine(path: string, needle: string): Promise<number> {
  const text = await Deno.readTextFile(new URL(path, ROOT));
  const lines = text.split("\n");
  const index = lines.findIndex((l) => l.includes(needle));
  assert.ok(index >= 0, `"${needle}" is in ${path}`);
  return index + 1;
}

Deno.test("`mapToSource()` gives the .ts line where a function is defined", async () => {
  try {
    const fetchAt = await functionLocation(fetchUserFromDatabase);
    const loadAt = await functionLocation(createUsers().load);
    const emitted = await scriptSource(fetchAt.scriptId);
    const [paragraphLine, paragraphColumn] = positionOf(
      emitted,
      "function paragraph(",
    );
    const databaseUrl = new URL("lib/fake_database.ts", ROOT).href;
    const usersUrl = new URL("lib/users.ts", ROOT).href;
    const cases = [
      {
        url: databaseUrl,
        at: [fetchAt.lineNumber, fetchAt.columnNumber],
        line: await sourceLine(
          "lib/fake_database.ts",
          "export async function fetchUserFromDatabase(",
        ),
      },
      {
        url: databaseUrl,
        at: [paragraphLine, paragraphColumn],
        line: await sourceLine("lib/fake_database.ts", "function paragraph("),
      },
      {
        url: usersUrl,
        at: [loadAt.lineNumber, loadAt.columnNumber],
        line: await sourceLine("lib/users.ts", "async function load("),
      },
    ];
    for (const { url, at, line } of cases) {
      const [emittedLine, emittedColumn] = at as [number, number];
      // The emitted line differs (JSDoc, types stripped): the map matters.
      const pos = await mapToSource(url, emittedLine, emittedColumn);
      assert.equal(pos.mapped, true, Deno.inspect(pos));
      assert.equal(pos.line, line, Deno.inspect({ url, at, pos }));
      assert.equal(pos.url, url);
      assert.ok(pos.column >= 1);
      // Deno's own mapper (the compiled binary's way) agrees.
      const viaStack = mapThroughStackTraces(url, emittedLine, emittedColumn);
      assert.ok(viaStack, "Deno maps the position");
      assert.deepEqual(
        [viaStack.url, viaStack.line, viaStack.column],
        [pos.url, pos.line, pos.column],
      );
    }
    assert.notEqual(
      fetchAt.lineNumber + 1,
      cases[0]!.line,
      "the emitted line is not the source line",
    );
  } finally {
    closeInspector();
  }
});

Deno.test("`mapToSource()` prints paths relative to the working directory", async () => {
  const url = new URL("lib/users.ts", ROOT).href;
  const pos = await mapToSource(url, 0, 0);
  const cwd = Deno.cwd();
  const path = new URL(url).pathname;
  const expected = path.startsWith(`${cwd}/`)
    ? path.slice(cwd.length + 1)
    : path;
  assert.equal(pos.file, expected);
  assert.equal(
    formatSourcePosition(pos),
    `${expected}:${pos.line}:${pos.column}`,
  );
  // A path works like its file URL.
  assert.deepEqual(await mapToSource(path, 0, 0), pos);
});

Deno.test("`mapToSource()` returns the input 1-based when there is no map", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/plain.js`;
    await Deno.writeTextFile(file, "export const x = 1;\n");
    const url = new URL(`file://${file}`).href;
    assert.deepEqual(await mapToSource(url, 0, 7), {
      url,
      file,
      line: 1,
      column: 8,
      mapped: false,
    });
    for (
      const [line, column] of [[-1, 0], [0, -5], [1.5, 0], [NaN, 0], [
        1e12,
        0,
      ]]
    ) {
      const pos = await mapToSource(url, line!, column!);
      assert.equal(pos.mapped, false, `${line}:${column}`);
    }
    for (const odd of ["", "node:fs", "ext:core/01_core.js", "wasm://x"]) {
      const pos = await mapToSource(odd, 2, 3);
      assert.deepEqual([pos.line, pos.column, pos.mapped], [3, 4, false]);
    }
  } finally {
    clearSourceMapCache();
    await Deno.remove(dir, { recursive: true });
  }
});
