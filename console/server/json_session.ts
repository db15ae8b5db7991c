/**
 * A JSON-lines session: one request a line in, one reply a line out, with
 * output and progress streamed before each evaluation's reply.
 *
 * @module
 */

import {
  MAX_LINE_BYTES,
  parseRequest,
  ProtocolError,
  type Reply,
  type RequestId,
} from "../protocol.ts";
import {
  ClientOutput,
  createSessionCore,
  drain,
  type Session,
  type SessionContext,
  type SessionResult,
} from "./session.ts";

/**
 * Starts a JSON-lines session; it runs until the client disconnects.
 *
 * @param context The connection and its environment.
 * @returns The running session.
 */
export async function runJsonSession(
  context: SessionContext,
): Promise<Session> {
  const { writer } = context;
  // Long output goes in pieces, so no message comes near the 1 MiB line
  // limit even when every character needs escaping.
  const output = new ClientOutput(
    writer,
    (id, stream, text) =>
      JSON.stringify({ type: "output", id, stream, text }) + "\n",
  );
  const send = (reply: Reply) => {
    // Notes of dropped output come before any reply (an evaluation's result
    // after its output).
    output.flush();
    writer.send(JSON.stringify(reply) + "\n");
  };
  const core = await createSessionCore(context, {
    output(id, stream, text) {
      output.write(id, stream, text);
    },
    progress(id, label, done, total) {
      writer.send(
        JSON.stringify({ type: "progress", id, label, done, total }) + "\n",
        true,
      );
    },
  });

  async function loop(): Promise<void> {
    let queue: Promise<unknown> = Promise.resolve();
    while (true) {
      const event = await context.reader.next();
      if (event.kind === "eof") break;
      if (event.kind === "oversize") {
        send(protocolError(
          null,
          `Message of ${event.bytes} bytes is over the ${MAX_LINE_BYTES}-byte limit`,
        ));
        continue;
      }
      if (event.line.trim() === "") continue;
      let request;
      try {
        request = parseRequest(event.line);
      } catch (error) {
        const protocol = error instanceof ProtocolError
          ? error
          : new ProtocolError(String(error));
        send(protocolError(protocol.id, protocol.message));
        continue;
      }
      switch (request.op) {
        case "eval": {
          // One evaluation at a time, in order; reading goes on meanwhile so
          // an interrupt is seen at once.
          const { id, code, format } = request;
          const pending = core.prepare(id);
          queue = queue.then<unknown>(() =>
            // A failed write means the client is gone: run nothing more.
            writer.failed ? core.close() : core.evaluate(
              code,
              pending,
              (result) => send(resultReply(id, result)),
              { format },
            )
          );
          break;
        }
        case "complete": {
          try {
            const { candidates, start } = await core.evaluator.complete(
              request.code,
              request.cursor ?? request.code.length,
            );
            send({ type: "completions", id: request.id, candidates, start });
          } catch (error) {
            // Refused (too long, over its budget) or failed: the session
            // goes on either way.
            send({
              type: "error",
              id: request.id,
              error: {
                name: "CompletionError",
                message: error instanceof Error &&
                    error.name === "CompletionError"
                  ? error.message
                  : `Completion failed: ${describeThrown(error)}`,
              },
            });
          }
          break;
        }
        case "interrupt": {
          const target = core.interrupt(request.target);
          if (target === undefined) {
            send(protocolError(
              request.id,
              request.target === undefined
                ? "No evaluation is pending"
                : `No pending evaluation has id ${
                  JSON.stringify(request.target)
                }`,
            ));
          } else {
            send({ type: "interrupted", id: request.id, target });
          }
          break;
        }
      }
    }
    // End of input: the slot is free now. The client may only have closed
    // its sending side (a script piping requests into nc): it still gets
    // the answers that come within the grace; past it the session closes
    // and what is still running goes on in the background.
    context.inputEnded();
    await drain(queue, context.endGraceMs);
  }

  return {
    done: loop().finally(() => core.close()),
    close: () => core.close(),
  };
}

/** Describes a thrown value without touching it more than needed; never throws. */
function describeThrown(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return "a value that cannot be described";
  }
}

function protocolError(id: RequestId | null, message: string): Reply {
  return { type: "error", id, error: { name: "ProtocolError", message } };
}

function resultReply(id: RequestId, result: SessionResult): Reply {
  switch (result.kind) {
    case "value": {
      const reply: Extract<Reply, { type: "result" }> = {
        type: "result",
        id,
        value: result.text,
        durationMs: round(result.durationMs),
      };
      if (typeof result.json === "string") reply.json = result.json;
      return reply;
    }
    case "incomplete":
      return { type: "incomplete", id };
    case "error":
      return {
        type: "error",
        id,
        error: {
          name: result.name,
          message: result.message,
          stack: result.stack,
        },
        text: result.text,
        durationMs: round(result.durationMs),
      };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
