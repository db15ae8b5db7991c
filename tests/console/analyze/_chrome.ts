/**
 * Heap snapshots of a leaking web page, taken from headless Chromium over
 * the DevTools protocol the way DevTools' Memory panel takes them
 * (`HeapProfiler.takeHeapSnapshot`, streamed in chunks). The page is served
 * from loopback; its script keeps every "visit" in a top-level `const seen`
 * array and a `var visitsByPath` object (a property of `window`). The page
 * makes its visits in its own tasks: a test only asks for them and waits
 * for the title to say they are done, so no evaluation of the test's holds
 * the page's objects when a snapshot is taken (V8 would list them under
 * "(Handle scope)").
 *
 * @module
 */

/** The Chromium binary Debian's `chromium` package installs. */
export const CHROMIUM = "chromium";

/** The page's script, as a site would ship it. */
export const APP_JS =
  `// Navigation history, kept for the "recently viewed" widget.
const seen = [];
var visitsByPath = {};

function onNavigate(i) {
  const visit = { path: "/users/" + i, at: new Date(), tags: ["t" + (i % 7)] };
  seen.push(visit);
  visitsByPath[visit.path] = { count: 1, first: visit.at.toISOString() };
}

// Called by the test harness: n more visits, in a task of the page's own.
function navigateLater(n) {
  setTimeout(() => {
    const from = seen.length;
    for (let i = from; i < from + n; i++) onNavigate(i);
    document.title = "visits " + seen.length;
  }, 0);
}

for (let i = 0; i < 200; i++) onNavigate(i);
document.title = "visits " + seen.length;
`;

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>loading</title>
<script src="/app.js"></script></head><body>users</body></html>`;

/** One step of {@linkcode chromeSnapshots}: visits to make, then a snapshot. */
export interface SnapshotStep {
  /** Visits the page makes first (none: snapshot at once). */
  visits?: number;
  /** Where the snapshot goes. */
  file: string;
}

interface Message {
  id?: number;
  method?: string;
  sessionId?: string;
  params?: { chunk?: string };
  result?: Record<string, unknown>;
  error?: { message: string };
}

/**
 * Opens the leaking page in headless Chromium and writes one snapshot per
 * step, in order, from that one page.
 *
 * @param steps What to run and where to write each snapshot.
 * @returns The page's origin (`http://127.0.0.1:PORT`), as script URLs in
 *   the snapshots start.
 */
export async function chromeSnapshots(steps: SnapshotStep[]): Promise<string> {
  const profile = await Deno.makeTempDir({ prefix: "chromium-profile-" });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) =>
      new URL(request.url).pathname === "/app.js"
        ? new Response(APP_JS, {
          headers: { "content-type": "text/javascript" },
        })
        : new Response(PAGE, { headers: { "content-type": "text/html" } }),
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const browser = new Deno.Command(CHROMIUM, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      "about:blank",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = browser.stderr.pipeThrough(new TextDecoderStream());
  const lines = stderr.getReader();
  let socket: WebSocket | undefined;
  try {
    const endpoint = await devtoolsEndpoint(lines);
    socket = new WebSocket(endpoint);
    const cdp = await connect(socket);
    const { targetId } = await cdp.send("Target.createTarget", { url: origin });
    const { sessionId } = await cdp.send("Target.attachToTarget", {
      targetId,
      flatten: true,
    });
    const session = sessionId as string;
    await cdp.send("Runtime.enable", {}, session);
    let visits = 200;
    const visited = () =>
      cdp.until(async () =>
        (await cdp.evaluate("document.title", session)) === `visits ${visits}`
      );
    await visited();
    await cdp.send("HeapProfiler.enable", {}, session);
    for (const step of steps) {
      if (step.visits) {
        visits += step.visits;
        await cdp.evaluate(`navigateLater(${step.visits})`, session);
        await visited();
      }
      await cdp.snapshot(step.file, session);
    }
    await cdp.send("Browser.close").catch(() => {});
  } finally {
    socket?.close();
    try {
      browser.kill("SIGKILL");
    } catch {
      // Already gone after Browser.close.
    }
    await browser.status;
    await lines.cancel().catch(() => {});
    await server.shutdown();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
  return origin;
}

/** Reads Chromium's stderr up to its `DevTools listening on ws://...` line. */
async function devtoolsEndpoint(
  lines: ReadableStreamDefaultReader<string>,
): Promise<string> {
  let text = "";
  for (;;) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`Chromium exited before listening:\n${text}`);
    text += value;
    const found = text.match(/DevTools listening on (ws:\/\/\S+)/);
    if (found) {
      // Keep draining stderr so that Chromium never blocks writing to it.
      (async () => {
        while (!(await lines.read().catch(() => ({ done: true }))).done) {
          // Discard.
        }
      })();
      return found[1]!;
    }
  }
}

interface Cdp {
  send(
    method: string,
    params?: Record<string, unknown>,
    sessionId?: string,
  ): Promise<Record<string, unknown>>;
  evaluate(expression: string, sessionId: string): Promise<unknown>;
  until(check: () => Promise<boolean>): Promise<void>;
  snapshot(file: string, sessionId: string): Promise<void>;
}

async function connect(socket: WebSocket): Promise<Cdp> {
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () =>
      reject(new Error("Cannot reach Chromium's DevTools"));
  });
  let nextId = 1;
  const pending = new Map<number, (message: Message) => void>();
  let onEvent: ((message: Message) => void) | undefined;
  socket.onmessage = (event) => {
    const message: Message = JSON.parse(event.data);
    if (message.id !== undefined) pending.get(message.id)?.(message);
    else onEvent?.(message);
  };
  const send: Cdp["send"] = (method, params = {}, sessionId) => {
    const id = nextId++;
    socket.send(JSON.stringify({ id, method, params, sessionId }));
    return new Promise((resolve, reject) => {
      pending.set(id, (message) => {
        pending.delete(id);
        if (message.error) {
          reject(new Error(`${method}: ${message.error.message}`));
        } else resolve(message.result ?? {});
      });
    });
  };
  return {
    send,
    async evaluate(expression, sessionId) {
      const reply = await send("Runtime.evaluate", {
        expression,
        returnByValue: true,
        awaitPromise: true,
      }, sessionId);
      const result = reply.result as { value?: unknown };
      return result.value;
    },
    async until(check) {
      const deadline = Date.now() + 60_000;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error("The page never loaded");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async snapshot(file, sessionId) {
      const out = await Deno.open(file, {
        write: true,
        create: true,
        truncate: true,
      });
      const encoder = new TextEncoder();
      const chunks: string[] = [];
      onEvent = (message) => {
        if (
          message.method === "HeapProfiler.addHeapSnapshotChunk" &&
          message.sessionId === sessionId
        ) {
          chunks.push(message.params!.chunk!);
        }
      };
      try {
        // The reply comes after the last chunk.
        await send("HeapProfiler.takeHeapSnapshot", {
          reportProgress: false,
        }, sessionId);
        for (const chunk of chunks) {
          const bytes = encoder.encode(chunk);
          let written = 0;
          while (written < bytes.length) {
            written += await out.write(bytes.subarray(written));
          }
        }
      } finally {
        onEvent = undefined;
        out.close();
      }
    },
  };
}
