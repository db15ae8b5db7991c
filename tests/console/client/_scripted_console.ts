/**
 * A scripted console for the client's tests: it opens a session (the
 * hello carries the token; or a challenge, the client's answer taken
 * unchecked, and a hello with the proof of a console that knows the test
 * token) and answers each `eval` with a reply the test writes, so the
 * client can be shown replies a real console never sends.
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

/**
 * Starts a scripted console for one connection.
 *
 * @param answer The reply line to an eval request (its parsed JSON given).
 * @returns The console.
 */
export function startScriptedConsole(
  answer: (request: { id: number; code: string; format?: string }) => string,
): ScriptedConsole {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const encoder = new TextEncoder();
  const served = (async () => {
    const conn = await listener.accept();
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
        const answer = await reader.next(); // not checked here
        if (answer.kind !== "line") return;
        proof = await proveConsole(SCRIPTED_TOKEN, {
          serverNonce,
          clientNonce: hello.nonce,
          endpoint: JSON.parse(answer.line).endpoint,
        });
      }
      await send(JSON.stringify({
        type: "hello",
        version,
        session: 1,
        pid: 4242,
        names: ["main"],
        banner: "scripted",
        proof,
      }));
      while (true) {
        const event = await reader.next();
        if (event.kind !== "line") break;
        const request = JSON.parse(event.line);
        if (request.op === "eval") await send(answer(request));
      }
    } catch {
      // The client hung up mid-write: the script is over.
    } finally {
      conn.close();
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
