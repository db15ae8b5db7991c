import assert from "node:assert/strict";
import {
  cString,
  findLibc,
  libc,
  libcCandidates,
  libcPath,
} from "../../../console/toolkit/libc.ts";

const ROOT = new URL("../../../", import.meta.url);

Deno.test("`libcCandidates()` names glibc's soname in each usual directory, this architecture first", () => {
  const candidates = libcCandidates();
  assert.ok(
    candidates.every((p) => p.startsWith("/") && p.endsWith("/libc.so.6")),
  );
  assert.equal(candidates[0], `/lib/${Deno.build.arch}-linux-gnu/libc.so.6`);
  assert.equal(new Set(candidates).size, candidates.length);
});

Deno.test("`libc()` is null without --allow-ffi, and asks nothing", () => {
  // The test task grants no FFI; a prompt would hang here.
  assert.equal(libc(), null);
  assert.equal(libcPath(), null);
});

Deno.test("`cString()` ends text with one zero byte", () => {
  assert.deepEqual([...cString("")], [0]);
  assert.deepEqual([...cString("é")], [0xc3, 0xa9, 0]);
});

Deno.test({
  name: "libc.ts run as a script prints the path start:fork grants",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const run = async (read: string) => {
      const { code, stdout, stderr } = await new Deno.Command("deno", {
        args: ["run", `--allow-read=${read}`, "console/toolkit/libc.ts"],
        cwd: ROOT,
      }).output();
      return {
        code,
        out: new TextDecoder().decode(stdout).trim(),
        err: new TextDecoder().decode(stderr),
      };
    };
    const found = await run("/lib,/lib64,/usr/lib,/usr/lib64");
    assert.equal(found.code, 0);
    assert.equal(found.out, findLibc() ?? "/nonexistent/libc.so.6");
    // Without read permission it finds nothing, and prints a path that
    // cannot exist: an empty --allow-ffi= would grant FFI on everything.
    const blind = await run("/nonexistent");
    assert.equal(blind.code, 0);
    assert.equal(blind.out, "/nonexistent/libc.so.6");
    assert.match(blind.err, /fork capture is unavailable/);
  },
});
