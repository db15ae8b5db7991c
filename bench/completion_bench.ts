/**
 * Completion and parsing time against input length: `complete` on `cache`
 * followed by N × `.x`, and on one long word followed by a space, at
 * 10 k, 40 k and 800 k characters; then `evaluate` of snippets that made
 * the TypeScript reading exponential. Each case runs in a child process
 * of its own, killed after `--limit` seconds, so a case that never ends
 * is reported as such instead of hanging the bench.
 *
 * Run: deno run --allow-run=deno --allow-read bench/completion_bench.ts [--limit 120]
 *
 * @module
 */

import { benchFlags } from "./_flags.ts";

const flags = benchFlags(Deno.args, { limit: 120, case: "" });

/** The cases: name → code. */
const CASES: Record<
  string,
  () => { op: "complete" | "evaluate"; code: string }
> = {
  "complete cache.x… 10k": () => chain(10_000),
  "complete cache.x… 40k": () => chain(40_000),
  "complete cache.x… 800k": () => chain(800_000),
  "complete word+space 40k": () => word(40_000),
  "complete word+space 800k": () => word(800_000),
  "evaluate a<b>(… ×24": () => ({
    op: "evaluate",
    code: "a<b>(".repeat(24),
  }),
  "evaluate let v: T = a ? (b): c => … ×22": () => ({
    op: "evaluate",
    code: "let v: T = " + "a ? (b): c => ".repeat(22) + "d",
  }),
};

function chain(length: number) {
  return {
    op: "complete" as const,
    code: "cache" + ".x".repeat((length - 5) / 2),
  };
}

function word(length: number) {
  return { op: "complete" as const, code: "a".repeat(length - 1) + " " };
}

if (flags.case !== "") {
  // The child: one case, timed in-process.
  const { createEvaluator } = await import("../console/eval/evaluator.ts");
  const evaluator = createEvaluator({ cache: new Map() }, {
    output: { write() {} },
  });
  const { op, code } = CASES[flags.case]!();
  const started = performance.now();
  let outcome: string;
  try {
    if (op === "complete") {
      const result = await evaluator.complete(code, code.length);
      outcome = `${result.candidates.length} candidates`;
    } else {
      const result = await evaluator.evaluate(code);
      outcome = result.kind === "error"
        ? `${result.name}: ${result.message}`
        : result.kind;
    }
  } catch (error) {
    outcome = `${(error as Error).name}: ${(error as Error).message}`;
  }
  const ms = performance.now() - started;
  console.log(JSON.stringify({ ms, outcome: outcome.slice(0, 100) }));
  evaluator.close();
  Deno.exit(0);
}

console.log(`| case | characters | time | answer |\n|---|---:|---:|---|`);
for (const name of Object.keys(CASES)) {
  const { code } = CASES[name]!();
  const child = new Deno.Command("deno", {
    args: [
      "run",
      "--allow-read",
      "--allow-env",
      import.meta.filename!,
      "--case",
      name,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), flags.limit * 1000);
  const { stdout, stderr, signal } = await child.output();
  clearTimeout(timer);
  let time: string;
  let answer: string;
  if (signal !== null) {
    time = `> ${flags.limit} s`;
    answer = "killed, still running";
  } else {
    try {
      const result = JSON.parse(new TextDecoder().decode(stdout));
      time = result.ms < 1000
        ? `${result.ms.toFixed(1)} ms`
        : `${(result.ms / 1000).toFixed(2)} s`;
      answer = result.outcome;
    } catch {
      time = "?";
      answer = new TextDecoder().decode(stderr).trim().split("\n").at(-1) ?? "";
    }
  }
  console.log(`| ${name} | ${code.length} | ${time} | ${answer} |`);
}
