/**
 * Child process of release_memory_test.ts: one capture of a ~28 MiB heap,
 * then prints the capture's RSS figures as JSON.
 */

import {
  captureToFile,
  SNAPSHOT_TAKERS,
} from "../../../console/toolkit/capture.ts";
import { mem } from "../../../console/toolkit/memory.ts";
import {
  captureStats,
  closeToolkitState,
  exclusive,
} from "../../../console/toolkit/toolkit_state.ts";

const kept: unknown[] = [];
for (let i = 0; i < 200_000; i++) kept.push({ i, s: `item ${i}`, t: { n: i } });
// In-process even where FFI would allow a child: what is measured is the
// memory an in-process capture leaves.
await exclusive(() =>
  captureToFile("a test", `${Deno.args[0]}/child.heapsnapshot`, () => {}, {
    taker: SNAPSHOT_TAKERS["in-process"],
  })
);
const report = mem();
console.log(JSON.stringify({
  stats: captureStats(),
  lastCapture: report.lastCapture,
  text: Deno.inspect(report),
  kept: kept.length,
}));
await closeToolkitState();
