/**
 * Runs the read-only system tools attach learns about processes with
 * (`ps`, `ss`, `readlink`) and the one it signals with (`kill`): Deno
 * 2.9 lets only `--allow-all` read `/proc`, so a least-privilege attach
 * asks these instead (`--allow-run=ps,ss,readlink,kill`).
 *
 * @module
 */

import { AttachRefusedError } from "./refusal.ts";

/** What a tool printed and how it ended. */
export interface ToolOutput {
  /** Its exit code. */
  code: number;
  /** Its standard output. */
  stdout: string;
  /** Its standard error. */
  stderr: string;
}

const decoder = new TextDecoder();

/**
 * Runs `tool` with `args` and a deadline.
 *
 * @param tool `ps`, `ss`, `readlink` or `kill`.
 * @param args Its arguments.
 * @param timeoutMs Its deadline; 5 000 ms.
 * @returns What it printed and its exit code.
 * @throws {AttachRefusedError} When it may not be run, is missing, or
 * does not finish in time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runTool } from "./system_tool.ts";
 * const { code, stdout } = await runTool("ps", ["-o", "pid=", "-p", String(Deno.pid)]);
 * assert.equal(code, 0);
 * assert.equal(Number(stdout), Deno.pid);
 * ```
 */
export async function runTool(
  tool: "ps" | "ss" | "readlink" | "kill",
  args: string[],
  timeoutMs = 5_000,
): Promise<ToolOutput> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(tool, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { LC_ALL: "C" },
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      throw new AttachRefusedError(
        `attach runs ${tool} to ${
          tool === "kill" ? "signal the target" : "read process facts"
        } (Deno lets only --allow-all read /proc): grant --allow-run=ps,ss,readlink,kill`,
      );
    }
    if (error instanceof Deno.errors.NotFound) {
      throw new AttachRefusedError(
        `attach needs ${tool} (${
          tool === "ss" ? "iproute2" : "procps"
        }), which is not installed`,
      );
    }
    if (error instanceof DOMException && error.name === "AbortError") {
      throw new AttachRefusedError(
        `${tool} did not finish within ${timeoutMs} ms`,
      );
    }
    throw error;
  }
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
