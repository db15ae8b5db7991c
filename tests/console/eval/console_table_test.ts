import assert from "node:assert/strict";
import { renderConsoleTable } from "../../../console/eval/console_table.ts";

/** Checks that `renderConsoleTable(data)` draws `lines`. */
function assertDraws(data: object, lines: string[]): void {
  assert.equal(renderConsoleTable(data), lines.join("\n"));
}

// Expected tables were printed by Deno 2.9.6's own console.table.
Deno.test("renderConsoleTable() lays out rows of objects", () => {
  assertDraws([{ a: 1, b: "x" }, { a: 2 }], [
    "┌───────┬───┬─────┐",
    "│ (idx) │ a │ b   │",
    "├───────┼───┼─────┤",
    '│     0 │ 1 │ "x" │',
    "│     1 │ 2 │     │",
    "└───────┴───┴─────┘",
  ]);
});

Deno.test("renderConsoleTable() puts primitives in a Values column, right-aligning integers", () => {
  assertDraws([{ a: 1 }, 5], [
    "┌───────┬───┬────────┐",
    "│ (idx) │ a │ Values │",
    "├───────┼───┼────────┤",
    "│     0 │ 1 │        │",
    "│     1 │   │      5 │",
    "└───────┴───┴────────┘",
  ]);
  assertDraws([1, 22222, "two"], [
    "┌───────┬────────┐",
    "│ (idx) │ Values │",
    "├───────┼────────┤",
    "│     0 │ 1      │",
    "│     1 │ 22222  │",
    '│     2 │ "two"  │',
    "└───────┴────────┘",
  ]);
});

Deno.test("renderConsoleTable() lists Map entries and Set values by iteration index", () => {
  assertDraws(new Map<string, unknown>([["k", 1], ["k2", { a: 1 }]]), [
    "┌────────────┬──────┬──────────┐",
    "│ (iter idx) │ Key  │ Values   │",
    "├────────────┼──────┼──────────┤",
    '│          0 │ "k"  │ 1        │',
    '│          1 │ "k2" │ { a: 1 } │',
    "└────────────┴──────┴──────────┘",
  ]);
  assert.match(
    renderConsoleTable(new Set([1, "a"])),
    /│ \(iter idx\) │ Values │/,
  );
});

Deno.test("renderConsoleTable() restricts columns to the given properties", () => {
  assert.equal(
    renderConsoleTable([{ a: 1, b: 2 }], ["b"]),
    "┌───────┬───┐\n│ (idx) │ b │\n├───────┼───┤\n│     0 │ 2 │\n└───────┴───┘",
  );
});

Deno.test("renderConsoleTable() counts wide characters twice", () => {
  assert.equal(
    renderConsoleTable([{ a: "日本語" }]),
    '┌───────┬──────────┐\n│ (idx) │ a        │\n├───────┼──────────┤\n│     0 │ "日本語" │\n└───────┴──────────┘',
  );
});
