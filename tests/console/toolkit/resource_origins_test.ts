import assert from "node:assert/strict";
import { traceResourceOrigins } from "../../../console/toolkit/resource_origins.ts";

const here = new URL(import.meta.url);

function openTemplate(): Deno.FsFile {
  return Deno.openSync(here);
}

async function connectTo(port: number): Promise<Deno.Conn> {
  return await Deno.connect({ hostname: "127.0.0.1", port });
}

Deno.test({
  name:
    "`traceResourceOrigins()` counts what is still open by the line that opened it, sync and async",
  sanitizeResources: false,
  async fn() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const trace = traceResourceOrigins();
    const kept: { close(): void }[] = [];
    try {
      for (let i = 0; i < 3; i++) kept.push(openTemplate());
      openTemplate().close();
      for (let i = 0; i < 2; i++) {
        kept.push(await connectTo((listener.addr as Deno.NetAddr).port));
        kept.push(await listener.accept());
      }
      const origins = await trace.finish(5);
      const source = await Deno.readTextFile(here);
      const lineOf = (text: string) =>
        source.split("\n").findIndex((l) => l.includes(text)) + 1;
      assert.deepEqual(
        origins.map((
          o,
        ) => [o.function, o.line, o.opener, o.types, o.open, o.opened]),
        [
          [
            "openTemplate",
            lineOf("return Deno.openSync(here)"),
            "Deno.openSync",
            ["fsFile"],
            3,
            4,
          ],
          [
            "connectTo",
            lineOf("return await Deno.connect("),
            "Deno.connect",
            ["tcpStream"],
            2,
            2,
          ],
        ],
      );
      assert.equal(
        origins[0]!.file,
        "tests/console/toolkit/resource_origins_test.ts",
      );
      assert.equal(origins[0]!.origin, "service");
      assert.match(
        origins[0]!.path,
        /resource_origins_test\.ts:\d+ › resource_origins_test\.ts:\d+$/,
      );
      // Deno's functions are its own again.
      assert.equal(Deno.openSync.name, "openSync");
      assert.doesNotMatch(Deno.openSync.toString(), /record/);
    } finally {
      for (const handle of kept) handle.close();
      listener.close();
    }
  },
});

Deno.test("`traceResourceOrigins()` leaves a wrapper installed by someone else in place", async () => {
  const trace = traceResourceOrigins();
  const theirs = Deno.openSync;
  const wrapped = function (...args: Parameters<typeof Deno.openSync>) {
    return theirs(...args);
  };
  Deno.openSync = wrapped;
  try {
    const file = Deno.openSync(here);
    file.close();
    assert.deepEqual(await trace.finish(5), []);
    assert.equal(Deno.openSync, wrapped);
  } finally {
    Deno.openSync = theirs;
  }
  // Ours stays inert inside theirs once finished.
  const file = Deno.openSync(here);
  file.close();
});
