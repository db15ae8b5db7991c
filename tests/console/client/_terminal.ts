/**
 * A tiny terminal emulator for tests of the interactive client.
 *
 * @module
 */

/**
 * What a terminal would show for `text`: the few control sequences readline
 * and the client use (carriage return, cursor column and movement, erase to
 * the end of the line or screen) applied to a grid of lines; colours and
 * other sequences are dropped.
 *
 * @param text What was written to the terminal.
 * @returns The lines on screen, joined with newlines.
 */
export function screenOf(text: string): string {
  const lines: string[] = [""];
  let row = 0;
  let column = 0;
  const put = (char: string) => {
    const line = lines[row]!.padEnd(column);
    lines[row] = line.slice(0, column) + char + line.slice(column + 1);
    column++;
  };
  // deno-lint-ignore no-control-regex
  const tokens = text.match(/\x1b\[\??[\d;]*[A-Za-z]|[\s\S]/g) ?? [];
  for (const token of tokens) {
    // deno-lint-ignore no-control-regex
    const escape = token.match(/^\x1b\[\??([\d;]*)([A-Za-z])$/);
    if (escape) {
      const n = Number(escape[1] || "1");
      switch (escape[2]) {
        case "G":
          column = n - 1;
          break;
        case "K":
          lines[row] = lines[row]!.slice(0, column);
          break;
        case "J":
          lines[row] = lines[row]!.slice(0, column);
          lines.length = row + 1;
          break;
        case "A":
          row = Math.max(0, row - n);
          break;
        case "B":
          row += n;
          break;
        case "C":
          column += n;
          break;
        case "D":
          column = Math.max(0, column - n);
      }
      while (lines.length <= row) lines.push("");
    } else if (token === "\r") {
      column = 0;
    } else if (token === "\n") {
      row++;
      column = 0; // a terminal's output processing turns \n into \r\n
      while (lines.length <= row) lines.push("");
    } else {
      put(token);
    }
  }
  return lines.join("\n");
}

/** A command running under a pseudo-terminal: keys in, the screen out. */
export interface Terminal {
  /** Everything written to the terminal. */
  readonly raw: string;
  /** What the screen shows now. */
  visible(): string;
  /** Waits until the screen matches `pattern` (10 s by default). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Types `text` (then lets the terminal settle for 50 ms). */
  type(text: string): Promise<void>;
  /** Closes the keyboard and waits for the exit. */
  finish(): Promise<{ code: number; stderr: string }>;
}

/**
 * Runs a shell command under a real pseudo-terminal (`script`) in the
 * project's folder, with `TERM=xterm-256color`, Deno's cache where it is
 * and `env` on top.
 *
 * @param command The shell command line.
 * @param env Extra environment (`HOME`, a token, ...).
 * @returns The terminal.
 */
export function startTerminal(
  command: string,
  env: Record<string, string>,
): Terminal {
  const realHome = Deno.env.get("HOME")!;
  const denoDir = Deno.env.get("DENO_DIR") ??
    `${Deno.env.get("XDG_CACHE_HOME") ?? `${realHome}/.cache`}/deno`;
  const child = new Deno.Command("script", {
    args: ["-qfec", command, "/dev/null"],
    cwd: new URL("../../../", import.meta.url),
    env: { DENO_DIR: denoDir, TERM: "xterm-256color", ...env },
    clearEnv: false,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let screen = "";
  const reading = (async () => {
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) screen += chunk;
  })();
  const stderr = new Response(child.stderr).text();
  const keys = child.stdin.getWriter();
  const encoder = new TextEncoder();
  const visible = () => screenOf(screen);
  return {
    get raw() {
      return screen;
    },
    visible,
    async waitFor(pattern: RegExp, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(visible())) {
        if (Date.now() > deadline) {
          throw new Error(`No ${pattern} on screen:\n${visible()}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async type(text: string) {
      await keys.write(encoder.encode(text));
      await new Promise((resolve) => setTimeout(resolve, 50));
    },
    async finish() {
      await keys.close().catch(() => {});
      const status = await child.status;
      await reading;
      return { code: status.code, stderr: await stderr };
    },
  };
}

/**
 * Whether `script` (util-linux) may run here, for a real pseudo-terminal.
 *
 * @returns `true` when permitted and installed.
 */
export function canUseScript(): boolean {
  const { state } = Deno.permissions.querySync({
    name: "run",
    command: "script",
  });
  if (state !== "granted") return false;
  return (Deno.env.get("PATH") ?? "").split(":").some((dir) => {
    try {
      return Deno.statSync(`${dir}/script`).isFile;
    } catch {
      return false;
    }
  });
}
