import assert from "node:assert/strict";
import {
  describeResource,
  FDS_NEED_ALL,
  openHandles,
} from "../../../console/toolkit/process_handles.ts";

Deno.test({
  name: "`openHandles()` counts Deno resources by type as they open and close",
  sanitizeResources: false,
  async fn() {
    const before = openHandles();
    const file = await Deno.open(new URL(import.meta.url));
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: (listener.addr as Deno.NetAddr).port,
    });
    const accepted = await listener.accept();
    try {
      const during = openHandles();
      assert.equal(during.resources, before.resources + 4);
      assert.equal(during.byType.fsFile, (before.byType.fsFile ?? 0) + 1);
      assert.equal(
        during.byType.tcpStream,
        (before.byType.tcpStream ?? 0) + 2,
      );
      assert.equal(
        during.byType.tcpListener,
        (before.byType.tcpListener ?? 0) + 1,
      );
    } finally {
      file.close();
      conn.close();
      accepted.close();
      listener.close();
    }
    assert.deepEqual(openHandles().byType, before.byType);
  },
});

Deno.test("`openHandles()` says why descriptors are not counted without --allow-all", () => {
  // The test task grants --allow-read, which Deno 2.9 does not let read
  // /proc/self/fd.
  const handles = openHandles();
  assert.equal(handles.fds, null);
  assert.equal(handles.maxFds, null);
  assert.equal(handles.fdsProblem, FDS_NEED_ALL);
  assert.doesNotThrow(() => JSON.stringify(handles));
});

Deno.test("`describeResource()` names the Deno call behind a resource type", () => {
  assert.match(describeResource("fetchResponse"), /fetch\(\) responses/);
  assert.match(describeResource("tcpStream"), /Deno\.connect\(\)/);
  assert.equal(describeResource(""), `"" resources`);
});
