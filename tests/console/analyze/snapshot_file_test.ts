/**
 * Hostile and broken input to `main.ts analyze`, as a user's shell hands it
 * over: every file that is not a readable, complete V8 heap snapshot, and
 * every bad flag, gives one `error: ...` line on stderr and exit code 2,
 * never a stack trace. Gzipped snapshots are read as they are.
 */

import assert from "node:assert/strict";
import { readSnapshotFile } from "../../../console/analyze/snapshot_file.ts";
import { UsageError } from "../../../console/flags.ts";
import { analyze } from "./_snapshots.ts";
import { CHROME_FIXTURE } from "./make_chrome_fixture.ts";

const encoder = new TextEncoder();

/** The checked-in Chrome snapshot, as text. */
async function fixtureText(): Promise<string> {
  const file = await Deno.open(CHROME_FIXTURE);
  const text = await new Response(
    file.readable.pipeThrough(new DecompressionStream("gzip")),
  ).text();
  return text;
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Asserts the one-line error contract and returns the line. */
function oneError(
  result: { code: number; stdout: string; stderr: string },
  pattern: RegExp,
): void {
  assert.equal(result.code, 2, result.stderr);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /^error: [^\n]+\n$/, result.stderr);
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at |Stack backtrace|Uncaught/);
}

