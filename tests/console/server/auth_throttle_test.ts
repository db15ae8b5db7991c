import assert from "node:assert/strict";
import {
  type AuthAttempt,
  type AuthRefusal,
  AuthThrottle,
} from "../../../console/server/auth_throttle.ts";

function isRefusal(outcome: AuthAttempt | AuthRefusal): outcome is AuthRefusal {
  return "scope" in outcome;
}

Deno.test("AuthThrottle lets a peer fail its burst, then one more each refill", () => {
  const clock = { now: 0 };
  const throttle = new AuthThrottle(
    { burst: 3, perSecond: 0.5, overallBurst: 100, overallPerSecond: 10 },
    () => clock.now,
  );
  for (let i = 0; i < 3; i++) {
    assert.ok(!isRefusal(throttle.attempt("loopback")), `attempt ${i}`);
  }
  const refused = throttle.attempt("loopback");
  assert.ok(isRefusal(refused));
  assert.equal(refused.scope, "peer");
  assert.equal(refused.retryAfterMs, 2000);
  assert.deepEqual(throttle.check("loopback"), refused);
  clock.now = 1999;
  assert.ok(isRefusal(throttle.attempt("loopback")));
  clock.now = 2000;
  assert.ok(!isRefusal(throttle.attempt("loopback")));
  assert.ok(isRefusal(throttle.attempt("loopback")));
});

Deno.test("AuthThrottle gives a success its unit back: only failures spend", () => {
  const throttle = new AuthThrottle({ burst: 2, perSecond: 0 });
  for (let i = 0; i < 10; i++) {
    const attempt = throttle.attempt("unix socket");
    assert.ok(!isRefusal(attempt));
    attempt.succeeded();
    attempt.succeeded(); // once only
  }
  assert.ok(!isRefusal(throttle.attempt("unix socket")));
  assert.ok(!isRefusal(throttle.attempt("unix socket")));
  assert.ok(isRefusal(throttle.attempt("unix socket")));
});

Deno.test("AuthThrottle bounds all peers together: many addresses make no more guesses", () => {
  const clock = { now: 0 };
  const throttle = new AuthThrottle(
    { burst: 5, perSecond: 1, overallBurst: 20, overallPerSecond: 2 },
    () => clock.now,
  );
  let allowed = 0;
  for (let second = 0; second < 60; second++) {
    clock.now = second * 1000;
    for (let peer = 0; peer < 1000; peer++) {
      if (!isRefusal(throttle.attempt(`10.0.${peer >> 8}.${peer & 255}`))) {
        allowed++;
      }
    }
  }
  // The overall burst, then 2 a second.
  assert.equal(allowed, 20 + 59 * 2);
  const refused = throttle.check("10.9.9.9");
  assert.ok(refused !== undefined && refused.scope === "overall");
});

Deno.test("AuthThrottle remembers a bounded number of peers; forgetting one never lifts the overall budget", () => {
  const throttle = new AuthThrottle({
    burst: 1,
    perSecond: 0,
    overallBurst: 6000,
    overallPerSecond: 0,
  });
  assert.ok(!isRefusal(throttle.attempt("10.0.0.1")));
  assert.ok(isRefusal(throttle.attempt("10.0.0.1")));
  let allowed = 1;
  for (let i = 0; i < 10_000; i++) {
    if (!isRefusal(throttle.attempt(`2001:db8:${i.toString(16)}::/64`))) {
      allowed++;
    }
  }
  // 10.0.0.1 was forgotten to make room, but everyone's budget is spent.
  assert.equal(allowed, 6000);
  const refused = throttle.attempt("10.0.0.1");
  assert.ok(isRefusal(refused) && refused.scope === "overall");
});

Deno.test("AuthThrottle refuses impossible budgets", () => {
  for (
    const options of [
      { burst: 0 },
      { perSecond: -1 },
      { overallBurst: 0.5 },
      { overallPerSecond: NaN },
      { burst: Infinity },
    ]
  ) {
    assert.throws(() => new AuthThrottle(options), RangeError);
  }
});
