/**
 * Console output to a client that does not read: a snippet prints
 * `--chars` characters (lines of 1 000, or one string with `--single`) on
 * a real `main.ts serve`, while a raw JSON-lines client reads nothing until
 * the service has logged the evaluation's end. Then it reads everything and
 * counts the characters delivered and those the drop notes account for:
 * with nothing lost, delivered + noted = printed.
 *
 * Run: deno run --allow-run=deno --allow-net=127.0.0.1 --allow-read --allow-env=HOME bench/output_drop_bench.ts [--chars 200000000] [--single]
 *
 * @module
 */

import { benchFlags } from "./_flags.ts";
import { LineReader } from "../console/line_reader.ts";
import { answerChallenge } from "../console/token.ts";
import { startServe } from "../tests/_process.ts";

const flags = benchFlags(Deno.args, { chars: 200_000_000, single: false });
const TOKEN = "drop-bench-" + crypto.randomUUID();
const NOTE =
  /^… \((\d+) characters of output dropped: the client did not read fast enough\)\n$/;

const service = await startServe(["--console-port", "0"], {
  env: { CONSOLE_TOKEN: TOKEN },
});
try {
  const port = Number(
    (await service.stdout.waitFor(/^console listening on /)).match(
      /:(\d+)$/,
    )![1],
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const reader = new LineReader(conn, 64 * 1024 * 1024);
  const encoder = new TextEncoder();
  const send = async (message: unknown) => {
    const data = encoder.encode(JSON.stringify(message) + "\n");
    for (let at = 0; at < data.length;) {
      at += await conn.write(data.subarray(at));
    }
  };
  const next = async () => {
    const event = await reader.next();
    if (event.kind !== "line") throw new Error(`connection: ${event.kind}`);
    return JSON.parse(event.line);
  };
  await send({ op: "hello", version: 2 });
  const challenge = await next();
  await send({
    op: "auth",
    answer: await answerChallenge(TOKEN, challenge.nonce),
  });
  await next(); // hello
  const lines = flags.chars / 1000;
  const code = flags.single
    ? `console.log("x".repeat(${flags.chars - 1})); 'printed'`
    : `for (let i = 0; i < ${lines}; i++) console.log("x".repeat(999)); 'printed'`;
  const started = performance.now();
  await send({ op: "eval", id: 1, code });
  // Read nothing until the service says the evaluation ended.
  const logged = await Promise.race([
    service.stdout.waitFor(/ eval \d+ chars .* ok$/, 600_000),
    service.stderr.waitFor(/ eval \d+ chars .* ok$/, 600_000),
  ]);
  const evaluatedMs = performance.now() - started;
  let delivered = 0;
  let noted = 0;
  let notes = 0;
  while (true) {
    const reply = await next();
    if (reply.type === "output") {
      const note = NOTE.exec(reply.text);
      if (note) {
        noted += Number(note[1]);
        notes++;
      } else {
        delivered += reply.text.length;
      }
    }
    if (reply.type === "result" || reply.type === "error") break;
  }
  conn.close();
  console.log(`service log: ${logged.trim()}`);
  console.log(
    `| printed | delivered | noted (notes) | lost | evaluation |\n|---:|---:|---:|---:|---:|\n` +
      `| ${flags.chars} | ${delivered} | ${noted} (${notes}) | ${
        flags.chars - delivered - noted
      } | ${(evaluatedMs / 1000).toFixed(1)} s |`,
  );
} finally {
  service.child.kill("SIGTERM");
  await service.finish();
}
