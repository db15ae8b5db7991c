/**
 * `deno task compile`: runs `deno compile` with the given arguments, plus an
 * `--exclude` for the one npm file that crashes Deno 2.9's embedding step.
 *
 * `prom-client` → `tdigest` → `bintrees@1.0.2` ships `test/perf/100k`, a
 * 2 MB extensionless file of numbers; embedding it overflows the stack of
 * `deno compile` (denoland/deno#36746, a 2.9 regression). `--exclude` takes
 * plain paths only, inside Deno's npm cache, whose place differs between
 * machines (`DENO_DIR`, OS): `deno info --json` says where it is.
 *
 * Run: deno run --allow-run=deno .ci/compile.ts [deno compile arguments]
 *
 * @module
 */

/** The package directory whose test data breaks `deno compile`. */
export const CRASHING_DIR = "registry.npmjs.org/bintrees/1.0.2/test";

/**
 * Asks `deno info --json` for Deno's npm cache directory.
 *
 * @returns The absolute path of the npm cache.
 */
export async function npmCacheDir(): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command("deno", {
    args: ["info", "--json"],
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  if (!success) {
    throw new Error(`deno info --json failed: ${decoder.decode(stderr)}`);
  }
  const info = JSON.parse(decoder.decode(stdout));
  if (typeof info.npmCache !== "string") {
    throw new Error("deno info --json gave no npmCache");
  }
  return info.npmCache;
}

if (import.meta.main) {
  const exclude = `${await npmCacheDir()}/${CRASHING_DIR}`;
  const { code } = await new Deno.Command("deno", {
    args: ["compile", "--exclude", exclude, ...Deno.args],
  }).spawn().status;
  Deno.exit(code);
}
