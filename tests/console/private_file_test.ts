import assert from "node:assert/strict";
import {
  freshFileName,
  PrivateFileWriter,
  writePrivateFile,
} from "../../console/private_file.ts";

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) out.push(entry.name);
  return out.sort();
}

Deno.test("`PrivateFileWriter` shows the file only when complete", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/snap.heapsnapshot`;
    const writer = await PrivateFileWriter.open(path);
    writer.writeSync('{"a":');
    writer.writeSync(new TextEncoder().encode("1}"));
    assert.equal(writer.bytes, 7);
    assert.deepEqual(await names(dir), [writer.tempPath.slice(dir.length + 1)]);
    assert.match(
      writer.tempPath,
      /\/\.snap\.heapsnapshot\.partial-[0-9a-f]{16}$/,
    );
    assert.equal((await Deno.stat(writer.tempPath)).mode! & 0o777, 0o600);
    assert.equal(await writer.commit(), 7);
    assert.deepEqual(await names(dir), ["snap.heapsnapshot"]);
    assert.equal(await Deno.readTextFile(path), '{"a":1}');
    assert.throws(() => writer.writeSync("x"), /already committed/);
    await assert.rejects(writer.commit(), /already committed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`PrivateFileWriter.abort()` removes the partial file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const writer = await PrivateFileWriter.open(`${dir}/a`);
    writer.writeSync("partial");
    await writer.abort();
    await writer.abort();
    assert.deepEqual(await names(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`writePrivateFile()` replaces a file whole and refuses bad paths", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/graph.dot`;
    await Deno.writeTextFile(path, "old");
    assert.equal(await writePrivateFile(path, "new content"), 11);
    assert.equal(await Deno.readTextFile(path), "new content");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    for (const bad of ["", `${dir}/`, 42 as unknown as string]) {
      await assert.rejects(writePrivateFile(bad, "x"), TypeError);
    }
    await assert.rejects(
      writePrivateFile(`${dir}/missing/x`, "x"),
      Deno.errors.NotFound,
    );
    assert.deepEqual(await names(dir), ["graph.dot"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`freshFileName()` names a new file without creating it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = freshFileName(`${dir}/`, "deno-heap-", ".heapsnapshot");
    const b = freshFileName(dir, "deno-heap-", ".heapsnapshot");
    assert.notEqual(a, b);
    assert.ok(a.startsWith(`${dir}/deno-heap-`));
    assert.deepEqual(await names(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
