/**
 * A text session, for a human on `nc`: `>>> ` and `... ` prompts, lines
 * gathered into snippets by the same {@linkcode SnippetBuffer} the client
 * uses, results printed like `deno repl`.
 *
 * @module
 */

import type { LineEvent, LineReader } from "../line_reader.ts";
import { MAX_LINE_BYTES } from "../protocol.ts";
import { SnippetBuffer } from "../snippet_buffer.ts";
import {
  ClientOutput,
  createSessionCore,
  type Session,
  type SessionContext,
} from "./session.ts";

/**
 * Starts a text session; it runs until the client disconnects or types
 * `.exit`.
 *
 * @param context The connection and its environment.
 * @param banner The greeting shown before the first prompt.
 * @returns The running session.
 */
export async function runTextSession(
  context: SessionContext,
  banner: string,
): Promise<Session> {
  const { writer } = context;
  const lastPercent = new Map<string, number>();
  const output = new ClientOutput(writer, (_id, _stream, text) => text);
  const core = await createSessionCore(context, {
    output(id, stream, text) {
      output.write(id, stream, text);
    },
    progress(_id, label, done, total) {
      // A plain connection has no progress bar: a line every quarter.
      const percent = total > 0 ? Math.floor((done / total) * 4) * 25 : 0;
      if (lastPercent.get(label) === percent) return;
      lastPercent.set(label, percent);
      writer.send(`${label}: ${percent}%\n`, true);
    },
  });

  async function loop(): Promise<void> {
    const snippet = new SnippetBuffer();
    writer.send(banner + "\n" + snippet.prompt);
    // Lines are read while an evaluation runs, so a client that leaves is
    // seen at once, even while its evaluation never settles.
    const lines = new LineQueue(context.reader, () => context.inputEnded());
    // Once the input ended, what is left (queued lines, the running
    // evaluation) gets the grace, then the session closes.
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    let finished = false;
    const graceOver = lines.ended.then(() =>
      new Promise<true>((resolve) => {
        if (finished) return resolve(true);
        graceTimer = setTimeout(() => resolve(true), context.endGraceMs);
      })
    );
    try {
      await evaluateLines(lines, snippet, graceOver);
    } finally {
      finished = true;
      clearTimeout(graceTimer);
    }
  }

  async function evaluateLines(
    lines: LineQueue,
    snippet: SnippetBuffer,
    graceOver: Promise<true>,
  ): Promise<void> {
    let evaluations = 0;
    while (true) {
      const event = await lines.next();
      if (event.kind === "eof") break;
      if (event.kind === "oversize") {
        snippet.clear();
        writer.send(
          `error: line of ${event.bytes} bytes is over the ${MAX_LINE_BYTES}-byte limit\n${snippet.prompt}`,
        );
        continue;
      }
      const step = snippet.add(event.line);
      if (step.kind === "exit") break;
      if (step.kind === "skip") {
        writer.send(snippet.prompt);
        continue;
      }
      if (step.code.length > MAX_LINE_BYTES) {
        snippet.clear();
        writer.send(
          `error: input over the ${MAX_LINE_BYTES}-byte limit\n${snippet.prompt}`,
        );
        continue;
      }
      const evaluation = core.evaluate(
        step.code,
        core.prepare(++evaluations),
        (result) => {
          snippet.settle(result.kind === "incomplete");
          output.flush(); // what was dropped is said before the result
          writer.send(
            result.kind === "incomplete"
              ? snippet.prompt
              : result.text + "\n" + snippet.prompt,
          );
        },
      );
      const graceIsOver = await Promise.race([
        evaluation.then(() => false),
        graceOver,
      ]);
      // The client left mid-evaluation and the grace is over.
      if (graceIsOver) return;
    }
    context.inputEnded();
    writer.send("\n");
  }

  return {
    done: loop().finally(() => core.close()),
    close: () => core.close(),
  };
}

/** Queued lines, at most this many, read ahead while an evaluation runs. */
const READ_AHEAD_LINES = 64;

/**
 * Reads a connection's lines ahead of the session, so its end is noticed
 * while an evaluation is still running.
 */
class LineQueue {
  #reader: LineReader;
  #events: LineEvent[] = [];
  #wake: (() => void) | undefined;
  #resume: (() => void) | undefined;
  /** Settles when the input has ended. */
  readonly ended: Promise<void>;

  constructor(reader: LineReader, onEnd: () => void) {
    this.#reader = reader;
    this.ended = this.#pump().finally(onEnd);
  }

  /** The next event, waiting for it when none is queued. */
  async next(): Promise<LineEvent> {
    while (this.#events.length === 0) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const event = this.#events.shift()!;
    this.#resume?.();
    return event.kind === "eof" ? (this.#events.unshift(event), event) : event;
  }

  async #pump(): Promise<void> {
    while (true) {
      while (this.#events.length >= READ_AHEAD_LINES) {
        await new Promise<void>((resolve) => this.#resume = resolve);
      }
      const event = await this.#reader.next().catch(() => ({
        kind: "eof" as const,
      }));
      this.#events.push(event);
      this.#wake?.();
      if (event.kind === "eof") return;
    }
  }
}
