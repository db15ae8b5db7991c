/**
 * One authenticated console session: runs its requests through an
 * evaluator, in JSON-lines or text mode, and logs each evaluation.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { ConnectionWriter } from "../connection_writer.ts";
import {
  createEvaluator,
  type EvalResult,
  type Evaluator,
} from "../eval/evaluator.ts";
import type { LineReader } from "../line_reader.ts";
import {
  MAX_LINE_BYTES,
  parseRequest,
  ProtocolError,
  type Reply,
  type RequestId,
} from "../protocol.ts";

/** What a session's extra bindings can do: report progress to the client. */
export interface SessionIO {
  /**
   * Reports progress of a long operation to the client (a progress bar in
   * the interactive client).
   */
  progress(label: string, done: number, total: number): void;
}

/** What a session needs from its server. */
export interface SessionContext {
  /** The session's number, for the log. */
  number: number;
  /** The client's address, for the log. */
  peer: string;
  /** The service's namespace. */
  namespace: Record<string, unknown>;
  /** Extra, session-only bindings (the leak toolkit). */
  scope: (io: SessionIO) => Record<string, unknown>;
  /** Where log lines go. */
  log: (line: string) => void;
  /** Lines from the client. */
  reader: LineReader;
  /** Lines to the client. */
  writer: ConnectionWriter;
  /** Render values with colours. */
  colors: boolean;
}

/** A session's lifetime, so its server can end it. */
export interface Session {
  /** Settles when the client leaves or the session is closed. */
  done: Promise<void>;
  /** Interrupts a pending evaluation and releases the session's state. */
  close(): void;
}

interface Pending {
  id: RequestId | null;
  controller: AbortController;
}

/** Characters of output per message: at most 6 bytes each once escaped. */
const OUTPUT_PIECE_CHARS = 128 * 1024;

/** Cuts `text` into pieces of at most `size` code units, never inside a surrogate pair. */
function* pieces(text: string, size: number): Generator<string> {
  let start = 0;
  while (text.length - start > size) {
    let end = start + size;
    const last = text.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff) end--;
    yield text.slice(start, end);
    start = end;
  }
  yield text.slice(start);
}

/**
 * Runs a JSON-lines session until the client disconnects.
 *
 * @param context The connection and its environment.
 * @returns The running session.
 */
export function runJsonSession(context: SessionContext): Session {
  const { writer } = context;
  const send = (reply: Reply, droppable = false) =>
    writer.send(JSON.stringify(reply) + "\n", droppable);
  const core = createCore(context, {
    output(id, stream, text) {
      // Long output goes in pieces, so no message comes near the 1 MiB line
      // limit even when every character needs escaping.
      for (const piece of pieces(text, OUTPUT_PIECE_CHARS)) {
        send({ type: "output", id, stream, text: piece }, true);
      }
    },
    progress(id, label, done, total) {
      send({ type: "progress", id, label, done, total }, true);
    },
  });

  async function loop(): Promise<void> {
    let queue: Promise<unknown> = Promise.resolve();
    while (true) {
      const event = await context.reader.next();
      if (event.kind === "eof") break;
      if (event.kind === "oversize") {
        send({
          type: "error",
          id: null,
          error: {
            name: "ProtocolError",
            message:
              `Message of ${event.bytes} bytes is over the ${MAX_LINE_BYTES}-byte limit`,
          },
        });
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
        send({
          type: "error",
          id: protocol.id,
          error: { name: protocol.name, message: protocol.message },
        });
        continue;
      }
      switch (request.op) {
        case "eval": {
          // One evaluation at a time, in order; reading goes on meanwhile so
          // an interrupt is seen at once.
          const { id, code } = request;
          const pending = core.prepare(id);
          queue = queue.then<unknown>(() =>
            // A failed write means the client is gone: run nothing more.
            writer.failed ? core.close() : core.evaluate(
              code,
              pending,
              (result) => send(resultReply(id, result)),
            )
          );
          break;
        }
        case "complete": {
          const { candidates, start } = await core.evaluator.complete(
            request.code,
            request.cursor ?? request.code.length,
          );
          send({ type: "completions", id: request.id, candidates, start });
          break;
        }
        case "interrupt": {
          const target = core.interrupt(request.target);
          if (target === undefined) {
            send({
              type: "error",
              id: request.id,
              error: {
                name: "ProtocolError",
                message: request.target === undefined
                  ? "No evaluation is pending"
                  : `No pending evaluation has id ${
                    JSON.stringify(request.target)
                  }`,
              },
            });
          } else {
            send({ type: "interrupted", id: request.id, target });
          }
          break;
        }
      }
    }
    // End of input. The client may only have closed its sending side (a
    // script piping requests into nc): it still gets every answer.
    await queue;
    core.close();
  }

  return { done: loop().finally(() => core.close()), close: core.close };
}

/**
 * Runs a text session (a human with `nc`): `>>> ` and `... ` prompts,
 * results printed like `deno repl`, until the client disconnects or types
 * `.exit`.
 *
 * @param context The connection and its environment.
 * @param banner The greeting shown before the first prompt.
 * @returns The running session.
 */
