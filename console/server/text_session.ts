/**
 * A text session, for a human on `nc`: `>>> ` and `... ` prompts, lines
 * gathered into snippets by the same {@linkcode SnippetBuffer} the client
 * uses, results printed like `deno repl`.
 *
 * @module
 */

import { MAX_LINE_BYTES } from "../protocol.ts";
import { SnippetBuffer } from "../snippet_buffer.ts";
import {
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
  const core = await createSessionCore(context, {
    output(_id, _stream, text) {
      writer.send(text, true);
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
    let evaluations = 0;
    while (true) {
      const event = await context.reader.next();
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
      await core.evaluate(
        step.code,
        core.prepare(++evaluations),
        (result) => {
          snippet.settle(result.kind === "incomplete");
          writer.send(
            result.kind === "incomplete"
              ? snippet.prompt
              : result.text + "\n" + snippet.prompt,
          );
        },
      );
    }
    writer.send("\n");
  }

  return {
    done: loop().finally(() => core.close()),
    close: () => core.close(),
  };
}
