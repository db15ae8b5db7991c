import assert from "node:assert/strict";
import {
  type ClientStreams,
  runEvalOnce,
  runTranscript,
} from "../../../console/client/batch.ts";
import type { ByteSource } from "../../../console/line_reader.ts";
import { ProgressLine } from "../../../console/client/progress_bar.ts";
import { MAX_LINE_BYTES } from "../../../console/protocol.ts";
import { startTestConsole } from "./_fixture.ts";

/** Streams that record what was written, in order. */
function recorder(progress = false) {
  const written: string[] = [];
  const streams: ClientStreams = {
    write: (stream, text) => written.push(`${stream}:${text}`),
  };
  if (progress) {
    streams.progress = new ProgressLine((text) => written.push(`bar:${text}`));
  }
  return { streams, written };
}

/** A byte source over `text`, a few bytes at a time. */
function source(text: string): ByteSource {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return {
    read(buffer) {
      if (offset >= bytes.length) return Promise.resolve(null);
      const n = Math.min(buffer.length, 7, bytes.length - offset);
      buffer.set(bytes.subarray(offset, offset + n));
      offset += n;
      return Promise.resolve(n);
    },
  };
}

Deno.test("runEvalOnce() prints the value, but not a bare undefined", async () => {
  await using t = await startTestConsole();
  const connection = await t.connect();
  const { streams, written } = recorder();
  assert.equal(await runEvalOnce(connection, "cache.get('b')", streams), 0);
  assert.equal(await runEvalOnce(connection, "let z = 1", streams), 0);
  assert.deepEqual(written, ["stdout:2\n"]);
});

Deno.test("runEvalOnce() shows progress on a terminal's stderr and clears it before the value", async () => {
  await using t = await startTestConsole();
  const connection = await t.connect();
  const { streams, written } = recorder(true);
  assert.equal(await runEvalOnce(connection, "await work(2)", streams), 0);
  assert.deepEqual(written, [
    "bar:\r[....................]   0% work\x1b[K",
    "bar:\r[##########..........]  50% work\x1b[K",
    "bar:\r[####################] 100% work\x1b[K",
    "bar:\r\x1b[K",
    "stdout:2\n",
  ]);
});

Deno.test("runTranscript() reports an over-long input line, skips it, and goes on", async () => {
  await using t = await startTestConsole();
  const connection = await t.connect();
  const { streams, written } = recorder();
  const input = `1\n"${"x".repeat(MAX_LINE_BYTES)}"\n2\n`;
  assert.equal(await runTranscript(connection, source(input), streams), 1);
  assert.deepEqual(written, [
    "stdout:1\n",
    `stderr:error: input line 2 (${
      MAX_LINE_BYTES + 2
    } bytes) is over the ${MAX_LINE_BYTES}-byte line limit: skipped\n`,
    "stdout:2\n",
  ]);
});

Deno.test("runTranscript() refuses a snippet that grew over the line limit", async () => {
  await using t = await startTestConsole();
  const connection = await t.connect();
  const { streams, written } = recorder();
  const half = "y".repeat(MAX_LINE_BYTES / 2);
  // An open template literal gathers lines until the request is too long.
  const input = `\`${half}\n${half}\n'next'\n`;
  assert.equal(await runTranscript(connection, source(input), streams), 1);
  assert.match(
    written[0]!,
    /^stderr:error: Input of \d+ bytes is over the console's 1048576-byte line limit: not sent\n$/,
  );
  assert.equal(written.at(-1), 'stdout:"next"\n');
});

Deno.test("runTranscript() prints output of work left running as it arrives", async () => {
  await using t = await startTestConsole();
  const connection = await t.connect();
  const { streams, written } = recorder();
  const input =
    "setTimeout(() => console.log('later'), 1); 1\nawait slow(50)\n";
  assert.equal(await runTranscript(connection, source(input), streams), 0);
  assert.deepEqual(written, ["stdout:1\n", "stdout:later\n", "stdout:50\n"]);
});
