/**
 * A program that leaks the way services do, for the `analyze` tests and
 * `bench:heap`: it keeps every "visit" in a module-level Map (`seen`)
 * between a baseline and a target heap snapshot, then fills a second array
 * (`late`) before the final one. The same code runs as a Node CommonJS
 * script, a Node ES module or a Deno program, each writing its snapshots
 * with `node:v8` `writeHeapSnapshot()`.
 *
 * @module
 */

/** The three files of one run, in the order taken. */
export interface Trio {
  /** Before the visits. */
  baseline: string;
  /** After the visits. */
  target: string;
  /** After the `late` entries. */
  final: string;
}

/**
 * The program's body, the same in every runtime: what a request log that is
 * never trimmed looks like, driven by timers so that no snapshot is taken
 * while the module's own code is on the stack. `snapshot(name)` is the
 * runtime's.
 */
function body(visits: number, late: number): string {
  return `
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
    for (let i = 0; i < ${visits}; i++) {
      handle({ id: "r" + i, path: "/users/" + (i % 97), agent: "curl/8." + i });
    }
    snapshot("target");
  },
  () => {
    for (let i = 0; i < ${late}; i++) late.push({ n: i, note: "late " + i });
    snapshot("final");
  },
];
let step = 0;
function next() {
  steps[step++]();
  if (step < steps.length) setTimeout(next, 10);
}
setTimeout(next, 10);
`;
}

/** What each runtime's script starts with, and its file name. */
const PROGRAMS = {
  "node-cjs": {
    file: "app.js",
    head: `const v8 = require("node:v8");
const dir = process.argv[2];
function snapshot(name) { v8.writeHeapSnapshot(dir + "/" + name + ".heapsnapshot"); }
`,
  },
  "node-esm": {
    file: "app.mjs",
    head: `import { writeHeapSnapshot } from "node:v8";
const dir = process.argv[2];
function snapshot(name) { writeHeapSnapshot(dir + "/" + name + ".heapsnapshot"); }
`,
  },
  deno: {
    file: "app.ts",
    head: `// @ts-nocheck: a user's program, not the project's
import { writeHeapSnapshot } from "node:v8";
const dir = Deno.args[0];
function snapshot(name) { writeHeapSnapshot(dir + "/" + name + ".heapsnapshot"); }
`,
  },
} as const;

/** A runtime {@linkcode makeLeakTrio} can run the program in. */
export type Runtime = keyof typeof PROGRAMS;

/** How much the program leaks. */
export interface LeakSize {
  /** Visits kept in `seen` between the baseline and the target snapshot. */
  visits: number;
  /** Entries pushed to `late` between the target and the final snapshot. */
  late: number;
}

/**
 * Runs the leaking program in a runtime and returns its three snapshots.
 *
 * @example
 * ```ts ignore
 * const trio = await makeLeakTrio("node-cjs", dir, { visits: 3000, late: 2000 });
 * ```
 *
 * @param runtime `node-cjs`, `node-esm` or `deno`.
 * @param dir An empty directory for the program and its snapshots.
 * @param size How much it leaks.
 * @returns The snapshot files.
 */
export async function makeLeakTrio(
  runtime: Runtime,
  dir: string,
  size: LeakSize,
): Promise<Trio> {
  const program = PROGRAMS[runtime];
  const script = `${dir}/${program.file}`;
  await Deno.writeTextFile(
    script,
    program.head + body(size.visits, size.late),
  );
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
