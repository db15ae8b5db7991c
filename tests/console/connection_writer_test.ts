import assert from "node:assert/strict";
import {
  type ByteSink,
  ConnectionWriter,
  MAX_PENDING_BYTES,
} from "../../console/connection_writer.ts";

/** A sink that takes at most `chunk` bytes a write, and can be held or broken. */
class TestSink implements ByteSink {
  written: Uint8Array[] = [];
  writes = 0;
  broken = false;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;

  constructor(readonly chunk = Infinity) {}

  hold(): void {
    this.#gate = new Promise((resolve) => this.#open = resolve);
  }

  release(): void {
    this.#open?.();
    this.#gate = undefined;
  }

  async write(data: Uint8Array): Promise<number> {
    this.writes++;
    if (this.#gate) await this.#gate;
    if (this.broken) throw new Deno.errors.BrokenPipe("gone");
    const n = Math.min(data.length, this.chunk);
    this.written.push(data.slice(0, n));
    return n;
  }

  get text(): string {
    const all = new Uint8Array(
      this.written.reduce((sum, chunk) => sum + chunk.length, 0),
    );
    let at = 0;
    for (const chunk of this.written) {
      all.set(chunk, at);
      at += chunk.length;
    }
    return new TextDecoder().decode(all);
  }
}

Deno.test("ConnectionWriter.send() writes text in order, resuming partial writes", async () => {
  const sink = new TestSink(3);
  const writer = new ConnectionWriter(sink);
  writer.send("héllo\n");
  writer.send("wörld\n");
  await writer.flush();
  assert.equal(sink.text, "héllo\nwörld\n");
  assert.ok(sink.writes > 2);
});

Deno.test("ConnectionWriter.send() coalesces a burst queued during a write into one write", async () => {
  const sink = new TestSink();
  const writer = new ConnectionWriter(sink);
  sink.hold();
  writer.send("first\n");
  for (let i = 0; i < 100; i++) writer.send(`line ${i}\n`);
  sink.release();
  await writer.flush();
  assert.equal(sink.writes, 2);
  assert.ok(sink.text.startsWith("first\nline 0\n"));
  assert.ok(sink.text.endsWith("line 99\n"));
});

Deno.test("ConnectionWriter.send() drops droppable text past the limit for a slow client, never replies", async () => {
  const sink = new TestSink();
  const writer = new ConnectionWriter(sink);
  sink.hold();
  const big = "x".repeat(MAX_PENDING_BYTES + 1);
  assert.equal(writer.send(big, true), true);
  assert.equal(writer.send("dropped output\n", true), false);
  assert.equal(writer.send("a reply\n"), true);
  sink.release();
  await writer.flush();
  assert.equal(sink.text, big + "a reply\n");
});

Deno.test("ConnectionWriter.drained is called once queued text is written, when output could go again", async () => {
  const sink = new TestSink();
  const writer = new ConnectionWriter(sink);
  const seen: number[] = [];
  writer.drained = () => seen.push(writer.pendingBytes);
  sink.hold();
  writer.send("x".repeat(MAX_PENDING_BYTES + 1), true);
  assert.equal(writer.send("dropped\n", true), false);
  assert.equal(writer.pendingBytes, MAX_PENDING_BYTES + 1);
  // What drained() sends goes out in the same pump.
  writer.drained = () => {
    seen.push(writer.pendingBytes);
    if (seen.length === 1) writer.send("noted\n", true);
  };
  sink.release();
  await writer.flush();
  assert.deepEqual(seen, [0, 0]);
  assert.equal(sink.text, "x".repeat(MAX_PENDING_BYTES + 1) + "noted\n");
});

Deno.test("ConnectionWriter.failed is set by a failed write; later sends are ignored", async () => {
  const sink = new TestSink();
  const writer = new ConnectionWriter(sink);
  sink.broken = true;
  writer.send("lost\n");
  await writer.flush();
  assert.equal(writer.failed, true);
  const writes = sink.writes;
  assert.equal(writer.send("ignored\n"), false);
  await writer.flush();
  assert.equal(sink.writes, writes);
});

Deno.test("ConnectionWriter.flush() settles at once with nothing queued", async () => {
  const writer = new ConnectionWriter(new TestSink());
  await writer.flush();
  assert.equal(writer.failed, false);
});