export function runTextSession(
  context: SessionContext,
  banner: string,
): Session {
  const { writer } = context;
  const lastPercent = new Map<string, number>();
  const core = createCore(context, {
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
    writer.send(banner + "\n>>> ");
    let buffered = "";
    let evaluations = 0;
    while (true) {
      const event = await context.reader.next();
      if (event.kind === "eof") break;
      if (event.kind === "oversize") {
        buffered = "";
        writer.send(
          `error: line of ${event.bytes} bytes is over the ${MAX_LINE_BYTES}-byte limit\n>>> `,
        );
        continue;
      }
      const line = event.line;
      if (buffered === "" && line.trim() === ".exit") break;
      if (buffered === "" && line.trim() === "") {
        writer.send(">>> ");
        continue;
      }
      buffered = buffered === "" ? line : `${buffered}\n${line}`;
      if (buffered.length > MAX_LINE_BYTES) {
        buffered = "";
        writer.send(`error: input over the ${MAX_LINE_BYTES}-byte limit\n>>> `);
        continue;
      }
      const result = await core.evaluate(
        buffered,
        core.prepare(++evaluations),
        (result) =>
          writer.send(
            result.kind === "incomplete" ? "... " : result.text + "\n>>> ",
          ),
      );
      if (result.kind !== "incomplete") buffered = "";
    }
    writer.send("\n");
  }

  return { done: loop().finally(() => core.close()), close: core.close };
}

interface CoreSinks {
  output(
    id: RequestId | null,
    stream: "stdout" | "stderr",
    text: string,
  ): void;
  progress(
    id: RequestId | null,
    label: string,
    done: number,
    total: number,
  ): void;
}

/** The evaluator, pending evaluation, logging and teardown shared by both modes. */
function createCore(context: SessionContext, sinks: CoreSinks) {
  let current: Pending | undefined;
  const waiting: Pending[] = [];
  let closed = false;
  const io: SessionIO = {
    progress(label, done, total) {
      sinks.progress(current?.id ?? null, label, done, total);
    },
  };
  const evaluator: Evaluator = createEvaluator(context.namespace, {
    output: {
      write(stream, text, info) {
        // Background output (a timer's, an interrupted evaluation's) belongs
        // to no request, even while another evaluation is pending.
        sinks.output(
          info?.background ? null : current?.id ?? null,
          stream,
          text,
        );
      },
    },
    scope: context.scope(io),
    colors: context.colors,
  });

  return {
    evaluator,
    /** Registers an evaluation as waiting, so it can be interrupted early. */
    prepare(id: RequestId | null): Pending {
      const pending = { id, controller: new AbortController() };
      waiting.push(pending);
      return pending;
    },
    /**
     * Runs one evaluation, hands its result to `reply`, then logs it: the
     * log line's hashing and synchronous write happen while the reply is
     * already on its way, not before it.
     */
    async evaluate(
      code: string,
      pending: Pending,
      reply: (result: EvalResult) => void,
    ): Promise<EvalResult> {
      waiting.splice(waiting.indexOf(pending), 1);
      current = pending;
      const started = performance.now();
      let result: EvalResult;
      try {
        result = await evaluator.evaluate(code, {
          signal: pending.controller.signal,
        });
      } finally {
        current = undefined;
      }
      const durationMs = result.kind === "incomplete"
        ? performance.now() - started
        : result.durationMs;
      try {
        reply(result);
      } finally {
        logEvaluation(context, code, durationMs, result);
      }
      return result;
    },
    /** Interrupts the evaluation `target` (or the running one). */
    interrupt(target?: RequestId): RequestId | undefined {
      const candidates = current ? [current, ...waiting] : waiting;
      const found = target === undefined
        ? candidates[0]
        : candidates.find((pending) => pending.id === target);
      if (found === undefined || found.id === null) return undefined;
      found.controller.abort();
      return found.id;
    },
    close() {
      if (closed) return;
      closed = true;
      current?.controller.abort();
      for (const pending of waiting) pending.controller.abort();
      evaluator.close();
    },
  };
}

/** Logs one evaluation: who, how much code and its hash, how long, how it ended; never the code. */
function logEvaluation(
  context: SessionContext,
  code: string,
  durationMs: number,
  result: EvalResult,
): void {
  const outcome = result.kind === "error"
    ? (result.name === "Interrupted" ? "interrupted" : `error ${result.name}`)
    : result.kind === "value"
    ? "ok"
    : "incomplete";
  context.log(
    `console session ${context.number} from ${context.peer} eval ${code.length} chars sha256:${
      createHash("sha256").update(code).digest("hex").slice(0, 12)
    } ${durationMs.toFixed(1)} ms ${outcome}`,
  );
}

function resultReply(id: RequestId, result: EvalResult): Reply {
  switch (result.kind) {
    case "value":
      return {
        type: "result",
        id,
        value: result.text,
        durationMs: round(result.durationMs),
      };
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
