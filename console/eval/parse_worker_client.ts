/**
 * The service's side of the parse worker: prepares snippets there one at a
 * time, each within a time budget. A snippet over its budget, or whose
 * evaluation is interrupted, is given up at once; its worker cannot be
 * stopped while it reads (Deno 2.9's `Worker.terminate()` does not stop a
 * busy worker: denoland/deno#35657), so it is left to finish on its own and
 * ended when it answers. Meanwhile snippets that need the worker are
 * refused with a {@linkcode ParseWorkerBusyError}: at most one such reading
 * runs at a time, one core at most.
 *
 * @module
 */

import type { ParseReply, ParseRequest } from "./parse_worker.ts";
import type { PrepareOutcome } from "./snippet_parser.ts";
import { workerError } from "../worker_error.ts";

/**
 * The most time a snippet's reading may take, by default: 10 s. Reading is
 * linear for everything but a few TypeScript shapes (nested `<` and arrow
 * functions make sucrase backtrack exponentially: 120 characters took
 * minutes); those end with a {@linkcode ParseBudgetError}.
 */
export const PARSE_BUDGET_MS = 10_000;

/** How long the worker stays up after its last snippet. */
const IDLE_MS = 2 * 60_000;

/** Reading a snippet took longer than its budget; it was given up. */
export class ParseBudgetError extends Error {
  /** @param budgetMs The budget that was exceeded. */
  constructor(budgetMs: number) {
    super(
      `Reading the snippet took over ${
        budgetMs >= 1000 ? `${budgetMs / 1000} s` : `${budgetMs} ms`
      }: gave up (deeply nested type arguments and arrow functions make the TypeScript reading exponential; split the snippet up)`,
    );
    this.name = "ParseBudgetError";
  }
}

/**
 * A snippet needs the parse worker while the reading of an earlier one,
 * given up, still runs there (it cannot be stopped).
 */
export class ParseWorkerBusyError extends Error {
  /** @param sinceMs How long the earlier reading has run. */
  constructor(sinceMs: number) {
    super(
      `An earlier snippet's reading, given up ${
        Math.round(sinceMs / 1000)
      } s ago, still runs in the parse worker, which Deno cannot stop until it ends; TypeScript and long snippets are refused until then (plain JavaScript runs; restarting the service ends it)`,
    );
    this.name = "ParseWorkerBusyError";
  }
}

/** Options for {@linkcode prepareInWorker}. */
export interface PrepareInWorkerOptions {
  /** Aborting gives the snippet up (and stops its reading). */
  signal?: AbortSignal;
  /** The most milliseconds its reading may take; {@linkcode PARSE_BUDGET_MS}. */
  budgetMs?: number;
}

/**
 * The most time the worker may take to start (load its code and the
 * transpiler): generous, as a busy machine is slow to start an isolate;
 * it only bounds a hang.
 */
const STARTUP_TIMEOUT_MS = 60_000;

interface Job {
  code: string;
  budgetMs: number;
  signal?: AbortSignal;
  resolve(outcome: PrepareOutcome): void;
  reject(error: Error): void;
  onAbort(): void;
}

type Timer = ReturnType<typeof setTimeout>;

/** The worker, and whether it said it is ready. */
let worker: { instance: Worker; ready: boolean; startup: Timer } | undefined;
let starts = 0;
let nextId = 1;
/** Snippets waiting for the worker, oldest first. */
const queue: Job[] = [];
/** The snippet the worker is reading, with its budget's timer. */
let current: { id: number; job: Job; timer: Timer } | undefined;
let idleTimer: Timer | undefined;
/** A reading given up and left to finish: since when, and its end. */
let abandoned: { since: number; ended: Promise<void> } | undefined;

