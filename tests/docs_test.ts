/**
 * The README and docs/ hold together: every relative link points at a file
 * (and a heading) that exists, the `--help` blocks of docs/cli.md are what
 * the programs print, and the embedding lines the README shows are the ones
 * examples/embed/app.ts ships.
 */

import assert from "node:assert/strict";
import { runMain } from "./_process.ts";

const ROOT = new URL("../", import.meta.url);

/** The Markdown files whose links are checked. */
async function markdownFiles(): Promise<string[]> {
  const files = ["README.md"];
  for await (const entry of Deno.readDir(new URL("docs/", ROOT))) {
    if (entry.isFile && entry.name.endsWith(".md")) {
      files.push(`docs/${entry.name}`);
    }
  }
  return files.sort();
}

/**
 * A Markdown text without its fenced blocks and inline code, where links are
 * text, not links.
 *
 * @param markdown The text.
 * @returns The prose, line for line (fenced lines become empty).
 */
function proseOf(markdown: string): string {
  let fenced = false;
  return markdown.split("\n").map((line) => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      return "";
    }
    return fenced ? "" : line.replace(/`[^`]*`/g, "");
  }).join("\n");
}

/**
 * GitHub's anchor for a heading: lower case, punctuation dropped, spaces as
 * hyphens, `-1`, `-2`... for repeats.
 *
 * @param markdown A Markdown text.
 * @returns The anchors of its headings.
 */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const heading = !fenced && line.match(/^#{1,6}\s+(.*)$/);
    if (!heading) continue;
    const base = heading[1]!.trim().toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const repeat = seen.get(base) ?? 0;
    seen.set(base, repeat + 1);
    anchors.add(repeat === 0 ? base : `${base}-${repeat}`);
  }
  return anchors;
}

Deno.test("anchorsOf() makes GitHub's heading anchors", () => {
  const anchors = anchorsOf(
    [
      "# Title",
      "## Scripts: `-e`, `--json`, `--timeout`",
      "## Leak alarm (`bench:alarm`, 2026-12-01)",
      "```",
      "# not a heading",
      "```",
      "## Title",
    ].join("\n"),
  );
  assert.deepEqual([...anchors], [
    "title",
    "scripts--e---json---timeout",
    "leak-alarm-benchalarm-2026-12-01",
    "title-1",
  ]);
});

Deno.test("every relative link in README.md and docs/*.md resolves", async () => {
  const texts = new Map<string, string>();
  for (const file of await markdownFiles()) {
    texts.set(file, await Deno.readTextFile(new URL(file, ROOT)));
  }
  const broken: string[] = [];
  let checked = 0;
  for (const [file, text] of texts) {
    const lines = proseOf(text).split("\n");
    lines.forEach((line, index) => {
      for (const match of line.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = match[1]!;
        if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
        checked++;
        const [path, anchor] = target.split("#") as [string, string?];
        const resolved = path === ""
          ? file
          : new URL(path, new URL(file, ROOT)).pathname.slice(
            ROOT.pathname.length,
          ).replace(/\/$/, "");
        const where = `${file}:${index + 1}: ${target}`;
        let isFile = texts.has(resolved);
        if (!isFile) {
          try {
            Deno.statSync(new URL(resolved, ROOT));
            isFile = true;
          } catch {
            broken.push(`${where} (no such file)`);
            continue;
          }
        }
        if (anchor === undefined || !resolved.endsWith(".md")) continue;
        const targetText = texts.get(resolved) ??
          Deno.readTextFileSync(new URL(resolved, ROOT));
        if (!anchorsOf(targetText).has(anchor)) {
          broken.push(`${where} (no heading #${anchor} in ${resolved})`);
        }
      }
    });
  }
  assert.ok(checked > 50, `only ${checked} links found`);
  assert.deepEqual(broken, []);
});

/** The `--help` blocks of docs/cli.md: the command after `help:`, then its block. */
function helpBlocks(markdown: string): { command: string; text: string }[] {
  return [
    ...markdown.matchAll(
      /<!-- help: main\.ts ([^>]*?) -->\s*```text\n([\s\S]*?)\n```/g,
    ),
  ].map((m) => ({ command: m[1]!, text: m[2]! }));
}

Deno.test("docs/cli.md shows each program's --help as it prints it", async () => {
  const blocks = helpBlocks(
    await Deno.readTextFile(new URL("docs/cli.md", ROOT)),
  );
  assert.deepEqual(blocks.map((b) => b.command), [
    "help",
    "serve --help",
    "console --help",
  ]);
  for (const { command, text } of blocks) {
    const args = command.split(" ");
    const task = args[0] === "console" ? "console" : "start";
    const { code, stdout, stderr } = await runMain(args, { task });
    assert.equal(code, 0, stderr);
    assert.equal(text, stdout.trimEnd(), `main.ts ${command}`);
  }
});

Deno.test("the README's embedding lines are examples/embed/app.ts's, in order", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const block = [...readme.matchAll(/```ts\n([\s\S]*?)\n```/g)]
    .map((m) => m[1]!)
    .find((code) => code.includes("startConsole("));
  assert.ok(block, "README.md shows a ts block with startConsole(");
  const app = (await Deno.readTextFile(new URL("examples/embed/app.ts", ROOT)))
    .split("\n");
  let at = 0;
  for (const line of block.split("\n").filter((l) => l.trim() !== "")) {
    const found = app.indexOf(line, at);
    assert.ok(
      found >= 0,
      `README.md shows "${line}", not in examples/embed/app.ts after line ${at}`,
    );
    at = found + 1;
  }
});
