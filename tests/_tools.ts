/**
 * The programs besides deno that some tests run (promtool, prometheus):
 * whether one is installed, and promtool's answer as one text.
 *
 * @module
 */

/**
 * Whether a program is installed: `name --version` runs. `.ci/run` installs
 * the Debian package `prometheus` (`prometheus` and `promtool`); a machine
 * without it skips those tests.
 *
 * @param name The program.
 * @returns True when it ran.
 */
export function hasTool(name: string): boolean {
  try {
    new Deno.Command(name, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `promtool` to the end. Its verdicts and errors go to either stream
 * depending on the subcommand, so they come back as one text.
 *
 * @param args Its arguments, e.g. `["check", "rules", "alerts.yml"]`.
 * @param options The working directory; text for its stdin
 *   (`check metrics` reads the metrics there).
 * @returns The exit code, and stdout followed by stderr.
 */
export async function promtool(
  args: string[],
  options: { cwd?: string; input?: string } = {},
): Promise<{ code: number; text: string }> {
  const child = new Deno.Command("promtool", {
    args,
    cwd: options.cwd,
    stdin: options.input === undefined ? "inherit" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.input));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const text = new TextDecoder().decode(stdout) +
    new TextDecoder().decode(stderr);
  return { code, text };
}
