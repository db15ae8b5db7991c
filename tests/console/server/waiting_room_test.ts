import assert from "node:assert/strict";
import { WaitingRoom } from "../../../console/server/waiting_room.ts";

/** A room on a clock the test moves, recording who was pushed out. */
function room(capacity: number, minStayMs = 250) {
  const clock = { now: 0 };
  const evicted: string[] = [];
  const waiting = new WaitingRoom<string>({
    capacity,
    minStayMs,
    now: () => clock.now,
  });
  const enter = (key: string, peer = "loopback") =>
    waiting.enter(key, peer, (stage) => evicted.push(`${key} (${stage})`));
  return { clock, evicted, waiting, enter };
}

Deno.test("WaitingRoom pushes out a connection told its token was wrong first, then a silent one, then one answering the challenge", () => {
  const { clock, evicted, waiting, enter } = room(3);
  enter("answering");
  waiting.advance("answering", "greeted");
  enter("silent");
  enter("wrong");
  waiting.advance("wrong", "failed");
  clock.now = 1000;
  enter("new 1");
  enter("new 2");
  clock.now = 2000;
  enter("new 3");
  assert.deepEqual(evicted, [
    "wrong (failed)",
    "silent (silent)",
    "new 1 (silent)",
  ]);
  assert.equal(waiting.size, 3);
  // Only when no one else is left does an answering connection go.
  waiting.advance("new 2", "greeted");
  waiting.advance("new 3", "greeted");
  clock.now = 3000;
  enter("new 4");
  assert.equal(evicted.at(-1), "answering (greeted)");
});

Deno.test("WaitingRoom never pushes out a connection before its time: the newcomer waits", () => {
  const { clock, evicted, waiting, enter } = room(2, 250);
  enter("a");
  clock.now = 100;
  enter("b");
  assert.equal(waiting.waitMs(), 150, "until a has had 250 ms");
  clock.now = 250;
  assert.equal(waiting.waitMs(), 0);
  enter("c");
  assert.deepEqual(evicted, ["a (silent)"]);
  // A stage change starts a new stay: b said hello at 300.
  clock.now = 300;
  waiting.advance("b", "greeted");
  clock.now = 400;
  assert.equal(waiting.waitMs(), 100, "until c has had 250 ms");
  clock.now = 500;
  enter("d");
  assert.deepEqual(evicted, ["a (silent)", "c (silent)"]);
  clock.now = 540;
  // The silent one goes before the one answering, once it has had its time.
  assert.equal(waiting.waitMs(), 210, "until d has had 250 ms");
  // One told its token was wrong may go at once.
  waiting.advance("d", "failed");
  assert.equal(waiting.waitMs(), 0);
});

Deno.test("WaitingRoom takes from the peer holding the most: a flood from one address pushes out its own", () => {
  const { clock, evicted, waiting, enter } = room(4);
  enter("operator", "10.0.0.9");
  for (let i = 1; i < 40; i++) {
    // Each newcomer comes as soon as the room lets it in.
    clock.now += waiting.waitMs();
    enter(`flood ${i}`, "10.0.0.5");
  }
  assert.equal(evicted.length, 36);
  assert.ok(evicted.every((name) => name.startsWith("flood")), `${evicted}`);
  assert.equal(waiting.size, 4);
});

Deno.test("WaitingRoom forgets connections that leave, and refuses impossible limits", () => {
  const { clock, evicted, waiting, enter } = room(1);
  enter("a");
  waiting.leave("a");
  waiting.leave("a");
  waiting.leave("never there");
  assert.equal(waiting.size, 0);
  assert.equal(waiting.waitMs(), 0);
  enter("b");
  clock.now = 300;
  waiting.advance("gone", "greeted");
  enter("c");
  assert.deepEqual(evicted, ["b (silent)"]);
  for (const capacity of [0, -1, 1.5, NaN]) {
    assert.throws(
      () => new WaitingRoom({ capacity, minStayMs: 0 }),
      RangeError,
    );
  }
  for (const minStayMs of [-1, NaN, Infinity]) {
    assert.throws(
      () => new WaitingRoom({ capacity: 1, minStayMs }),
      RangeError,
    );
  }
});
