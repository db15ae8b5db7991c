/**
 * Completion and parsing time against input length: `complete` on `cache`
 * followed by N × `.x`, and on one long word followed by a space, at
 * 10 k, 40 k and 800 k characters; a function pasted line by line (each
 * line evaluates the snippet so far, as the REPL does); then `evaluate` of
 * snippets that made the TypeScript reading exponential. Each case runs in a child process
 * of its own, killed after `--limit` seconds, so a case that never ends
 * is reported as such instead of hanging the bench.
 *
 * `--service` sends the completions to a real `main.ts serve` instead,
 * timing /healthz meanwhile.
 *
 * Run: deno run --allow-run=deno --allow-read bench/completion_bench.ts [--limit 120]
 *      deno run --allow-run=deno --allow-read --allow-net=127.0.0.1 --allow-env=HOME bench/completion_bench.ts --service
 *
 * @module
 */

import { benchFlags } from "./_flags.ts";
import { startServe } from "../tests/_process.ts";
import { TestConnection } from "../tests/console/_console_client.ts";

const flags = benchFlags(Deno.args, { limit: 120, case: "", service: false });

type Op = "complete" | "complete without limits" | "evaluate" | "paste";

/** The cases: name → code. */
const CASES: Record<string, () => { op: Op; code: string }> = {
  "complete cache.x… 10k": () => chain(10_000),
  "complete cache.x… 40k": () => chain(40_000),
  "complete cache.x… 800k": () => chain(800_000),
  "complete cache.x… 800k, no length limit or budget": () => ({
    op: "complete without limits",
    code: chain(800_000).code,
  }),
  "complete word+space 40k": () => word(40_000),
  "complete word+space 800k": () => word(800_000),
  "paste 2 000 lines, one evaluation each": () => paste(2_000),
  "paste 4 000 lines, one evaluation each": () => paste(4_000),
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

/** A function of `lines` lines, typed (or pasted) line by line. */
function paste(lines: number) {
  return {
    op: "paste" as const,
    code: [
      "const sum = () => {",
      "  let total = 0;",
      ...Array.from(
        { length: lines },
        (_, i) => `  total += ${i}; // line ${i} (of ${lines})`,
      ),
      "  return total;",
      "};",
      "sum()",
    ].join("\n"),
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
  const { completeCode } = await import("../console/eval/completion.ts");
  const { createSessionScope } = await import("../console/eval/scope.ts");
  const scope = createSessionScope({ cache: new Map() });
  const started = performance.now();
  let outcome: string;
  try {
    if (op === "complete without limits") {
      // The algorithm alone: what the limits are not needed for.
      const result = completeCode(code, code.length, scope, {
        maxChars: Infinity,
        budgetMs: Infinity,
      });
      outcome = `${result.candidates.length} candidates`;
    } else if (op === "paste") {
      // As the text session and the interactive client send it: the
      // snippet so far and one more line, until it is complete.
      const { SnippetBuffer } = await import("../console/snippet_buffer.ts");
      const buffer = new SnippetBuffer();
      let result;
      for (const line of code.split("\n")) {
        const step = buffer.add(line);
        if (step.kind !== "evaluate") continue;
        result = await evaluator.evaluate(step.code);
        buffer.settle(result.kind === "incomplete");
      }
      outcome = result?.kind === "value" ? result.text : String(result?.kind);
    } else if (op === "complete") {
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
  console.log(JSON.stringify({ ms, outcome: outcome.slice(0, 120) }));
  evaluator.close();
  Deno.exit(0);
}

if (flags.service) {
  await overTheWire();
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

/**
 * `--service`: the same completions sent to a real `main.ts serve` over
 * the console protocol, each with /healthz fetched in a loop meanwhile: the
 * answer's time, and the slowest HTTP answer while it was awaited.
 */
async function overTheWire(): Promise<void> {
  const token = "completion-bench-" + crypto.randomUUID();
  const service = await startServe(["--console-port", "0"], {
    env: { CONSOLE_TOKEN: token },
  });
  try {
    const line = await service.stdout.waitFor(/^console listening on /);
    const session = await TestConnection.open(
      Number(line.match(/:(\d+)$/)![1]),
    );
    await session.hello(token);
    console.log(
      "| request | characters | answer time | slowest /healthz meanwhile | answer |\n|---|---:|---:|---:|---|",
    );
    let id = 0;
    for (const [name, make] of Object.entries(CASES)) {
      const { op, code } = make();
      if (op !== "complete") continue;
      let slowest = 0;
      let answered = false;
      const probing = (async () => {
        while (!answered) {
          const started = performance.now();
          const response = await fetch(`${service.url}healthz`);
          await response.body?.cancel();
          slowest = Math.max(slowest, performance.now() - started);
        }
      })();
      const started = performance.now();
      await session.send({ op: "complete", id: ++id, code });
      const { final } = await session.until(id, 600_000);
      const ms = performance.now() - started;
      answered = true;
      await probing;
      const answer = final.type === "error"
        ? `${final.error.name}: ${final.error.message}`
        : final.type === "completions"
        ? `${final.candidates.length} candidates`
        : final.type;
      console.log(
        `| ${name} | ${code.length} | ${ms.toFixed(1)} ms | ${
          slowest.toFixed(1)
        } ms | ${answer.slice(0, 80)} |`,
      );
    }
    session.close();
  } finally {
    service.child.kill("SIGTERM");
    await service.finish();
  }
}
