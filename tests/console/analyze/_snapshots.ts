/**
 * Heap snapshots made for the `analyze` tests by real programs that leak:
 * a Node CommonJS script, a Node ES module and a Deno program, each keeping
 * "visits" in a module-level Map (`seen`) between a baseline and a target
 * snapshot, then in a second array (`late`) before the final one. Also
 * `analyze` itself, run as `deno task analyze` runs it.
 *
 * @module
 */

import { runMain } from "../../_process.ts";

/** Visits added between the baseline and the target snapshot. */
export const VISITS = 3_000;
/** Entries added between the target and the final snapshot. */
export const LATE = 2_000;

/** The three files of one run, in the order taken. */
export interface Trio {
  baseline: string;
  target: string;
  final: string;
}

/**
 * The program's body, shared by every runtime: what a request log that is
 * never trimmed looks like, driven by timers so that no snapshot is taken
 * while the module's own code is on the stack. `snapshot(name)` and
 * `done()` are the runtime's.
 */
const BODY = `
// Every request is remembered "for the audit page": the leak.
const seen = new Map();
// Filled only after the target snapshot.
const late = [];

function handle(request) {
  seen.set(request.id, {
    path: request.path,
    at: new Date(),
    headers: { "user-agent": request.agent, accept: "application/json" },
  });
}

const steps = [
  () => snapshot("baseline"),
  () => {
    for (let i = 0; i < ${VISITS}; i++) {
      handle({ id: "r" + i, path: "/users/" + (i % 97), agent: "curl/8." + i });
    }
    snapshot("target");
  },
  () => {
    for (let i = 0; i < ${LATE}; i++) late.push({ n: i, note: "late " + i });
    snapshot("final");
    done();
  },
];
let step = 0;
function next() {
  steps[step++]();
  if (step < steps.length) setTimeout(next, 10);
}
setTimeout(next, 10);
`;

/** What each runtime's script starts with, and its file name. */
const PROGRAMS = {
  "node-cjs": {
    file: "app.js",
    head: `const v8 = require("node:v8");
const dir = process.argv[2];
function snapshot(name) { v8.writeHeapSnapshot(dir + "/" + name + ".heapsnapshot"); }
function done() {}
`,
  },
  "node-esm": {
    file: "app.mjs",
    head: `import { writeHeapSnapshot } from "node:v8";
const dir = process.argv[2];
function snapshot(name) { writeHeapSnapshot(dir + "/" + name + ".heapsnapshot"); }
function done() {}
`,
  },
  deno: {
    file: "app.ts",
    head: `// @ts-nocheck: a user's program, not the project's
import { writeHeapSnapshot } from "node:v8";
const dir = Deno.args[0];
function snapshot(name) { writeHeapSnapshot(dir + "/" + name + ".heapsnapshot"); }
function done() {}
`,
  },
} as const;

/** A runtime {@linkcode makeTrio} can run the program in. */
export type Runtime = keyof typeof PROGRAMS;

/**
 * Runs the leaking program in a runtime and returns its three snapshots.
 *
 * @param runtime `node-cjs`, `node-esm` or `deno`.
 * @param dir An empty directory for the program and its snapshots.
 * @returns The snapshot files.
 */
export async function makeTrio(runtime: Runtime, dir: string): Promise<Trio> {
  const program = PROGRAMS[runtime];
  const script = `${dir}/${program.file}`;
  await Deno.writeTextFile(script, program.head + BODY);
  const command = runtime === "deno"
    ? new Deno.Command("deno", {
      args: ["run", `--allow-write=${dir}`, "--no-check", script, dir],
      env: { NO_COLOR: "1" },
    })
    : new Deno.Command("node", { args: [script, dir] });
  const { code, stderr } = await command.output();
  if (code !== 0) {
    throw new Error(
      `${runtime} program failed: ${new TextDecoder().decode(stderr)}`,
    );
  }
  return {
    baseline: `${dir}/baseline.heapsnapshot`,
    target: `${dir}/target.heapsnapshot`,
    final: `${dir}/final.heapsnapshot`,
  };
}

/** Whether Node is installed (`node --version` runs). */
export function hasNode(): boolean {
  try {
    return new Deno.Command("node", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}

/**
 * Runs `main.ts analyze` with the `analyze` task's permissions.
 *
 * @param args The arguments after `analyze`.
 * @param env Extra environment.
 * @returns The exit code and output.
 */
export function analyze(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runMain(["analyze", ...args], { task: "analyze", env });
}

/** One leak group of `analyze --json`, as the tests read it. */
export interface JsonLeak {
  heldBy: string;
  objects: string;
  count: number;
  retainedSize: number;
  holder?: { kind: string; name: string; url?: string };
}

/**
 * Runs `analyze --json` on snapshots and returns its leak groups.
 *
 * @param files Two or three snapshot files.
 * @param env Extra environment (`INIT_CWD`: where files print from).
 * @returns The groups, largest first.
 */
export async function jsonLeaks(
  files: string[],
  env: Record<string, string> = {},
): Promise<JsonLeak[]> {
  const { code, stdout, stderr } = await analyze([
    ...files,
    "--json",
    "--rows",
    "50",
  ], env);
  if (code !== 0) throw new Error(`analyze failed (${code}): ${stderr}`);
  return JSON.parse(stdout).leaks;
}
