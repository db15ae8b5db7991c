/**
 * `help()`: one line per toolkit helper.
 *
 * @module
 */

import { captureCostNow } from "./memory.ts";

const LINES: Array<[string, string]> = [
  [
    "mem()",
    "resident, heap used/total, external memory; capture mode, what a snapshot would cost",
  ],
  ["gc()", "full garbage collection; heap used before and after"],
  [
    'count(Ctor or "Name")',
    "live instances of a class, fast, without a snapshot",
  ],
  [
    'instances(Ctor or "Name", n = 10)',
    "up to n live instances of a class, the objects themselves",
  ],
  ["heap.top(n = 10)", "most common types: count, shallow and retained size"],
  [
    "heap.growth(n = 10)",
    "types that grew since your previous call: count, size, new, freed ({ peak: true }: objgraph's peak rule)",
  ],
  [
    "heap.path(target)",
    "shortest chain of strong references from a GC root to an object, or to one of the largest new group of a type name",
  ],
  [
    "heap.largest(n = 10, { by })",
    'objects retaining the most memory and who holds them; by: "kind" adds up by constructor',
  ],
  [
    "heap.leaks(n = 10)",
    "objects allocated since your first call and still alive, one row per leak, named by its holder",
  ],
  [
    "heap.graph(target, file?)",
    "retainers around a target as Graphviz DOT (+ .svg/.png by extension)",
  ],
  [
    "heap.snapshot(file?)",
    "write a .heapsnapshot for Chrome DevTools (default: ~/.leakwatch/snapshots)",
  ],
  [
    "alloc.start({ interval })",
    "start sampling allocations (opt-in: slows allocation)",
  ],
  [
    "alloc.top(n = 10, { all })",
    "live bytes by allocation site (function, .ts file:line); all: the console's own too",
  ],
  ["alloc.stop()", "stop sampling; final top sites"],
  [
    "leak()",
    "the leak alarm: suspected?, heap-after-GC chart, allocation sites, next step",
  ],
  ["help()", "this list"],
];

/**
 * Lists the helpers, one line each. The result is a `String` object: it
 * works as text (templates, `includes`, `JSON.stringify`) and prints as
 * plain lines rather than a quoted string.
 *
 * @example
 * ```ts
 * import { help } from "./help.ts";
 * if (!`${help()}`.includes("heap.top")) throw new Error("unexpected");
 * ```
 *
 * @returns The text.
 */
export function help(): string {
  const width = Math.max(...LINES.map(([name]) => name.length));
  const text = [
    "Leak toolkit",
    `  ${captureCostNow()}`,
    "  heap.* leave the console's own objects out; { all: true } includes them",
    ...LINES.map(([name, what]) => `  ${name.padEnd(width)}  ${what}`),
  ].join("\n");
  const boxed = new String(text);
  Object.defineProperty(boxed, Symbol.for("Deno.customInspect"), {
    value: () => text,
    enumerable: false,
  });
  return boxed as string;
}
