/**
 * Child process of capture_cost_test.ts: grows one heap shape, captures it
 * once through `capture()` (in a child when FFI is granted), and prints
 * the admission estimate and the measured peak as JSON. In-process, the
 * peak is sampled every 5 ms from a worker (the main thread is blocked).
 */

import { capture } from "../../../console/toolkit/capture.ts";
import {
  captureStats,
  closeToolkitState,
  exclusive,
  post,
} from "../../../console/toolkit/toolkit_state.ts";

class Account {
  constructor(
    readonly id: string,
    readonly owner: string,
    readonly email: string,
    readonly balance: number,
  ) {}
}

function hex(i: number): string {
  return i.toString(16).padStart(8, "0").repeat(8);
}

const kept: unknown[] = [];
const shape = Deno.args[0];
switch (shape) {
  case "objects":
    for (let i = 0; i < 150_000; i++) {
      kept.push({ seq: i, kind: i % 3 ? "view" : "click", at: 1.7e12 + i });
    }
    break;
  case "map": {
    const accounts = new Map<string, Account>();
    for (let i = 0; i < 30_000; i++) {
      accounts.set(hex(i), new Account(hex(i), `Owner ${i}`, `o${i}@x.io`, i));
    }
    kept.push(accounts);
    break;
  }
  case "set":
    kept.push(
      new Set(Array.from({ length: 40_000 }, (_, i) => `sid:${hex(i)}`)),
    );
    break;
  case "strings":
    for (let i = 0; i < 24; i++) {
      const bytes = new Uint8Array(512 * 1024).map((_, k) =>
        97 + (k * 7 + i) % 26
      );
      kept.push(new TextDecoder().decode(bytes));
    }
    break;
  default:
    throw new TypeError(`Unknown shape "${shape}"`);
}

const sampler = new Worker(
  `data:application/javascript,${
    encodeURIComponent(`let peak = 0, t;
      self.onmessage = ({ data }) => {
        if (data === "start") {
          peak = Deno.memoryUsage().rss;
          t = setInterval(() => { peak = Math.max(peak, Deno.memoryUsage().rss); }, 5);
          self.postMessage(0);
        } else { clearInterval(t); self.postMessage(peak); }
      };`)
  }`,
  { type: "module" },
);
const ask = (message: string) =>
  new Promise<number>((resolve) => {
    sampler.onmessage = (event) => resolve(event.data);
    sampler.postMessage(message);
  });

await post("HeapProfiler.collectGarbage");
const before = Deno.memoryUsage().rss;
await ask("start");
await exclusive(async () => {
  const taken = await capture("a test", () => {});
  taken.chunks.length = 0;
});
const sampled = await ask("stop");
sampler.terminate();
const stats = captureStats();
const first = {
  shape,
  mode: stats.lastMode,
  estimate: stats.lastEstimate,
  source: stats.lastEstimateSource,
  peak: stats.lastMode === "fork" ? stats.lastPeak : sampled - before,
  kept: kept.length,
};
// In a child, the first capture is a guess from the heap's size: a second
// one is estimated from the first snapshot (the child's peak needs no
// sampler here).
let second: typeof first | undefined;
if (stats.lastMode === "fork") {
  await exclusive(async () => {
    const taken = await capture("a test", () => {});
    taken.chunks.length = 0;
  });
  const again = captureStats();
  second = {
    ...first,
    estimate: again.lastEstimate,
    source: again.lastEstimateSource,
    peak: again.lastPeak,
  };
}
console.log(JSON.stringify({ ...first, second }));
await closeToolkitState();
