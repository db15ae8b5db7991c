/**
 * Keeps every function in its own stack frame while allocations are
 * sampled, so sites name the function that allocates, not the caller it
 * was inlined into.
 *
 * V8's sampling heap profiler records one function per physical stack
 * frame: once the optimizing compiler inlines `append()` into the hook that
 * calls it, and the hook into the request handler, their allocations are
 * charged to the handler (measured on Deno 2.9.6: a leaking module called
 * through a wrapper showed as the wrapper or as `lib/app.ts`, and never by
 * name when the wrapper was typed in the console). Precise coverage with
 * call counts (`Profiler.startPreciseCoverage`) deoptimizes every function
 * and keeps V8 from inlining while it is on, which is what sampling needs;
 * V8 flags such as `--no-turbo-inlining` cannot be changed at run time.
 * The cost: hot code runs unoptimized for a moment, then re-optimizes
 * without inlining until coverage stops; and V8 no longer flushes unused
 * bytecode in this process afterwards.
 *
 * Holders are counted: the leak alarm's attribution and `alloc.start()`
 * may overlap.
 *
 * @module
 */

import type { InspectorLink } from "./inspector_link.ts";
import { inspector, post } from "./toolkit_state.ts";

/**
 * Holders of one inspector link: coverage ends with the link that started
 * it (the toolkit's `close()` drops the link), so a new link starts over.
 */
interface Era {
  link: InspectorLink;
  holders: number;
  problem: string | undefined;
}

let era: Era | undefined;
let switching: Promise<unknown> = Promise.resolve();

/** What {@linkcode holdExactFrames} gave. */
export interface ExactFrames {
  /** Whether inlining is off now (false: it could not be turned off). */
  exact: boolean;
  /** Why it could not, when it could not. */
  problem?: string;
  /** Lets go; the last holder turns coverage off. Idempotent. */
  release(): Promise<void>;
}

/**
 * Turns inlining off (precise coverage on) until released.
 *
 * @returns Whether it worked, and the release.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { holdExactFrames } from "./exact_frames.ts";
 * import { closeToolkitState } from "./toolkit_state.ts";
 * const frames = await holdExactFrames();
 * assert.equal(frames.exact, true);
 * await frames.release();
 * await frames.release();
 * await closeToolkitState();
 * ```
 */
export async function holdExactFrames(): Promise<ExactFrames> {
  const link = inspector();
  if (era?.link !== link) era = { link, holders: 0, problem: undefined };
  const mine = era;
  mine.holders++;
  if (mine.holders === 1) {
    switching = switching.then(async () => {
      try {
        await post("Profiler.enable");
        await post("Profiler.startPreciseCoverage", {
          callCount: true,
          detailed: false,
        });
        mine.problem = undefined;
      } catch (error) {
        mine.problem = (error as Error).message;
      }
    });
  }
  await switching;
  let released = false;
  const problem = mine.problem;
  return {
    exact: problem === undefined,
    ...(problem === undefined ? {} : { problem }),
    async release() {
      if (released) return;
      released = true;
      mine.holders--;
      if (mine.holders > 0 || era !== mine) return;
      switching = switching.then(async () => {
        if (mine.holders > 0 || era !== mine) return;
        await post("Profiler.stopPreciseCoverage").catch(() => {});
        await post("Profiler.disable").catch(() => {});
      });
      await switching;
    },
  };
}

/**
 * The URLs of scripts V8 reports without one in a sampling profile: code
 * compiled at run time (`new Function`, `eval`, console snippets), whose
 * `//# sourceURL=` only the inspector's script list knows. Read from the
 * precise coverage, so only while frames are held exact.
 *
 * @param scriptIds The script ids wanted.
 * @returns Script id → URL, for those found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { holdExactFrames, scriptUrls } from "./exact_frames.ts";
 * import { closeToolkitState } from "./toolkit_state.ts";
 * // Not held: nothing to read.
 * assert.equal((await scriptUrls(new Set(["78"]))).size, 0);
 * const frames = await holdExactFrames();
 * assert.equal((await scriptUrls(new Set(["no such script"]))).size, 0);
 * await frames.release();
 * await closeToolkitState();
 * ```
 */
export async function scriptUrls(
  scriptIds: ReadonlySet<string>,
): Promise<Map<string, string>> {
  const urls = new Map<string, string>();
  const held = era !== undefined && era.link === inspector() &&
    era.holders > 0 && era.problem === undefined;
  if (scriptIds.size === 0 || !held) return urls;
  const { result } = await post<
    { result: Array<{ scriptId: string; url: string }> }
  >("Profiler.takePreciseCoverage");
  for (const script of result) {
    if (scriptIds.has(script.scriptId) && script.url !== "") {
      urls.set(script.scriptId, script.url);
    }
  }
  return urls;
}
