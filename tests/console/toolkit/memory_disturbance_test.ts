import assert from "node:assert/strict";
import {
  beginDisturbance,
  lastDisturbance,
  MAX_DISTURBANCE_MS,
  recentDisturbance,
} from "../../../console/toolkit/memory_disturbance.ts";

Deno.test("`recentDisturbance()` reports one while it runs, then for `settleMs` after it ends", () => {
  const end = beginDisturbance("heap capture");
  const running = recentDisturbance(0);
  assert.equal(running?.reason, "heap capture");
  assert.equal(running?.ended, undefined);
  end();
  end(); // a second end changes nothing
  const ended = lastDisturbance()!;
  assert.equal(ended.reason, "heap capture");
  assert.ok(ended.ended! >= ended.started);
  assert.equal(recentDisturbance(60_000)?.reason, "heap capture");
  assert.equal(recentDisturbance(10, ended.ended! + 11), undefined);
});

Deno.test("`recentDisturbance()` reports the running one while another has ended, and expires one never ended", () => {
  const endFirst = beginDisturbance("first");
  const endSecond = beginDisturbance("second");
  endFirst();
  assert.equal(recentDisturbance(0)?.reason, "second");
  endSecond();
  const forgotten = beginDisturbance("never ended");
  const started = recentDisturbance(0)!.started;
  assert.equal(recentDisturbance(0, started + 1000)?.reason, "never ended");
  // Past the longest allowed, it counts as ended then.
  const later = started + MAX_DISTURBANCE_MS + 1;
  assert.equal(recentDisturbance(0, later), undefined);
  assert.equal(lastDisturbance()?.reason, "never ended");
  assert.equal(lastDisturbance()?.ended, started + MAX_DISTURBANCE_MS);
  forgotten(); // too late: nothing changes
  assert.equal(lastDisturbance()?.ended, started + MAX_DISTURBANCE_MS);
});
