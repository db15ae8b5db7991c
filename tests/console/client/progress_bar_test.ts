import assert from "node:assert/strict";
import {
  ProgressLine,
  renderProgressBar,
} from "../../../console/client/progress_bar.ts";

Deno.test("renderProgressBar() fills the bar in proportion and clamps odd values", () => {
  assert.equal(renderProgressBar("parse", 0, 4, 8), "[........]   0% parse");
  assert.equal(renderProgressBar("parse", 1, 4, 8), "[##......]  25% parse");
  assert.equal(renderProgressBar("parse", 4, 4, 8), "[########] 100% parse");
  assert.equal(renderProgressBar("x", 9, 4, 4), "[####] 100% x");
  assert.equal(renderProgressBar("x", -1, 4, 4), "[....]   0% x");
  assert.equal(renderProgressBar("x", 1, 0, 4), "[....]   0% x");
  assert.equal(renderProgressBar("x", NaN, 4, 4), "[....]   0% x");
});

Deno.test("ProgressLine draws in place, fits the terminal, and clears only what it drew", () => {
  const written: string[] = [];
  const line = new ProgressLine((text) => written.push(text), () => 20);
  line.clear();
  assert.deepEqual(written, []);
  line.update("a long label\nwith a newline", 1, 2);
  assert.equal(line.shown, true);
  assert.equal(written[0], "\r[##########........\x1b[K");
  line.clear();
  line.clear();
  assert.deepEqual(written.slice(1), ["\r\x1b[K"]);
  assert.equal(line.shown, false);
});

Deno.test("ProgressLine.update() shows a label's control characters escaped", () => {
  const drawn: string[] = [];
  const line = new ProgressLine((text) => drawn.push(text));
  line.update("\x1b]0;title\x07snap\u202eshot\nnext", 1, 2);
  assert.equal(
    drawn[0],
    "\r[##########..........]  50% \\u001b]0;title\\u0007snap\\u202eshot next\x1b[K",
  );
});
