/**
 * A scripted console for the client's tests: it opens a session in either
 * protocol version (1: the hello carries the token; 2: challenge, then the
 * client's answer, taken unchecked) and answers each `eval` with a reply
 * the test writes, so the client can be shown replies a real console never
 * sends.
 *
 * @module
 */

import { LineReader } from "../../../console/line_reader.ts";

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
      if (version >= 2) {
        await send(
          JSON.stringify({ type: "challenge", nonce: "ab".repeat(32) }),
        );
        await reader.next(); // the answer: not checked here
      }
      await send(JSON.stringify({
        type: "hello",
        version,
        session: 1,
        pid: 4242,
        names: ["main"],
        banner: "scripted",
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
