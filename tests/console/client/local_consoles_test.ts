/**
 * `main.ts console --list` and `--pid` against real services, with the
 * `console` task's permissions: how an operator finds a console without
 * knowing its port.
 */

import assert from "node:assert/strict";
import { exists } from "../../_files.ts";
import { runMain, startServe } from "../../_process.ts";

const HOME = Deno.env.get("HOME")!;

function client(args: string[]) {
  return runMain(["console", ...args], { task: "console" });
}

/** The `--list` row of `pid`, split into its columns. */
function rowOf(list: string, pid: number): string[] | undefined {
  return list.split("\n")
    .find((line) => line.trim().split(/\s{2,}/)[0] === String(pid))
    ?.trim().split(/\s{2,}/);
}

Deno.test("`main.ts console --list` and `--pid` find services by pid; a killed one is reported stale and swept", async () => {
  const one = await startServe(["--console-port", "0"]);
  const two = await startServe(["--console-port", "0"]);
  let twoStopped = false;
  try {
    const ports = [] as number[];
    for (const service of [one, two]) {
      const line = await service.stdout.waitFor(/^console listening on /);
      ports.push(Number(line.match(/:(\d+)$/)![1]));
    }
    const list = await client(["--list"]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(
      list.stdout,
      /^\s*pid\s+program\s+endpoint\s+state\s+started$/m,
    );
    for (const [i, service] of [one, two].entries()) {
      const row = rowOf(list.stdout, service.child.pid);
      assert.deepEqual(row?.slice(0, 4), [
        String(service.child.pid),
        "leakwatch",
        `127.0.0.1:${ports[i]}`,
        "alive",
      ], list.stdout);
      assert.match(row![4]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }

    const json = await client(["--list", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const entries = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const mine = entries.find((e) => e.pid === two.child.pid);
    assert.deepEqual(mine, {
      pid: two.child.pid,
      state: "alive",
      program: "leakwatch",
      endpoint: { host: "127.0.0.1", port: ports[1] },
      tokenFile: `${HOME}/.leakwatch/console/tcp-${ports[1]}.token`,
      startedAt: mine.startedAt,
    });

    const asked = await client([
      "--pid",
      String(two.child.pid),
      "-e",
      "cache.size",
    ]);
    assert.deepEqual(asked, { code: 0, stdout: "0\n", stderr: "" });

    // SIGKILL: no cleanup runs; the entry and the token file stay behind.
    two.child.kill("SIGKILL");
    await two.finish();
    twoStopped = true;
    const entry = `${HOME}/.leakwatch/consoles/${two.child.pid}.json`;
    const token = `${HOME}/.leakwatch/console/tcp-${ports[1]}.token`;
    assert.ok(await exists(entry) && await exists(token));

    const gone = await client(["--pid", String(two.child.pid), "-e", "1"]);
    assert.equal(gone.code, 2);
    assert.equal(
      gone.stderr,
      `error: no console in process ${two.child.pid}: the process is gone and left its entry ${entry} behind (removed now)\n`,
    );
    assert.equal(await exists(entry), false);
    assert.equal(await exists(token), false);

    const after = await client(["--list"]);
    assert.equal(rowOf(after.stdout, two.child.pid), undefined, after.stdout);
    assert.equal(rowOf(after.stdout, one.child.pid)?.[3], "alive");
  } finally {
    one.child.kill("SIGTERM");
    assert.equal((await one.finish()).code, 0);
    if (!twoStopped) {
      two.child.kill("SIGTERM");
      await two.finish();
    }
  }
  // A service stopped by SIGTERM removes its own entry.
  assert.equal(
    await exists(`${HOME}/.leakwatch/consoles/${one.child.pid}.json`),
    false,
  );
});

Deno.test("`main.ts console --list` marks an entry whose process died stale (removed)", async () => {
  const service = await startServe(["--console-port", "0"]);
  await service.stdout.waitFor(/^console listening on /);
  service.child.kill("SIGKILL");
  await service.finish();
  const list = await client(["--list"]);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(rowOf(list.stdout, service.child.pid)?.[3], "stale (removed)");
  const again = await client(["--list"]);
  assert.equal(rowOf(again.stdout, service.child.pid), undefined);
});

Deno.test("`main.ts console --pid` of a process without a console says so in one line, exit 2", async () => {
  const result = await client(["--pid", "4194304", "-e", "1"]);
  assert.deepEqual(result, {
    code: 2,
    stdout: "",
    stderr:
      "error: no console in process 4194304: no entry $HOME/.leakwatch/consoles/4194304.json (--list shows the consoles running)\n",
  });
  const json = await client(["--pid", "4194304", "--json", "-e", "1"]);
  assert.equal(json.code, 2);
  assert.equal(JSON.parse(json.stdout).error.name, "ConnectionError");
});
