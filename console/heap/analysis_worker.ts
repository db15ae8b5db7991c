/**
 * The heap analysis worker: receives snapshot chunks, parses them into typed
 * arrays, analyses the graph and answers queries, so that the service's own
 * isolate stays responsive. Also writes raw snapshots to disk.
 *
 * @module
 */

import { HeapAnalysis } from "./analysis.ts";
import { answerQuery } from "./answer.ts";
import type { Ownership } from "./holders.ts";
import { SnapshotParser } from "./parser.ts";
import type { Query, WorkerReply, WorkerRequest } from "./worker_messages.ts";

interface Load {
  id: number;
  totalBytes: number;
  received: number;
  reported: number;
  parser?: SnapshotParser;
  file?: Deno.FsFile;
  path?: string;
  error?: Error;
  ownership?: Ownership;
}

const PROGRESS_STEP = 4 * 1024 * 1024;
const scope = self as unknown as {
  postMessage(message: WorkerReply): void;
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
};
const encoder = new TextEncoder();
let load: Load | undefined;
let current: HeapAnalysis | undefined;

function reply(message: WorkerReply): void {
  scope.postMessage(message);
}

function fail(id: number, error: unknown): void {
  const err = error instanceof Error ? error : new Error(String(error));
  reply({ id, type: "error", name: err.name, message: err.message });
}

function begin(
  id: number,
  totalBytes: number,
  file?: string,
  ownership?: Ownership,
): void {
  closeLoad();
  load = { id, totalBytes, received: 0, reported: 0, ownership };
  try {
    if (file !== undefined) {
      load.path = file;
      load.file = Deno.openSync(file, {
        write: true,
        create: true,
        truncate: true,
      });
    } else {
      // The old analysis goes first: two graphs at once would double the peak.
      current = undefined;
      load.parser = new SnapshotParser();
    }
  } catch (error) {
    load.error = error as Error;
  }
}

function chunk(id: number, data: string): void {
  const active = load;
  if (!active || active.id !== id) return;
  if (!active.error) {
    try {
      if (active.file) writeAll(active.file, encoder.encode(data));
      else active.parser!.push(data);
    } catch (error) {
      active.error = error as Error;
      active.parser = undefined;
    }
  }
  active.received += data.length;
  reply({ id, type: "ack" });
  if (active.received - active.reported >= PROGRESS_STEP) {
    active.reported = active.received;
    reply({
      id,
      type: "progress",
      label: active.file ? "write" : "parse",
      done: active.received,
      total: Math.max(active.totalBytes, active.received),
    });
  }
}

function end(id: number): void {
  const active = load;
  if (!active || active.id !== id) {
    fail(id, new Error("No snapshot is being received"));
    return;
  }
  load = undefined;
  if (active.reported !== active.received) {
    reply({
      id,
      type: "progress",
      label: active.file ? "write" : "parse",
      done: active.received,
      total: active.received,
    });
  }
  try {
    if (active.file) {
      active.file.close();
      active.file = undefined;
    }
    if (active.error) throw active.error;
    if (active.parser) {
      const raw = active.parser.finish();
      active.parser = undefined;
      current = HeapAnalysis.from(raw, (phase, done, total) => {
        reply({ id, type: "progress", label: phase, done, total });
      }, active.ownership);
      reply({ id, type: "result", value: current.summary() });
    } else {
      reply({
        id,
        type: "result",
        value: { path: active.path, bytes: active.received },
      });
    }
  } catch (error) {
    fail(id, error);
  }
}

function query(id: number, q: Query): void {
  const analysis = current;
  if (!analysis) {
    fail(id, new Error("No analysed snapshot: capture one first"));
    return;
  }
  try {
    // A long query says what it is doing (a client waiting on a silent
    // line may give up).
    if (q.kind === "leaks") {
      reply({ id, type: "progress", label: "leaks", done: 0, total: 1 });
    }
    reply({ id, type: "result", value: answerQuery(analysis, q) });
  } catch (error) {
    fail(id, error);
  }
}

function closeLoad(): void {
  try {
    load?.file?.close();
  } catch {
    // Already closed.
  }
  load = undefined;
}

function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) {
    offset += file.writeSync(bytes.subarray(offset));
  }
}

scope.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const message = event.data;
  switch (message.op) {
    case "begin":
      begin(message.id, message.totalBytes, message.file, message.ownership);
      reply({ id: message.id, type: "ack" });
      break;
    case "chunk":
      chunk(message.id, message.data);
      break;
    case "end":
      end(message.id);
      break;
    case "query":
      query(message.id, message.query);
      break;
  }
};
