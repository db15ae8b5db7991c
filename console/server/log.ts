/**
 * The service's own log lines (the console server's, the HTTP server's,
 * `serve`'s) and escaping of text that came from a client.
 *
 * Writing a line never throws: stderr or stdout closed (`Deno.stderr.close()`
 * in a session), a pipe whose reader is gone (a crashed log shipper, `| head
 * -1`) or a hung-up terminal costs the line, not the service. Lines lost that
 * way are counted ({@linkcode logWriteFailures}, `/metrics`
 * `leakwatch_log_lines_dropped_total`).
 *
 * @module
 */

const encoder = new TextEncoder();

/** Lines not written, by stream. */
const failures = { stdout: 0, stderr: 0 };

/**
 * Writes one log line to stderr, straight to the stream: a session's
 * console routing must never capture the server's own log. Never throws; a
 * line that cannot be written is counted.
 *
 * @param line The line, without its newline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logToStderr, logWriteFailures } from "./log.ts";
 * const before = logWriteFailures().stderr;
 * logToStderr("a line for stderr");
 * assert.equal(logWriteFailures().stderr, before);
 * ```
 */
export function logToStderr(line: string): void {
  writeLine(Deno.stderr, "stderr", line);
}

/**
 * Writes one line to stdout (the service's announcements: where it
 * listens), like {@linkcode logToStderr}: never throws, counts a failure.
 *
 * @param line The line, without its newline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logWriteFailures, printToStdout } from "./log.ts";
 * const before = logWriteFailures().stdout;
 * printToStdout("a line for stdout");
 * assert.equal(logWriteFailures().stdout, before);
 * ```
 */
export function printToStdout(line: string): void {
  writeLine(Deno.stdout, "stdout", line);
}

/**
 * How many lines {@linkcode logToStderr} and {@linkcode printToStdout}
 * could not write since the process started.
 *
 * @returns The counts, by stream.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logWriteFailures } from "./log.ts";
 * const { stdout, stderr } = logWriteFailures();
 * assert.ok(stdout >= 0 && stderr >= 0);
 * ```
 */
export function logWriteFailures(): { stdout: number; stderr: number } {
  return { ...failures };
}

function writeLine(
  stream: { writeSync(bytes: Uint8Array): number },
  name: keyof typeof failures,
  line: string,
): void {
  const bytes = encoder.encode(line + "\n");
  try {
    // A pipe may take part of a line; the rest follows.
    for (let at = 0; at < bytes.length;) {
      const written = stream.writeSync(bytes.subarray(at));
      if (written <= 0) throw new Error("nothing written");
      at += written;
    }
  } catch {
    // EPIPE, EBADF, EIO, a closed resource: the line is lost, the service
    // carries on, and the loss shows on /metrics.
    failures[name]++;
  }
}

/**
 * Makes text from a client safe for a log line: control characters
 * (newlines included) become `\n`, `\u001b`, ... and the text is cut at
 * `max` characters, so a client can neither forge nor flood log lines.
 *
 * @param text Text that came from a client.
 * @param max The most characters kept.
 * @returns The escaped text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeLogField } from "./log.ts";
 * assert.equal(
 *   escapeLogField("1\nconsole session 9 opened"),
 *   "1\\nconsole session 9 opened",
 * );
 * ```
 */
export function escapeLogField(text: string, max = 200): string {
  const cut = text.length > max ? text.slice(0, max) + "…" : text;
  // deno-lint-ignore no-control-regex
  return cut.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\\]/g, (c) => {
    if (c === "\\") return "\\\\";
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

/** Options for {@linkcode RefusalLog}. */
export interface RefusalLogOptions {
  /** Refusals logged one by one in each window before they are only counted; 5. */
  linesPerWindow?: number;
  /** The window, in milliseconds; 10 000. */
  windowMs?: number;
}

/**
 * Logs refused connections without letting a flood flood the log: the
 * first few of each window are logged one by one, the rest are counted by
 * reason and logged as one summary line when the window ends.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RefusalLog } from "./log.ts";
 * const lines: string[] = [];
 * const log = new RefusalLog((line) => lines.push(line), { linesPerWindow: 1 });
 * log.record("invalid token", "console connection 1 refused: invalid token");
 * log.record("invalid token", "console connection 2 refused: invalid token");
 * log.close();
 * assert.deepEqual(lines, [
 *   "console connection 1 refused: invalid token",
 *   "console: 1 more connection refused in the last 10 s (invalid token: 1)",
 * ]);
 * ```
 */
export class RefusalLog {
  #log: (line: string) => void;
  #linesPerWindow: number;
  #windowMs: number;
  #logged = 0;
  #counts = new Map<string, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param log Where lines go.
   * @param options The window and how many lines it logs one by one.
   */
  constructor(log: (line: string) => void, options: RefusalLogOptions = {}) {
    this.#log = log;
    this.#linesPerWindow = options.linesPerWindow ?? 5;
    this.#windowMs = options.windowMs ?? 10_000;
  }

  /**
   * Records one refusal.
   *
   * @param reason Why, the summary's key (no client text: it is logged as is).
   * @param line The line to log while the window has room.
   */
  record(reason: string, line: string): void {
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#flush(), this.#windowMs);
      // A quiet server must still be able to exit.
      Deno.unrefTimer(this.#timer as unknown as number);
    }
    if (this.#logged < this.#linesPerWindow) {
      this.#logged++;
      this.#log(line);
      return;
    }
    this.#counts.set(reason, (this.#counts.get(reason) ?? 0) + 1);
  }

  /** Logs what is counted and stops the window's timer. */
  close(): void {
    this.#flush();
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#logged = 0;
    if (this.#counts.size === 0) return;
    let total = 0;
    const reasons: string[] = [];
    for (const [reason, count] of this.#counts) {
      total += count;
      reasons.push(`${reason}: ${count}`);
    }
    this.#counts.clear();
    this.#log(
      `console: ${total} more connection${
        total === 1 ? "" : "s"
      } refused in the last ${Math.round(this.#windowMs / 1000)} s (${
        reasons.join(", ")
      })`,
    );
  }
}
