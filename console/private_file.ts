/**
 * Owner-only files written whole or not at all: the data goes to a fresh
 * temporary name beside the target (mode 0600, never an existing file), and
 * only a complete write is renamed into place; a failed one is removed, so a
 * reader never sees a partial file and a refused write leaves nothing.
 *
 * @module
 */

const PRIVATE_MODE = 0o600;

/** A file being written; it appears under its name only on `commit()`. */
export class PrivateFileWriter {
  #file: Deno.FsFile | undefined;
  #bytes = 0;
  readonly #encoder = new TextEncoder();

  /**
   * @param path Where the file goes on `commit()`.
   * @param tempPath The temporary name being written.
   * @param file The open temporary file.
   */
  private constructor(
    /** Where the file goes on `commit()`. */
    readonly path: string,
    /** The temporary name being written (removed on abort). */
    readonly tempPath: string,
    file: Deno.FsFile,
  ) {
    this.#file = file;
  }

  /**
   * Creates the temporary file beside `path`, owner-only.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PrivateFileWriter } from "./private_file.ts";
   * const dir = await Deno.makeTempDir();
   * const writer = await PrivateFileWriter.open(`${dir}/a.txt`);
   * writer.writeSync("hello");
   * assert.equal(await writer.commit(), 5);
   * assert.equal(await Deno.readTextFile(`${dir}/a.txt`), "hello");
   * assert.equal((await Deno.stat(`${dir}/a.txt`)).mode! & 0o777, 0o600);
   * await Deno.remove(dir, { recursive: true });
   * ```
   *
   * @param path The file's final path.
   * @returns The writer.
   */
  static async open(path: string): Promise<PrivateFileWriter> {
    if (typeof path !== "string" || path === "" || path.endsWith("/")) {
      throw new TypeError(`Not a file path: "${String(path).slice(0, 200)}"`);
    }
    const slash = path.lastIndexOf("/");
    const dir = slash >= 0 ? path.slice(0, slash + 1) : "";
    const base = path.slice(slash + 1);
    const tempPath = `${dir}.${base}.partial-${randomHex(8)}`;
    const file = await Deno.open(tempPath, {
      write: true,
      createNew: true,
      mode: PRIVATE_MODE,
    });
    return new PrivateFileWriter(path, tempPath, file);
  }

  /** Bytes written so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Appends data, synchronously (a capture's chunks arrive in one burst and
   * are dropped as soon as they are on disk).
   *
   * @param data Text (UTF-8) or bytes.
   */
  writeSync(data: string | Uint8Array): void {
    const file = this.#file;
    if (!file) throw new Error("The file is already committed or aborted");
    const bytes = typeof data === "string" ? this.#encoder.encode(data) : data;
    let offset = 0;
    while (offset < bytes.length) {
      offset += file.writeSync(bytes.subarray(offset));
    }
    this.#bytes += bytes.length;
  }

  /**
   * Flushes, closes and renames the file into place.
   *
   * @returns Bytes written.
   */
  async commit(): Promise<number> {
    const file = this.#file;
    if (!file) throw new Error("The file is already committed or aborted");
    this.#file = undefined;
    try {
      await file.sync();
      file.close();
      await Deno.rename(this.tempPath, this.path);
    } catch (error) {
      closeQuietly(file);
      await removeQuietly(this.tempPath);
      throw error;
    }
    return this.#bytes;
  }

  /** Closes and removes the temporary file; safe to call more than once. */
  async abort(): Promise<void> {
    const file = this.#file;
    this.#file = undefined;
    if (file) {
      closeQuietly(file);
      await removeQuietly(this.tempPath);
    }
  }
}

/**
 * Writes a whole owner-only file: complete under its name, or not there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writePrivateFile } from "./private_file.ts";
 * const dir = await Deno.makeTempDir();
 * await writePrivateFile(`${dir}/graph.dot`, "digraph {}");
 * assert.equal(await Deno.readTextFile(`${dir}/graph.dot`), "digraph {}");
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param path The file.
 * @param data Text (UTF-8) or bytes.
 * @returns Bytes written.
 */
export async function writePrivateFile(
  path: string,
  data: string | Uint8Array,
): Promise<number> {
  const writer = await PrivateFileWriter.open(path);
  try {
    writer.writeSync(data);
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return await writer.commit();
}

/**
 * A fresh file name in `dir` (random, unused now); nothing is created, so a
 * refused or failed operation leaves nothing behind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { freshFileName } from "./private_file.ts";
 * assert.match(freshFileName("/tmp", "heap-", ".heapsnapshot"), /^\/tmp\/heap-[0-9a-f]{16}\.heapsnapshot$/);
 * ```
 *
 * @param dir The directory.
 * @param prefix Start of the name.
 * @param suffix End of the name.
 * @returns The path.
 */
export function freshFileName(
  dir: string,
  prefix: string,
  suffix: string,
): string {
  return `${dir.replace(/\/+$/, "")}/${prefix}${randomHex(8)}${suffix}`;
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

function closeQuietly(file: Deno.FsFile): void {
  try {
    file.close();
  } catch {
    // Already closed.
  }
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch {
    // Gone already, or never created.
  }
}
