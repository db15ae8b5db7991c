/**
 * Reading a `.heapsnapshot` file into the heap parser: plain or
 * gzip-compressed, in 1 MiB pieces (never the whole text at once), with
 * progress, and every way a file can be wrong told in one sentence.
 *
 * @module
 */

import { UsageError } from "../flags.ts";
import { type RawSnapshot, SnapshotParser } from "../heap/parser.ts";
import type { ProgressFn } from "../heap/progress.ts";

/** Text handed to the parser at a time: large pieces parse fastest. */
const PIECE_BYTES = 1 << 20;
/** Bytes looked at to recognise the format. */
const HEAD_BYTES = 4096;
const GZIP_MAGIC = [0x1f, 0x8b];
const SNAPSHOT_START = /^\s*\{\s*"snapshot"\s*:/;

/** A snapshot file, parsed. */
export interface SnapshotFile {
  /** The path as given. */
  path: string;
  /** Its size on disk. */
  bytes: number;
  /** Whether it was gzip-compressed. */
  gzip: boolean;
  /** The parsed snapshot. */
  raw: RawSnapshot;
}

/**
 * Parses a heap snapshot file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSnapshotFile } from "./snapshot_file.ts";
 * const path = await Deno.makeTempFile({ suffix: ".heapsnapshot" });
 * await Deno.writeTextFile(
 *   path,
 *   '{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count"],' +
 *     '"node_types":[["synthetic"],"string","number","number","number"],' +
 *     '"edge_fields":["type","name_or_index","to_node"],"edge_types":[["weak"],"string_or_number","node"]},' +
 *     '"node_count":1,"edge_count":0},"nodes":[0,0,1,0,0],"edges":[],"strings":[""]}',
 * );
 * const file = await readSnapshotFile(path);
 * assert.equal(file.raw.nodeCount, 1);
 * await Deno.remove(path);
 * ```
 *
 * @param path The file.
 * @param progress Gets `parse NAME` with bytes read and the file's size.
 * @returns The parsed snapshot and what the file was.
 * @throws {UsageError} When the file is missing, unreadable, a directory,
 *   empty, not a heap snapshot, truncated or malformed.
 */
export async function readSnapshotFile(
  path: string,
  progress: ProgressFn = () => {},
): Promise<SnapshotFile> {
  let file: Deno.FsFile;
  let bytes: number;
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) throw new UsageError(`${path} is a directory`);
    bytes = info.size;
    file = await Deno.open(path);
  } catch (error) {
    throw fileError(path, error);
  }
  try {
    const head = new Uint8Array(HEAD_BYTES);
    const headLength = await readFully(file, head);
    if (headLength === 0) {
      throw new UsageError(`${path} is empty: not a heap snapshot`);
    }
    const gzip = GZIP_MAGIC.every((b, i) => head[i] === b);
    await file.seek(0, Deno.SeekMode.Start);
    const label = `parse ${path.slice(path.lastIndexOf("/") + 1)}`;
    let read = 0;
    const counted = file.readable.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          read += chunk.length;
          progress(label, read, bytes);
          controller.enqueue(chunk);
        },
      }),
    );
    const plain: ReadableStream<Uint8Array> = gzip
      ? counted.pipeThrough(
        new DecompressionStream("gzip") as TransformStream<
          Uint8Array,
          Uint8Array
        >,
      )
      : counted;
    const raw = await parse(path, plain, gzip);
    return { path, bytes, gzip, raw };
  } catch (error) {
    throw fileError(path, error);
  } finally {
    try {
      file.close();
    } catch {
      // The readable stream closed it already.
    }
  }
}

/** Feeds the text to the parser in large pieces, checking how it starts. */
async function parse(
  path: string,
  stream: ReadableStream<Uint8Array>,
  gzip: boolean,
): Promise<RawSnapshot> {
  const parser = new SnapshotParser();
  const decoder = new TextDecoder("utf-8", { fatal: false });
  const pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let checked = false;
  const flush = (final: boolean) => {
    const joined = join(pending, pendingBytes);
    pending.length = 0;
    pendingBytes = 0;
    const text = decoder.decode(joined, { stream: !final });
    if (!checked) {
      checked = true;
      if (!SNAPSHOT_START.test(text.slice(0, HEAD_BYTES))) {
        throw new UsageError(
          `${path} is not a V8 heap snapshot${
            gzip ? " (once gunzipped)" : ""
          }: it does not start with {"snapshot":`,
        );
      }
    }
    if (text !== "") parser.push(text);
  };
  for await (const chunk of stream) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= PIECE_BYTES) flush(false);
  }
  flush(true);
  return parser.finish();
}

function join(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

async function readFully(file: Deno.FsFile, into: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < into.length) {
    const n = await file.read(into.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return filled;
}

/** Any failure reading a file, as one line about that file. */
function fileError(path: string, error: unknown): UsageError {
  if (error instanceof UsageError) return error;
  if (error instanceof Deno.errors.NotFound) {
    return new UsageError(`${path}: no such file`);
  }
  if (error instanceof Deno.errors.NotCapable) {
    return new UsageError(
      compiled()
        ? `${path}: this executable may read only what it was compiled to read ($HOME/.leakwatch): move the file there, or run deno task analyze`
        : `${path}: not readable under this run's permissions (deno run --allow-read=${path} ...)`,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new UsageError(`${path}: permission denied`);
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return new UsageError(`${path} is a directory`);
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof TypeError && /gzip|deflate|compress/i.test(message)) {
    return new UsageError(
      `${path}: broken or truncated gzip data (${oneLine(message)})`,
    );
  }
  if (error instanceof RangeError) {
    return new UsageError(
      `${path}: too large to hold in memory (${oneLine(message)})`,
    );
  }
  return new UsageError(`${path}: ${oneLine(message)}`);
}

/** Whether this is a `deno compile` executable (its code sits in a virtual folder). */
function compiled(): boolean {
  return new URL(import.meta.url).pathname.includes("/deno-compile-");
}

function oneLine(text: string): string {
  const line = text.split("\n")[0]!.trim();
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}
