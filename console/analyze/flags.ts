/**
 * The `analyze` subcommand's configuration: its flags, the snapshot files
 * and what to report on them, and its `--help` text.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseInteger, UsageError } from "../flags.ts";

/** What `main.ts analyze` reports. */
export type AnalyzeReport =
  | { kind: "summary"; file: string }
  | { kind: "leaks"; baseline: string; target?: string; final: string }
  | { kind: "path"; file: string; object: number | string }
  | { kind: "graph"; file: string; object: number | string; depth: number };

/** Everything `main.ts analyze` runs with. */
export interface AnalyzeConfig {
  /** The report and its files. */
  report: AnalyzeReport;
  /** Rows per table. */
  rows: number;
  /** `--json`: print JSON for programs instead of tables. */
  json: boolean;
  /** `--all`: keep the leakwatch console's own objects in. */
  all: boolean;
}

/** The `analyze` subcommand's help text. */
export const ANALYZE_HELP = `Usage: main.ts analyze [flags] FILE
       main.ts analyze [flags] BASELINE TARGET FINAL
       main.ts analyze [flags] BASELINE FINAL

Reads .heapsnapshot files from Chrome DevTools (Memory > Save profile),
Node (--heapsnapshot-signal, v8.writeHeapSnapshot()) or Deno (the console's
heap.snapshot(), node:v8 writeHeapSnapshot()); gzip-compressed ones too.

  FILE                    the most common types, the objects and the kinds
                          of objects that retain the most memory
  BASELINE TARGET FINAL   memlab's leak method: the objects allocated
                          between the baseline and the target snapshot and
                          still alive in the final one, grouped by the
                          variable, property or closure that holds them.
                          The three must come from one process, in the
                          order they were taken
  BASELINE FINAL          the same without an upper bound: everything
                          allocated after the baseline and alive in FINAL
                          (what the console's heap.leaks() reports)

Flags:
  -n, --rows N      rows per table [default: 10]
  --path OBJECT     the shortest chain of references from a GC root to
                    OBJECT in FILE: @ID (a snapshot id, as the tables show
                    it) or a type name (its newest instance)
  --graph OBJECT    the retainers around OBJECT in FILE, as Graphviz DOT on
                    stdout (render it: ... | dot -Tsvg > graph.svg)
  --depth N         retainer hops for --graph [default: 4]
  --json            print JSON for programs instead of tables
  --all             keep the leakwatch console's own objects (left out by
                    default in snapshots its heap.snapshot() wrote)
  -h, --help        show this help

Progress goes to stderr when it is a terminal. Relative paths are taken
from the directory deno task was started in (INIT_CWD).

Exit codes:
  0   success
  2   bad flags; a file that is missing, unreadable, not a heap snapshot,
      truncated or malformed; snapshots from different processes given as
      BASELINE TARGET FINAL; an object not in the snapshot
`;

const ROWS_RANGE = { min: 1, max: 100_000 };
const DEPTH_RANGE = { min: 1, max: 50 };

/**
 * Parses the `analyze` subcommand's arguments.
 *
 * @param args The arguments after `analyze`.
 * @returns The configuration, or `"help"` when help was asked for.
 * @throws {UsageError} On an unknown flag, a bad value or a wrong number of
 *   files.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAnalyzeArgs } from "./flags.ts";
 * const config = parseAnalyzeArgs(["/tmp/a.heapsnapshot", "--path", "@42"]);
 * assert.ok(config !== "help");
 * assert.deepEqual(config.report, {
 *   kind: "path",
 *   file: "/tmp/a.heapsnapshot",
 *   object: 42,
 * });
 * ```
 */
export function parseAnalyzeArgs(args: string[]): AnalyzeConfig | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: "boolean", short: "h" },
        rows: { type: "string", short: "n" },
        path: { type: "string" },
        graph: { type: "string" },
        depth: { type: "string" },
        json: { type: "boolean" },
        all: { type: "boolean" },
      },
    });
  } catch (error) {
    // One line: node's messages can carry a second sentence of advice.
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(message.split(/\.\s/)[0]!.replace(/\.$/, ""));
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  const files = positionals;
  const rows = values.rows === undefined
    ? 10
    : parseInteger(values.rows, "--rows", ROWS_RANGE);
  const common = { rows, json: values.json ?? false, all: values.all ?? false };
  if (values.path !== undefined && values.graph !== undefined) {
    throw new UsageError("--path and --graph cannot be used together");
  }
  if (values.depth !== undefined && values.graph === undefined) {
    throw new UsageError("--depth goes with --graph");
  }
  const single = values.path ?? values.graph;
  if (single !== undefined) {
    const flag = values.path !== undefined ? "--path" : "--graph";
    if (files.length !== 1) {
      throw new UsageError(
        `${flag} takes one snapshot file, got ${files.length}`,
      );
    }
    const file = files[0]!;
    const object = parseObject(single, flag);
    if (values.path !== undefined) {
      return { report: { kind: "path", file, object }, ...common };
    }
    const depth = values.depth === undefined
      ? 4
      : parseInteger(values.depth, "--depth", DEPTH_RANGE);
    return { report: { kind: "graph", file, object, depth }, ...common };
  }
  switch (files.length) {
    case 1:
      return { report: { kind: "summary", file: files[0]! }, ...common };
    case 2:
      return {
        report: { kind: "leaks", baseline: files[0]!, final: files[1]! },
        ...common,
      };
    case 3:
      return {
        report: {
          kind: "leaks",
          baseline: files[0]!,
          target: files[1]!,
          final: files[2]!,
        },
        ...common,
      };
    default:
      throw new UsageError(
        files.length === 0
          ? 'no snapshot file given (see "main.ts analyze --help")'
          : `analyze takes one, two or three snapshot files, got ${files.length}`,
      );
  }
}

/**
 * An object as `--path` and `--graph` take it: `@123` or `123` is a
 * snapshot id, anything else a type name.
 */
function parseObject(text: string, flag: string): number | string {
  const id = /^@?(\d+)$/.exec(text.trim());
  if (id) {
    const value = Number(id[1]);
    if (!Number.isSafeInteger(value) || value > 0xffffffff) {
      throw new UsageError(`${flag}: no snapshot id is that large: "${text}"`);
    }
    return value;
  }
  if (text.trim() === "" || text.length > 1024) {
    throw new UsageError(
      `${flag} takes @ID or a type name, got "${text.slice(0, 40)}"`,
    );
  }
  return text;
}