Deno.test("`analyze` gives one error line and exit 2 for each broken file", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "analyze-hostile-" });
  try {
    const text = await fixtureText();
    const write = async (name: string, data: string | Uint8Array) => {
      const path = `${dir}/${name}`;
      await Deno.writeFile(
        path,
        typeof data === "string" ? encoder.encode(data) : data,
      );
      return path;
    };
    const good = await write("good.heapsnapshot", text);
    const cases: [string, () => Promise<string>, RegExp][] = [
      [
        "a missing file",
        () => Promise.resolve(`${dir}/nope.heapsnapshot`),
        /nope\.heapsnapshot: no such file$/m,
      ],
      ["a directory", () => Promise.resolve(dir), /is a directory$/m],
      [
        "an empty file",
        () => write("empty.heapsnapshot", ""),
        /is empty: not a heap snapshot/,
      ],
      [
        "other JSON",
        () => write("other.json", '{"head":{"callFrame":{}},"samples":[]}'),
        /is not a V8 heap snapshot: it does not start with \{"snapshot":/,
      ],
      [
        "random bytes",
        () =>
          write("random.bin", crypto.getRandomValues(new Uint8Array(50_000))),
        /is not a V8 heap snapshot/,
      ],
      [
        "a gzipped non-snapshot",
        async () =>
          write("text.gz", await gzip(encoder.encode("hello ".repeat(1000)))),
        /is not a V8 heap snapshot \(once gunzipped\)/,
      ],
      [
        "a truncated snapshot",
        () => write("half.heapsnapshot", text.slice(0, text.length >> 1)),
        /half\.heapsnapshot: Heap snapshot ended early \(after \d+ characters\)/,
      ],
      ["a truncated gzip file", async () => {
        const whole = await Deno.readFile(CHROME_FIXTURE);
        return write(
          "half.heapsnapshot.gz",
          whole.subarray(0, whole.length >> 1),
        );
      }, /half\.heapsnapshot\.gz: /],
      [
        "text after the snapshot",
        () => write("trailing.heapsnapshot", `${text}\n{"more": 1}`),
        /Unexpected text after the heap snapshot/,
      ],
      [
        "no meta block",
        () => write("nometa.heapsnapshot", text.replace('"meta":', '"meat":')),
        /has no snapshot\.meta block/,
      ],
      [
        "meta without an id field",
        () =>
          write(
            "noid.heapsnapshot",
            text.replace(
              '"node_fields":["type","name","id"',
              '"node_fields":["type","name","ident"',
            ),
          ),
        /has no "id" field/,
      ],
      [
        "meta with one field too many",
        () =>
          write(
            "extra.heapsnapshot",
            text.replace(
              '"node_fields":["type",',
              '"node_fields":["extra","type",',
            ),
          ),
        /arrays do not match its meta|edge counts add up|bad offset/,
      ],
      [
        "node types that are not a list",
        () =>
          write(
            "types.heapsnapshot",
            text.replace(/"node_types":\[\[[^\]]*\]/, '"node_types":["object"'),
          ),
        /Heap snapshot meta has no node type names/,
      ],
      [
        "a node count no memory holds",
        () =>
          write(
            "count.heapsnapshot",
            text.replace(/"node_count":\d+/, '"node_count":1000000000000'),
          ),
        /count\.heapsnapshot: too large to hold in memory/,
      ],
      [
        "a device that never ends",
        () => Promise.resolve("/dev/zero"),
        /\/dev\/zero is not a V8 heap snapshot/,
      ],
      [
        "an edge into nowhere",
        () =>
          write(
            "edge.heapsnapshot",
            text.replace(
              /"edges":\[(\d+),(\d+),(\d+)/,
              '"edges":[$1,$2,4294967290',
            ),
          ),
        /edge points at bad offset/,
      ],
    ];
    for (const [name, make, pattern] of cases) {
      await t.step(name, async () => {
        oneError(await analyze([await make()]), pattern);
      });
    }
    await t.step(
      "a file this run may not read (--allow-read elsewhere)",
      async () => {
        const { code, stdout, stderr } = await new Deno.Command("deno", {
          args: [
            "run",
            `--allow-read=${dir}/empty.heapsnapshot`,
            "main.ts",
            "analyze",
            good,
          ],
          cwd: new URL("../../../", import.meta.url),
          env: { NO_COLOR: "1" },
        }).output();
        const decode = (b: Uint8Array) => new TextDecoder().decode(b);
        oneError(
          { code, stdout: decode(stdout), stderr: decode(stderr) },
          /good\.heapsnapshot: not readable under this run's permissions \(deno run --allow-read=/,
        );
      },
    );
    await t.step({
      name: "a file the user may not read (mode 000)",
      // root reads any file whatever its mode.
      ignore: Deno.uid() === 0,
      fn: async () => {
        const locked = await write("locked.heapsnapshot", text);
        await Deno.chmod(locked, 0o000);
        oneError(
          await analyze([locked]),
          /locked\.heapsnapshot: permission denied/,
        );
      },
    });
    await t.step("the same snapshot twice: nothing is new", async () => {
      const same = await analyze([good, good]);
      assert.equal(same.code, 0, same.stderr);
      assert.match(same.stdout, /no new objects alive since the baseline/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`analyze` reads a huge string, non-UTF-8 bytes and a gzipped snapshot", async () => {
  const dir = await Deno.makeTempDir({ prefix: "analyze-big-" });
  try {
    const text = await fixtureText();
    // A 64 MiB string with escapes, cut by every read of the file.
    const huge = '"' + 'a\\"b\\\\c\\u00e9'.repeat(64 << 20 >> 4) + '",';
    const withHuge = text.replace('"strings":[', `"strings":[${huge}`);
    const path = `${dir}/huge.heapsnapshot`;
    await Deno.writeTextFile(path, withHuge);
    // Invalid UTF-8 inside a string: shown as U+FFFD, nothing else changes.
    const bytes = encoder.encode(
      text.replace('"strings":[', '"strings":["\u0001",'),
    );
    const bad = bytes.indexOf(1);
    bytes[bad] = 0xff;
    const latin = `${dir}/latin.heapsnapshot`;
    await Deno.writeFile(latin, bytes);
    for (const file of [path, latin, CHROME_FIXTURE.pathname]) {
      const { code, stdout, stderr } = await analyze([
        file,
        "--json",
        "-n",
        "2",
      ]);
      assert.equal(code, 0, stderr);
      assert.equal(JSON.parse(stdout).largest.length, 2);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`readSnapshotFile()` says gzip and its size, and throws UsageError for a bad file", async () => {
  const file = await readSnapshotFile(CHROME_FIXTURE.pathname);
  assert.equal(file.gzip, true);
  assert.equal(file.bytes, (await Deno.stat(CHROME_FIXTURE)).size);
  assert.ok(file.raw.nodeCount > 10_000);
  await assert.rejects(
    () => readSnapshotFile("/nonexistent/x.heapsnapshot"),
    (error) =>
      error instanceof UsageError &&
      error.message === "/nonexistent/x.heapsnapshot: no such file",
  );
});

Deno.test("`analyze` flags: one error line and exit 2 for each mistake", async (t) => {
  const file = CHROME_FIXTURE.pathname;
  const cases: [string[], RegExp][] = [
    [[], /no snapshot file given/],
    [[file, "--bogus"], /Unknown option '--bogus'/],
    [
      [file, "--rows", "0"],
      /--rows must be an integer from 1 to 100000: received "0"/,
    ],
    [[file, "--rows", "ten"], /--rows must be an integer/],
    [[file, file, file, file], /takes one, two or three snapshot files, got 4/],
    [[file, file, "--path", "@1"], /--path takes one snapshot file, got 2/],
    [[file, "--path", "@1", "--graph", "@1"], /cannot be used together/],
    [[file, "--depth", "3"], /--depth goes with --graph/],
    [
      [file, "--graph", "@1", "--depth", "99"],
      /--depth must be an integer from 1 to 50/,
    ],
    [[file, "--path", "@99999999999"], /no snapshot id is that large/],
    [[file, "--path", ""], /--path takes @ID or a type name/],
    [[file, "--path", "NoSuchType"], /no live object of type "NoSuchType" in /],
  ];
  for (const [args, pattern] of cases) {
    await t.step(
      args.join(" ").replaceAll(file, "FILE") || "(none)",
      async () => {
        oneError(await analyze(args), pattern);
      },
    );
  }
  await t.step("--help", async () => {
    const { code, stdout } = await analyze(["--help"]);
    assert.equal(code, 0);
    assert.match(stdout, /^Usage: main\.ts analyze/);
  });
});