/**
 * Prepares a snippet in the parse worker, waiting for the snippets queued
 * before it. Rejects with a {@linkcode ParseBudgetError} past the budget,
 * with the signal's reason when aborted, and with what the reading threw
 * (a `RangeError` for a snippet nested past the stack's depth).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { prepareInWorker, stopParseWorker } from "./parse_worker_client.ts";
 *
 * const prepared = await prepareInWorker("let id = <T,>(x: T) => x; id<number>(7)");
 * assert.equal(prepared.kind, "prepared");
 * // Exponential for the TypeScript reader: ~1 s here, given up at 200 ms.
 * await assert.rejects(
 *   prepareInWorker("a<b>(".repeat(17), { budgetMs: 200 }),
 *   { name: "ParseBudgetError" },
 * );
 * // Until that reading ends by itself, the worker is busy.
 * await assert.rejects(prepareInWorker("1 as number"), {
 *   name: "ParseWorkerBusyError",
 * });
 * await parseWorkerSettled();
 * assert.equal((await prepareInWorker("1 as number")).kind, "prepared");
 * stopParseWorker();
 * ```
 *
 * @param code The snippet text.
 * @param options Its abort signal and time budget.
 * @returns The prepared snippet, incomplete, or a syntax error.
 */
export function prepareInWorker(
  code: string,
  options: PrepareInWorkerOptions = {},
): Promise<PrepareOutcome> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const job: Job = {
      code,
      budgetMs: options.budgetMs ?? PARSE_BUDGET_MS,
      signal,
      resolve,
      reject,
      onAbort: () => abort(job),
    };
    signal?.addEventListener("abort", job.onAbort, { once: true });
    queue.push(job);
    startNext();
  });
}

/**
 * How many times the parse worker was started in this process (tests check
 * that plain JavaScript never needs it).
 *
 * @example
 * ```ts
 * import { parseWorkerStarts } from "./parse_worker_client.ts";
 * console.log(`parse worker started ${parseWorkerStarts()} times`);
 * ```
 *
 * @returns The count.
 */
export function parseWorkerStarts(): number {
  return starts;
}

/**
 * Resolves once no given-up reading runs in a parse worker any more (at
 * once when none does).
 *
 * @example
 * ```ts
 * import { parseWorkerSettled } from "./parse_worker_client.ts";
 * await parseWorkerSettled();
 * ```
 *
 * @returns When the worker is free.
 */
export function parseWorkerSettled(): Promise<void> {
  return abandoned?.ended ?? Promise.resolve();
}

/**
 * Ends the parse worker now; queued and running snippets are rejected.
 * The next snippet starts it again.
 *
 * @example
 * ```ts
 * import { stopParseWorker } from "./parse_worker_client.ts";
 * stopParseWorker();
 * ```
 */
export function stopParseWorker(): void {
  const error = new Error("The parse worker was stopped");
  const queued = queue.splice(0);
  const running = current?.job;
  // A given-up reading is left as it is: it cannot be stopped (see above).
  terminate();
  if (running !== undefined) finish(running, () => running.reject(error));
  for (const job of queued) settle(job, () => job.reject(error));
}

function startNext(): void {
  if (current !== undefined || queue.length === 0) return;
  if (abandoned !== undefined) {
    const busy = new ParseWorkerBusyError(Date.now() - abandoned.since);
    for (const job of queue.splice(0)) settle(job, () => job.reject(busy));
    return;
  }
  clearTimeout(idleTimer);
  idleTimer = undefined;
  let running;
  try {
    running = ensureWorker();
  } catch (error) {
    // `new Worker` itself refused (no such file in a broken install).
    return failQueued(parseWorkerError(String(error)));
  }
  // Its `ready` message starts the queue again.
  if (!running.ready) return;
  const job = queue.shift()!;
  const id = nextId++;
  // The budget counts from now: the worker is ready and idle.
  const timer = setTimeout(() => {
    abandonReading();
    finish(job, () => job.reject(new ParseBudgetError(job.budgetMs)));
  }, job.budgetMs);
  current = { id, job, timer };
  running.instance.postMessage({ id, code: job.code } satisfies ParseRequest);
}

