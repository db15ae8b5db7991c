/**
 * The README's shown outputs (and those of the docs written from it) that
 * name a source line, such as `load › set  lib/users.ts:103:18`, checked
 * against a live service: every `FILE.ts:LINE[:COLUMN]` inside a fenced
 * block must be a file of this repository and a position the toolkit names
 * today, so an edit that moves a line cannot leave the README behind.
 */

import assert from "node:assert/strict";
import { startWithConsole } from "./_service_session.ts";

const ROOT = new URL("../", import.meta.url);

/**
 * The Markdown files whose fenced outputs name lines of the users service:
 * the README and the reference moved out of it. (docs/embedding.md,
 * analyze.md and attach.md show other programs' lines: their own tests.)
 */
const CHECKED_FILES = [
  "README.md",
  "docs/cli.md",
  "docs/session.md",
  "docs/http.md",
  "docs/deployment.md",
  "docs/benchmarks.md",
  "docs/limitations.md",
  "docs/layout.md",
];

/** One `FILE.ts:LINE[:COLUMN]` a document shows. */
interface ShownPosition {
  /** The document and its line, for messages. */
  where: string;
  file: string;
  line: number;
  column?: number;
  /** Set when it names a timer's callback (`setInterval callback at …`). */
  timer?: string;
}

/**
 * The source positions shown inside fenced code blocks of a Markdown text.
 *
 * @param markdown The document's text.
 * @param name The document's name, for `where`.
 * @returns Every `FILE.ts:LINE[:COLUMN]` in its fenced blocks, in order.
 */
function shownPositions(
  markdown: string,
  name: string,
): ShownPosition[] {
  const found: ShownPosition[] = [];
  let fenced = false;
  markdown.split("\n").forEach((text, index) => {
    if (/^\s*```/.test(text)) {
      fenced = !fenced;
      return;
    }
    if (!fenced) return;
    // A runtime's own code (`ext:…`, `node:…`) is not this repo's, and an
    // alarm's `(via …)` call path abbreviates files to their names.
    const shown = text.replace(/\(via [^)]*\)/g, "");
    for (
      const match of shown.matchAll(
        /(?<![\w./@:-])([\w./@-]+\.ts):(\d+)(?::(\d+))?/g,
      )
    ) {
      const timer = shown.slice(0, match.index).match(
        /(setInterval|setTimeout) callback(?: \S+)? at $/,
      )?.[1];
      found.push({
        where: `${name}:${index + 1}`,
        file: match[1]!,
        line: Number(match[2]),
        column: match[3] === undefined ? undefined : Number(match[3]),
        ...timer === undefined ? {} : { timer },
      });
    }
  });
  return found;
}

Deno.test("shownPositions() finds positions in fenced blocks only", () => {
  const text = [
    "Prose names `lib/users.ts:1` and is not checked.",
    "```console",
    "384.5 KiB  15.6%  12  load › set  lib/users.ts:103:18",
    "leak alarm: ... 1) paragraph › join lib/fake_database.ts:122; 2) x ~/.cache/a.js:7",
    "    at f (<console>:1:22)",
    "```",
    "`lib/app.ts:9` after the block",
  ].join("\n");
  assert.deepEqual(shownPositions(text, "T.md"), [
    { where: "T.md:3", file: "lib/users.ts", line: 103, column: 18 },
    {
      where: "T.md:4",
      file: "lib/fake_database.ts",
      line: 122,
      column: undefined,
    },
  ]);
});

Deno.test("every source line the README shows is where the live toolkit puts it", async () => {
  const shown: ShownPosition[] = [];
  for (const name of CHECKED_FILES) {
    const text = await Deno.readTextFile(new URL(name, ROOT));
    shown.push(...shownPositions(text, name));
  }
  // The walk-through's alloc.top() table at least: never a vacuous pass.
  assert.ok(
    shown.filter((p) => p.where.startsWith("README.md:")).length >= 4,
    `README.md shows ${shown.length} source positions`,
  );
  for (const { where, file, line, timer } of shown) {
    const stat = await Deno.stat(new URL(file, ROOT)).catch(() => null);
    assert.ok(stat?.isFile, `${where} names ${file}, not a file of this repo`);
    if (timer === undefined) continue;
    // heap.leaks() names a timer by where its callback was scheduled.
    const source = (await Deno.readTextFile(new URL(file, ROOT))).split("\n");
    assert.ok(
      source[line - 1]?.includes(`${timer}(`),
      `${where} shows a ${timer} callback at ${file}:${line}, which reads: ${
        source[line - 1]
      }`,
    );
  }
  // Allocation sites: named by a live service's sampling.
  const sampled = shown.filter((p) => p.timer === undefined);

  const service = await startWithConsole();
  try {
    // A fine sampling interval (the default is 32 KiB) so every site of a
    // few thousand requests is sampled, not just the biggest.
    await service.run("alloc.start({ interval: 4096 })");
    await service.load(4_000);
    const sites = await service.data<
      { function: string; file: string; line: number; column: number }[]
    >("alloc.top(1000, { all: true })");
    await service.run("alloc.stop()");
    const live = sites.map((s) => `${s.file}:${s.line}:${s.column}`);
    for (const position of sampled) {
      const { where, file, line, column } = position;
      const named = `${file}:${line}${
        column === undefined ? "" : `:${column}`
      }`;
      const ok = sites.some((s) =>
        s.file === file && s.line === line &&
        (column === undefined || s.column === column)
      );
      assert.ok(
        ok,
        `${where} shows ${named}; the live toolkit names ${
          live.filter((p) => p.startsWith(`${file}:`)).join(", ") ||
          `nothing in ${file}`
        }`,
      );
    }
  } finally {
    await service.stop();
  }
});
