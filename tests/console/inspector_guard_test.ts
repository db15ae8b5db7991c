import assert from "node:assert/strict";
import { type MainProcess, startServe } from "../_process.ts";

// Deno's SIGUSR1 inspector always binds 127.0.0.1:9229, a port the whole
// machine shares: these tests wait while another process holds it, retry
// when it was taken under them, and skip (saying so) if it never frees.

const PORT = 9229;
const FREE_PORT_WAIT_MS = 60_000;

/** The inspector targets listening on 9229, or `undefined` when nothing listens. */
async function targets(): Promise<{ title: string }[] | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${PORT}/json/list`);
    return await response.json();
  } catch {
    return undefined;
  }
}

/** Whether something accepts connections on 9229 now. */
async function portTaken(): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port: PORT })).close();
    return true;
  } catch {
    return false;
  }
}

/** Waits until 9229 is free; `false` if it stays taken for a minute. */
async function untilPortFree(): Promise<boolean> {
  const deadline = Date.now() + FREE_PORT_WAIT_MS;
  while (await portTaken()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return true;
}

/**
 * Sends SIGUSR1 until one opens Deno's inspector (Deno listens for it only
 * ~500 ms after start, and another process may grab the port), and returns
 * the stderr line matching `outcome` that follows; `undefined` to skip.
 */
async function signalUntilOpened(
  service: MainProcess,
  outcome: RegExp,
): Promise<string | undefined> {
  for (let attempt = 0; attempt < 20; attempt++) {
    if (!await untilPortFree()) return undefined;
    service.child.kill("SIGUSR1");
    // No line at all (an allowed signal before Deno listens) is a retry.
    const line = await service.stderr.waitFor(
      new RegExp(`${outcome.source}|none opened|Failed to start inspector`),
      10_000,
    ).catch(() => "");
    if (outcome.test(line)) return line;
  }
  throw new Error(
    `SIGUSR1 never opened the inspector:\n${service.stderr.text}`,
  );
}

function skip(reason: string): void {
  console.warn(`skipped: ${reason}`);
}

Deno.test("main.ts serve closes the inspector SIGUSR1 opens, logs why, and keeps serving", async () => {
  const service = await startServe(["--no-console"]);
  try {
    const line = await signalUntilOpened(
      service,
      /^SIGUSR1.*: refused the V8 inspector Deno opened/,
    );
    if (line === undefined) {
      return skip(`port ${PORT} held by another process for a minute`);
    }
    // It really opened: Deno said so before the guard closed it.
    assert.match(
      service.stderr.text,
      /Debugger listening on ws:\/\/127\.0\.0\.1:9229\//,
    );
    assert.match(
      line,
      /refused the V8 inspector Deno opened on 127\.0\.0\.1:9229, closed [\d.]+ ms after the signal: it lets anyone on this machine run code in this process; start with --allow-inspector-signal to allow it$/,
    );
    // Closed: nothing answers on 9229, or not this process.
    const listed = await targets();
    assert.ok(
      !listed?.some((t) => t.title.includes(`pid: ${service.child.pid}`)),
      JSON.stringify(listed),
    );
    const health = await fetch(`${service.url}healthz`);
    assert.deepEqual(await health.json(), { status: "ok" });
    // A burst is one watch and one line.
    if (await untilPortFree()) {
      for (let i = 0; i < 3; i++) service.child.kill("SIGUSR1");
      assert.match(
        await service.stderr.waitFor(/^SIGUSR1/, 30_000),
        /^SIGUSR1( \(×\d\))?: refused/,
      );
      assert.ok(
        !(await targets())?.some((t) =>
          t.title.includes(`pid: ${service.child.pid}`)
        ),
      );
    }
  } finally {
    service.child.kill("SIGTERM");
    const { code, stderr } = await service.finish();
    assert.equal(code, 0, stderr);
  }
});

Deno.test("main.ts serve --allow-inspector-signal lets SIGUSR1 open the inspector, and says so", async () => {
  const service = await startServe([
    "--no-console",
    "--allow-inspector-signal",
  ]);
  try {
    const opened = await signalUntilOpened(service, /^Debugger listening/);
    if (opened === undefined) {
      return skip(`port ${PORT} held by another process for a minute`);
    }
    assert.match(
      service.stderr.text,
      /SIGUSR1: Deno opens the V8 inspector on 127\.0\.0\.1:9229 as allowed/,
    );
    const listed = await targets();
    assert.ok(
      listed?.some((t) => t.title.includes(`pid: ${service.child.pid}`)),
      JSON.stringify(listed),
    );
    assert.equal((await fetch(`${service.url}healthz`)).status, 200);
  } finally {
    service.child.kill("SIGTERM");
    const { code, stderr } = await service.finish();
    assert.equal(code, 0, stderr);
  }
});
