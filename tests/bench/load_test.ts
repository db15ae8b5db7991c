import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

async function task(args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command("deno", {
    args: ["task", "-q", "load", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

Deno.test("deno task load --help prints the usage and exits 0", async () => {
  for (const flag of ["--help", "-h"]) {
    const { code, stdout } = await task([flag]);
    assert.equal(code, 0);
    assert.match(stdout, /^Usage: deno task load /);
    assert.match(stdout, /--concurrency N/);
  }
});

Deno.test("deno task load rejects a bad flag with exit 2", async () => {
  const { code, stderr } = await task(["--requests", "zero"]);
  assert.equal(code, 2);
  assert.match(stderr, /^error: --requests must be a positive integer/);
});
