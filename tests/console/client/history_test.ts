import assert from "node:assert/strict";
import { appendHistory, loadHistory } from "../../../console/client/history.ts";

Deno.test("appendHistory() creates an owner-only file and loadHistory() reads it back", async () => {
  const home = await Deno.makeTempDir();
  const path = `${home}/.leakwatch/console_history`;
  try {
    assert.deepEqual(await loadHistory(path), []);
    await appendHistory(path, "cache.size");
    await appendHistory(path, "   ");
    await appendHistory(path, "a\nb");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${home}/.leakwatch`)).mode! & 0o777, 0o700);
    assert.deepEqual(await loadHistory(path), ["cache.size", "a b"]);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("loadHistory() keeps the newest entries and trims the file to them", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/history`;
  try {
    await Deno.writeTextFile(path, "1\n2\n\n3\n4\n5\n", { mode: 0o644 });
    await Deno.chmod(path, 0o644);
    assert.deepEqual(await loadHistory(path, 3), ["3", "4", "5"]);
    assert.equal(await Deno.readTextFile(path), "3\n4\n5\n");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    await Deno.chmod(path, 0o644);
    assert.deepEqual(await loadHistory(path, 3), ["3", "4", "5"]);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
