/**
 * A scripted console for the client's tests: it opens a session (the
 * hello carries the token; or a challenge, the client's answer taken
 * unchecked, and a hello with the proof of a console that knows the test
 * token) and answers each `eval` with a reply the test writes, so the
 * client can be shown replies a real console never sends: malformed ones,
 * and hostile ones (terminal escapes in every field).
 *
 * @module
 */

import { LineReader } from "../../../console/line_reader.ts";
import { proveConsole } from "../../../console/token.ts";

/** The token the scripted console proves it knows. */
export const SCRIPTED_TOKEN = "scripted-token-0123456789";

/** A running scripted console. */
export interface ScriptedConsole extends AsyncDisposable {
  /** Its port. */
  port: number;
}

/** What a scripted console says besides its answers to `eval`. */
export interface ScriptOptions {
  /** The session's banner; `"scripted"` by default. */
  banner?: string;
  /**
   * The line sent instead of the `hello` reply (a refusal, say); the
   * connection is closed after it.
   */
  refusal?: string;
  /** The reply line(s) to a `complete` request; none by default. */
  complete?(request: { id: number; code: string }): string;
  /** How many connections to serve, one after the other; 1 by default. */
  connections?: number;
}

/**
 * Starts a scripted console.
 *
 * @param answer The reply line to an eval request (its parsed JSON given);
 * several lines joined with `\n` go out in order (output, then a result).
 * @param options Banner, refusal, completions, connections.
 * @returns The console.
 */
export function startScriptedConsole(
  answer: (request: { id: number; code: string; format?: string }) => string,
  options: ScriptOptions = {},
): ScriptedConsole {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    for (let i = 0; i < (options.connections ?? 1); i++) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // disposed before every connection came
      }
      await serve(conn, answer, options);
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await served;
    },
  };
}

async function serve(
  conn: Deno.Conn,
  answer: (request: { id: number; code: string; format?: string }) => string,
  options: ScriptOptions,
): Promise<void> {
  const encoder = new TextEncoder();
  const send = (line: string) => conn.write(encoder.encode(line + "\n"));
  const reader = new LineReader(conn, 1 << 20);
  try {
    const first = await reader.next();
    if (first.kind !== "line") return;
    const hello = JSON.parse(first.line);
    const version = typeof hello.version === "number" ? hello.version : 1;
    let proof: string | undefined;
    if (hello.token === undefined) {
      const serverNonce = "ab".repeat(32);
      await send(JSON.stringify({ type: "challenge", nonce: serverNonce }));
      const reply = await reader.next(); // not checked here
      if (reply.kind !== "line") return;
      proof = await proveConsole(SCRIPTED_TOKEN, {
        serverNonce,
        clientNonce: hello.nonce,
        endpoint: JSON.parse(reply.line).endpoint,
      });
    }
    if (options.refusal !== undefined) {
      await send(options.refusal);
      return;
    }
    await send(JSON.stringify({
      type: "hello",
      version,
      session: 1,
      pid: 4242,
      names: ["main"],
      banner: options.banner ?? "scripted",
      proof,
    }));
    while (true) {
      const event = await reader.next();
      if (event.kind !== "line") break;
      const request = JSON.parse(event.line);
      if (request.op === "eval") await send(answer(request));
      if (request.op === "complete" && options.complete) {
        await send(options.complete(request));
      }
    }
  } catch {
    // The client hung up mid-write: the script is over.
  } finally {
    conn.close();
  }
}
