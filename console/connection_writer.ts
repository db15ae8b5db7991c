/**
 * Writes lines to a connection in order, without letting a slow or vanished
 * client block the service or grow its memory without bound.
 *
 * @module
 */

/** Anything with `write` like a `Deno.Conn`. */
export interface ByteSink {
  /** Writes some of `data`, returning how much. */
  write(data: Uint8Array): Promise<number>;
}

/** The most unsent bytes kept for a slow client before output is dropped. */
export const MAX_PENDING_BYTES = 8 * 1024 * 1024;

/** Queues text for a connection and writes it in order. */
export class ConnectionWriter {
  #sink: ByteSink;
  #queue: Uint8Array[] = [];
  #pendingBytes = 0;
  #pumping: Promise<void> | undefined;
  #encoder = new TextEncoder();
  #failed = false;
  /**
   * Called each time queued text has been written, so whoever had text
   * dropped can send what it owes (the note saying so) once there is room.
   */
  drained: (() => void) | undefined;

  /** @param sink The connection. */
  constructor(sink: ByteSink) {
    this.#sink = sink;
  }

  /** Whether a write failed: the client is gone. */
  get failed(): boolean {
    return this.#failed;
  }

  /**
   * Queues `text`. Droppable text (console output) is discarded while more
   * than {@linkcode MAX_PENDING_BYTES} are waiting; replies never are.
   *
   * @param text What to send.
   * @param droppable Whether it may be dropped for a slow client.
   * @returns Whether it was queued (`false`: dropped, or the client is gone).
   */
  send(text: string, droppable = false): boolean {
    if (this.#failed) return false;
    if (droppable && this.#pendingBytes > MAX_PENDING_BYTES) return false;
    const bytes = this.#encoder.encode(text);
    this.#queue.push(bytes);
    this.#pendingBytes += bytes.length;
    this.#pumping ??= this.#pump();
    return true;
  }

  /** Bytes queued and not yet written. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * Waits until everything queued so far is written (or the client is gone).
   *
   * @returns When the queue is empty.
   */
  async flush(): Promise<void> {
    while (this.#pumping) await this.#pumping;
  }

  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        // Coalesce small writes: one syscall for a burst of lines.
        const chunks = this.#queue.splice(0);
        const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
        let data = chunks[0]!;
        if (chunks.length > 1) {
          data = new Uint8Array(total);
          let offset = 0;
          for (const chunk of chunks) {
            data.set(chunk, offset);
            offset += chunk.length;
          }
        }
        let written = 0;
        while (written < data.length) {
          written += await this.#sink.write(data.subarray(written));
        }
        this.#pendingBytes -= total;
        this.drained?.();
      }
    } catch {
      this.#failed = true;
      this.#queue = [];
      this.#pendingBytes = 0;
    } finally {
      this.#pumping = undefined;
    }
  }
}
