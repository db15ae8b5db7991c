/**
 * A minimal JSON-lines console client for tests: connect, say hello, send
 * requests and read replies one by one.
 *
 * @module
 */

import { LineReader } from "../../console/line_reader.ts";
import { PROTOCOL_VERSION, type Reply } from "../../console/protocol.ts";
import { tcpEndpoint, unixEndpoint } from "../../console/endpoint.ts";
import { answerChallenge, createNonce } from "../../console/token.ts";

/** A test's connection to a console server. */
export class TestConnection {
  /** The connection. */
  readonly conn: Deno.Conn;
  #reader: LineReader;
  #encoder = new TextEncoder();
  #closed = false;

  /** @param conn An open connection. */
  constructor(conn: Deno.Conn) {
    this.conn = conn;
    this.#reader = new LineReader(conn, 64 * 1024 * 1024);
  }

  /**
   * Connects to a TCP console.
   *
   * @param port The console's port.
   * @returns The connection.
   */
  static async open(port: number): Promise<TestConnection> {
    return new TestConnection(
      await Deno.connect({ hostname: "127.0.0.1", port }),
    );
  }

  /**
   * Sends raw text.
   *
   * @param text What to write, as is.
   */
  async write(text: string | Uint8Array): Promise<void> {
    const data = typeof text === "string" ? this.#encoder.encode(text) : text;
    let written = 0;
    while (written < data.length) {
      written += await this.conn.write(data.subarray(written));
    }
  }

  /**
   * Sends one JSON message as a line.
   *
   * @param message The message.
   */
  async send(message: unknown): Promise<void> {
    await this.write(JSON.stringify(message) + "\n");
  }

  /**
   * Reads the next line, or `null` when the server closed the connection.
   *
   * @param timeoutMs How long to wait.
   * @returns The line or `null`.
   */
  async line(timeoutMs = 10_000): Promise<string | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const event = await Promise.race([
        this.#reader.next().catch(() => ({ kind: "eof" as const })),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error("Timed out waiting for a line")),
            timeoutMs,
          );
        }),
      ]);
      if (event.kind === "eof") return null;
      if (event.kind === "oversize") throw new Error("Oversize reply");
      return event.line;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Reads the next reply.
   *
   * @param timeoutMs How long to wait.
   * @returns The reply, or `null` when the connection closed.
   */
  async reply(timeoutMs?: number): Promise<Reply | null> {
    const line = await this.line(timeoutMs);
    return line === null ? null : JSON.parse(line);
  }

  /**
   * Reads replies until one of `types` arrives for `id`, collecting the rest.
   *
   * @param id The request id.
   * @param timeoutMs How long to wait for each reply.
   * @returns The final reply and the replies before it.
   */
  async until(
    id: string | number,
    timeoutMs?: number,
  ): Promise<{ final: Reply; before: Reply[] }> {
    const before: Reply[] = [];
    while (true) {
      const reply = await this.reply(timeoutMs);
      if (reply === null) throw new Error("Connection closed");
      if (
        "id" in reply && reply.id === id && reply.type !== "output" &&
        reply.type !== "progress"
      ) {
        return { final: reply, before };
      }
      before.push(reply);
    }
  }

  /**
   * The endpoint this connection dialled, as the client writes it.
   *
   * @returns `tcp:ADDRESS:PORT` or `unix:PATH`.
   */
  endpoint(): Promise<string> {
    const addr = this.conn.remoteAddr;
    return "hostname" in addr
      ? Promise.resolve(tcpEndpoint(addr))
      : unixEndpoint((addr as Deno.UnixAddr).path);
  }

  /**
   * Opens a session as the client does: a hello with a nonce, then the
   * answer to the server's challenge, bound to `endpoint`.
   *
   * @param token The token.
   * @param endpoint The endpoint to claim; the one dialled by default.
   * @returns The reply after the answer (or the first, when it is no
   * challenge).
   */
  async hello(token: string, endpoint?: string): Promise<Reply | null> {
    const clientNonce = createNonce();
    await this.send({
      op: "hello",
      version: PROTOCOL_VERSION,
      nonce: clientNonce,
    });
    const challenge = await this.reply();
    if (challenge?.type !== "challenge") return challenge;
    endpoint ??= await this.endpoint();
    const binding = { serverNonce: challenge.nonce, clientNonce, endpoint };
    await this.send({
      op: "auth",
      endpoint,
      answer: await answerChallenge(token, binding),
    });
    return await this.reply();
  }

  /**
   * Says hello with the token itself, as a script through `nc` may.
   *
   * @param token The token.
   * @returns The first reply.
   */
  async helloWithToken(token: string): Promise<Reply | null> {
    await this.send({ op: "hello", token });
    return await this.reply();
  }

  /**
   * Evaluates `code` and returns the final reply and any output before it.
   *
   * @param id The request id.
   * @param code The snippet.
   * @returns The final reply and what came before.
   */
  async eval(
    id: string | number,
    code: string,
  ): Promise<{ final: Reply; before: Reply[] }> {
    await this.send({ op: "eval", id, code });
    return await this.until(id);
  }

  /** Closes the connection (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * Asserts a reply is a result and returns its rendered value.
 *
 * @param reply A final reply.
 * @returns The value text.
 */
export function valueOf(reply: Reply): string {
  if (reply.type !== "result") {
    throw new Error(`Expected a result, got ${JSON.stringify(reply)}`);
  }
  return reply.value;
}