function ensureWorker(): NonNullable<typeof worker> {
  if (worker !== undefined) return worker;
  const instance = new Worker(
    new URL("./parse_worker.ts", import.meta.url),
    { type: "module" },
  );
  starts++;
  const startup = setTimeout(() => {
    terminate();
    failQueued(
      new Error(
        `The parse worker did not start within ${STARTUP_TIMEOUT_MS / 1000} s`,
      ),
    );
  }, STARTUP_TIMEOUT_MS);
  const started = { instance, ready: false, startup };
  instance.onmessage = ({ data }: MessageEvent<ParseReply>) => {
    if ("ready" in data) {
      clearTimeout(startup);
      started.ready = true;
      if (queue.length > 0) startNext();
      else armIdle();
      return;
    }
    if (current === undefined || data.id !== current.id) return;
    const { job } = current;
    finish(job, () => {
      if ("outcome" in data) return job.resolve(data.outcome);
      const error = new Error(data.thrown.message);
      error.name = data.thrown.name;
      job.reject(error);
    });
  };
  instance.onerror = (event: ErrorEvent) => {
    // Without preventDefault an error in the worker would end the service.
    event.preventDefault();
    terminate();
    const error = parseWorkerError(event.message);
    const job = current?.job;
    // Failing to start fails every waiting snippet alike; a failure while
    // reading one fails that one, and the next gets a fresh worker.
    if (job !== undefined) finish(job, () => job.reject(error));
    else failQueued(error);
  };
  worker = started;
  return started;
}

/** Ends the running job (its reply came, it failed, or its time is up). */
function finish(job: Job, outcome: () => void): void {
  clearTimeout(current?.timer);
  current = undefined;
  settle(job, outcome);
  if (queue.length > 0) startNext();
  else armIdle();
}

/** Rejects every waiting snippet (the worker cannot start). */
function failQueued(error: Error): void {
  for (const job of queue.splice(0)) settle(job, () => job.reject(error));
}

function armIdle(): void {
  if (worker === undefined) return;
  clearTimeout(idleTimer);
  const timer = setTimeout(terminate, IDLE_MS);
  // The worker keeps the process alive; the idle timer must not.
  Deno.unrefTimer(timer);
  idleTimer = timer;
}

function settle(job: Job, outcome: () => void): void {
  job.signal?.removeEventListener("abort", job.onAbort);
  outcome();
}

function abort(job: Job): void {
  const reason = job.signal!.reason;
  if (current?.job === job) {
    abandonReading();
    return finish(job, () => job.reject(reason));
  }
  const index = queue.indexOf(job);
  if (index !== -1) queue.splice(index, 1);
  settle(job, () => job.reject(reason));
}

/**
 * Gives the running reading up: its worker cannot be stopped while it reads,
 * so it is set aside and ended when it answers (its reading done).
 */
function abandonReading(): void {
  clearTimeout(idleTimer);
  idleTimer = undefined;
  const busy = worker;
  worker = undefined;
  if (busy === undefined) return;
  clearTimeout(busy.startup);
  let end = () => {};
  const left = {
    since: Date.now(),
    ended: new Promise<void>((resolve) => end = resolve),
  };
  const close = () => {
    busy.instance.terminate();
    if (abandoned === left) abandoned = undefined;
    end();
    startNext();
  };
  busy.instance.onmessage = close;
  busy.instance.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    close();
  };
  abandoned = left;
}

function terminate(): void {
  clearTimeout(idleTimer);
  idleTimer = undefined;
  if (worker === undefined) return;
  clearTimeout(worker.startup);
  worker.instance.terminate();
  worker = undefined;
}

function parseWorkerError(message: string): Error {
  return workerError(
    "The parse worker (it reads TypeScript and long snippets)",
    // Its modules, and the npm pins they import.
    [new URL(".", import.meta.url), new URL("../npm/", import.meta.url)],
    message,
  );
}
