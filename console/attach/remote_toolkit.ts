/**
 * The leak toolkit in an attached session: the one toolkit of
 * console/toolkit/, run here over the link to the target's inspector
 * (`useInspectorLink`), called from the target through stubs
 * (toolkit_stubs.ts). A stub's call arrives as `Runtime.bindingCalled`;
 * the real helper runs here (captures are taken in the target, analysed in
 * this process's worker; sampling positions are mapped by the target's own
 * runtime), and the stub's promise is settled with the helper's data,
 * printed with the helper's own rendering. Detaching stops the sampler,
 * removes the stubs and checks they are gone.
 *
 * @module
 */

import type { ProgressFn } from "../heap/progress.ts";
import { toJsonText } from "../eval/json_value.ts";
import { closeToolkit, createToolkit, type Toolkit } from "../toolkit/mod.ts";
import { help as toolkitHelp } from "../toolkit/help.ts";
import type { InspectorLink } from "../toolkit/inspector_link.ts";
import { errorStackAt } from "../toolkit/source_positions.ts";
import {
  type LinkedTarget,
  type ProcessMemory,
  readMemoryFigures,
  useInspectorLink,
} from "../toolkit/toolkit_state.ts";
import { runNamedScript } from "./named_script.ts";
import { AGENT_URL } from "./target_agent.ts";
import {
  type EncodedArgument,
  type StubCall,
  STUBS_URL,
  stubsExpression,
  type StubsInfo,
} from "./toolkit_stubs.ts";
import { callAgent } from "./remote_session.ts";
import type { WebSocketLink } from "./websocket_link.ts";

/** Calls one of the stubs' methods, by value. */
function callStubs<T>(
  link: WebSocketLink,
  stubsId: string,
  method: string,
  args: unknown[],
): Promise<T> {
  return callAgent<T>(
    link,
    stubsId,
    method,
    args.map((value) => ({ value })),
    HOUSEKEEPING_MS,
  );
}

/** The helpers a stub in the target calls through the binding. */
export const TOOLKIT_CALLS = [
  "mem",
  "gc",
  "count",
  "heap.top",
  "heap.growth",
  "heap.path",
  "heap.largest",
  "heap.leaks",
  "heap.graph",
  "heap.snapshot",
  "alloc.start",
  "alloc.top",
  "alloc.stop",
] as const;

/** What `leak()` answers in an attached session. */
export const ATTACHED_LEAK_ANSWER =
  "The leak alarm runs only in-process (a service that embeds the leakwatch console); attached, heap.leaks() and alloc.start() / alloc.top() find a leak";

const INSTANCES_REFUSAL =
  "instances() is not available in an attached session (the objects stay in the target): count(Ctor) counts them, heap.path(object) shows what holds one";

const STUBS_GROUP = "leakwatch-attach-toolkit";
const MAX_PAYLOAD_CHARS = 64 * 1024;
const MAX_ARGUMENTS = 8;
/** Housekeeping calls into the target (not the helpers' own commands). */
const HOUSEKEEPING_MS = 10_000;

/** What detaching the toolkit did. */
export interface ToolkitDetach {
  /** Global names removed from the target. */
  removed: string[];
  /** Global names of the toolkit still in the target (should be none). */
  left: string[];
}

interface Reference {
  call: number;
  ref: number;
  property: "" | "prototype";
}

interface EvaluateResult {
  result: { value?: unknown; objectId?: string };
  exceptionDetails?: {
    text?: string;
    exception?: { description?: string };
  };
}

/** The toolkit of one attached session. */
export class RemoteToolkit {
  /** The stubs' names in the target, installed and skipped. */
  readonly info: StubsInfo;
  #link: WebSocketLink;
  #stubsId: string;
  #binding: string;
  #toolkit: Toolkit;
  #stopListening: () => void;
  #references = new WeakMap<object, Reference>();
  #calls = new Set<Promise<void>>();
  #detached = false;

  private constructor(
    link: WebSocketLink,
    stubsId: string,
    binding: string,
    info: StubsInfo,
    progress: ProgressFn,
  ) {
    this.#link = link;
    this.#stubsId = stubsId;
    this.#binding = binding;
    this.info = info;
    this.#toolkit = createToolkit({ progress });
    this.#stopListening = link.listen<{ name: string; payload: string }>(
      "Runtime.bindingCalled",
      (event) => {
        if (event.name !== this.#binding || this.#detached) return;
        const run = this.#serve(event.payload).catch(() => {});
        this.#calls.add(run);
        run.finally(() => this.#calls.delete(run));
      },
    );
  }

  /**
   * Installs the stubs in the target and points this process's toolkit at
   * it. The attach client is attached to one target: the toolkit's
   * process-wide state (capture lock, worker, sampler) is that target's.
   *
   * @param link The open link to the target's inspector (the session's).
   * @param options The target's pid as seen here; where progress goes.
   * @returns The toolkit.
   * @throws {Error} When the target refuses the binding or the stubs.
   */
  static async install(
    link: WebSocketLink,
    options: { pid: number; progress: ProgressFn },
  ): Promise<RemoteToolkit> {
    const timeout = { timeoutMs: HOUSEKEEPING_MS };
    const binding = `__leakwatch_toolkit_${
      crypto.randomUUID().replaceAll("-", "")
    }`;
    await link.post("Runtime.addBinding", { name: binding }, timeout);
    const made = await runNamedScript(
      link,
      stubsExpression({
        binding,
        calls: [...TOOLKIT_CALLS],
        answers: { leak: ATTACHED_LEAK_ANSWER },
        refusals: { instances: INSTANCES_REFUSAL },
        maxPayloadChars: MAX_PAYLOAD_CHARS,
      }),
      { url: STUBS_URL, objectGroup: STUBS_GROUP },
    );
    const stubsId = made.result.objectId;
    if (made.exceptionDetails !== undefined || stubsId === undefined) {
      await link.post("Runtime.removeBinding", { name: binding }, timeout)
        .catch(() => {});
      throw new Error(
        `cannot add the leak toolkit to pid ${options.pid}: ${
          made.exceptionDetails?.exception?.description?.split("\n")[0] ??
            "the inspector returned no object"
        }`,
      );
    }
    const info = await callStubs<StubsInfo>(link, stubsId, "info", []);
    const toolkit = new RemoteToolkit(
      link,
      stubsId,
      binding,
      info,
      options.progress,
    );
    useInspectorLink(toolkitLink(link), toolkit.#target(options.pid));
    return toolkit;
  }

  /**
   * Stops what the toolkit started in the target (the allocation sampler),
   * ends the analysis worker, removes the stubs and checks that none of
   * their names is left. Idempotent; never throws (a lost target has
   * nothing left to undo).
   *
   * @returns The names removed and any left.
   */
  async detach(): Promise<ToolkitDetach> {
    if (this.#detached) return { removed: [], left: [] };
    this.#detached = true;
    this.#stopListening();
    let removed: string[] = [];
    let left: string[] = [];
    try {
      await closeToolkit();
    } catch {
      // The target went away: its sampler went with it.
    }
    if (this.#link.closed) return { removed, left };
    try {
      removed = await callStubs<string[]>(
        this.#link,
        this.#stubsId,
        "remove",
        [],
      );
      left = await this.#leftover([...this.info.installed]);
    } catch {
      // The target does not answer: nothing more to undo from here.
    }
    const timeout = { timeoutMs: HOUSEKEEPING_MS };
    await this.#link.post("Runtime.removeBinding", { name: this.#binding }, {
      ...timeout,
    }).catch(() => {});
    await this.#link.post("Runtime.releaseObjectGroup", {
      objectGroup: STUBS_GROUP,
    }, timeout).catch(() => {});
    return { removed, left };
  }

  /** Which of `names` (and the binding) the target's global scope still has. */
  async #leftover(names: string[]): Promise<string[]> {
    const all = [...names, this.#binding];
    const { result } = await this.#link.post<EvaluateResult>(
      "Runtime.evaluate",
      {
        expression: `${
          JSON.stringify(all)
        }.filter((name) => name in globalThis)`,
        returnByValue: true,
        silent: true,
      },
      { timeoutMs: HOUSEKEEPING_MS },
    );
    return Array.isArray(result.value)
      ? result.value.filter((n): n is string => typeof n === "string")
      : all;
  }

  /** Runs one call from the target and settles it there. */
  async #serve(payload: unknown): Promise<void> {
    const call = parseCall(payload);
    if (call === undefined) return;
    let settled: [boolean, string, string];
    try {
      if ("error" in call) throw new TypeError(call.error);
      const helper = lookup(this.#toolkit, call.name);
      const args = call.args.map((arg) => this.#standIn(call.id, arg));
      if (call.name.startsWith("heap.")) {
        // The inspector keeps the target's last console messages for a
        // DevTools front end: not the program's objects, so not in its heap.
        await this.#link.post("Runtime.discardConsoleEntries", {}, {
          timeoutMs: HOUSEKEEPING_MS,
        });
      }
      // The helpers read the target's memory as they would their own.
      await readMemoryFigures();
      const result = await helper(...args);
      settled = [true, toJsonText(result), Deno.inspect(result)];
    } catch (error) {
      const err = error instanceof Error
        ? error
        : new Error(String(error).slice(0, 10_000));
      settled = [false, err.name || "Error", err.message];
    }
    if (this.#detached) return;
    await callStubs(this.#link, this.#stubsId, "settle", [
      call.id,
      ...settled,
    ]);
  }

  /** A value here for an argument in the target: primitives as they are, objects by stand-in. */
  #standIn(call: number, arg: EncodedArgument): unknown {
    if ("undefined" in arg) return undefined;
    if ("number" in arg) return Number(arg.number);
    if ("value" in arg) return arg.value;
    if (arg.kind === "function") {
      // A class: count() and heap.*() read its name and prototype.
      const standIn = function () {};
      Object.defineProperty(standIn, "name", { value: arg.name });
      this.#references.set(standIn, { call, ref: arg.ref, property: "" });
      this.#references.set(standIn.prototype, {
        call,
        ref: arg.ref,
        property: "prototype",
      });
      return standIn;
    }
    // An object: the target's own (heap.path) or options ({ all: true }).
    const standIn: Record<string, unknown> = { ...arg.fields };
    this.#references.set(standIn, { call, ref: arg.ref, property: "" });
    return standIn;
  }

  /** What the toolkit needs to know about the target (toolkit_state.ts). */
  #target(pid: number): LinkedTarget {
    const link = this.#link;
    return {
      pid,
      name: `pid ${pid}`,
      readMemory: () => readTargetMemory(link),
      objectId: (value, group) => this.#objectId(value, group),
      stackAt: async (url, line, column) => {
        const { result } = await link.post<EvaluateResult>(
          "Runtime.evaluate",
          {
            expression: `(${errorStackAt})(${
              JSON.stringify(url)
            }, ${line}, ${column})`,
            returnByValue: true,
            silent: true,
          },
          { timeoutMs: HOUSEKEEPING_MS },
        );
        return result.value;
      },
      // The session's own code in the target, left out as the console's.
      ownership: { consoleScripts: [AGENT_URL, STUBS_URL] },
    };
  }

  async #objectId(value: object, group: string): Promise<string | undefined> {
    let reply: EvaluateResult;
    if (value === Function.prototype) {
      // count("Name") walks every function of the target.
      reply = await this.#link.post<EvaluateResult>("Runtime.evaluate", {
        expression: "Function.prototype",
        objectGroup: group,
        silent: true,
      }, { timeoutMs: HOUSEKEEPING_MS });
    } else {
      const reference = this.#references.get(value);
      if (reference === undefined) return undefined;
      reply = await this.#link.post<EvaluateResult>("Runtime.callFunctionOn", {
        functionDeclaration:
          "function (call, ref, property) { return this.ref(call, ref, property); }",
        objectId: this.#stubsId,
        arguments: [
          { value: reference.call },
          { value: reference.ref },
          { value: reference.property },
        ],
        objectGroup: group,
        silent: true,
      }, { timeoutMs: HOUSEKEEPING_MS });
    }
    if (reply.exceptionDetails !== undefined) return undefined;
    return reply.result.objectId;
  }
}

/**
 * The toolkit's help in an attached session: the helpers, with `leak()`
 * and `instances()` as they answer there.
 *
 * @returns Lines of text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachedToolkitHelp } from "./remote_toolkit.ts";
 * assert.match(attachedToolkitHelp(), /heap\.leaks/);
 * assert.match(attachedToolkitHelp(), /leak\(\)  +the leak alarm runs only in-process/);
 * ```
 */
export function attachedToolkitHelp(): string {
  return `${toolkitHelp()}`
    .split("\n")
    .filter((line) => !/^\s+instances\(/.test(line))
    .map((line) =>
      /^\s+leak\(\)/.test(line)
        ? line.replace(
          /leak\(\)(\s+).*$/,
          "leak()$1the leak alarm runs only in-process: heap.leaks() and alloc.* here",
        )
        : line
    )
    .join("\n");
}

/** The link the toolkit drives the target with: the session's, no deadline. */
function toolkitLink(link: WebSocketLink): InspectorLink {
  return {
    // A capture of a large heap takes as long as it takes (Ctrl-C stops
    // waiting for it; a lost link fails it).
    post: (method, params) =>
      link.post(method, params ?? {}, { timeoutMs: Infinity }),
    listen: (event, handler) => link.listen(event, handler),
    // The session owns the link and closes it when leaving the target.
    close() {},
  };
}

/** The target's memory, read by its own runtime. */
async function readTargetMemory(link: WebSocketLink): Promise<ProcessMemory> {
  const { result, exceptionDetails } = await link.post<EvaluateResult>(
    "Runtime.evaluate",
    {
      // Deno.memoryUsage needs no permission; Node's v8 module comes from
      // process.getBuiltinModule, or require on Node before 20.16.
      expression: `(() => {
        const g = globalThis;
        const usage = typeof g.Deno?.memoryUsage === "function"
          ? g.Deno.memoryUsage() : g.process.memoryUsage();
        const v8 = g.process?.getBuiltinModule?.("node:v8") ??
          (typeof require === "function" ? require("v8") : undefined);
        return {
          rss: usage.rss, heapUsed: usage.heapUsed, heapTotal: usage.heapTotal,
          external: usage.external,
          arrayBuffers: g.Deno === undefined ? usage.arrayBuffers ?? null : null,
          heapSizeLimit: v8?.getHeapStatistics?.().heap_size_limit ?? 0,
        };
      })()`,
      includeCommandLineAPI: true,
      returnByValue: true,
      silent: true,
    },
    { timeoutMs: HOUSEKEEPING_MS },
  );
  const value = result.value as Record<string, unknown> | undefined;
  const number = (key: string) => {
    const n = value?.[key];
    if (typeof n !== "number" || !Number.isFinite(n) || n < 0) {
      throw new Error(
        `The target did not report its memory (${key}): ${
          exceptionDetails?.exception?.description?.split("\n")[0] ??
            "no number"
        }`,
      );
    }
    return n;
  };
  return {
    rss: number("rss"),
    heapUsed: number("heapUsed"),
    heapTotal: number("heapTotal"),
    external: number("external"),
    arrayBuffers: value?.arrayBuffers === null ? null : number("arrayBuffers"),
    heapSizeLimit: number("heapSizeLimit"),
  };
}

/** A call from the target, or why it is malformed (when it has an id). */
function parseCall(
  payload: unknown,
): StubCall | { id: number; error: string } | undefined {
  if (typeof payload !== "string" || payload.length > MAX_PAYLOAD_CHARS) {
    return undefined;
  }
  let call: Partial<StubCall>;
  try {
    call = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof call !== "object" || call === null) return undefined;
  const id = call.id;
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 1) {
    return undefined;
  }
  if (
    typeof call.name !== "string" ||
    !(TOOLKIT_CALLS as readonly string[]).includes(call.name)
  ) {
    return { id, error: "Unknown toolkit call" };
  }
  const args = call.args;
  if (
    !Array.isArray(args) || args.length > MAX_ARGUMENTS ||
    !args.every(isArgument)
  ) {
    return { id, error: `Malformed arguments for ${call.name}()` };
  }
  return { id, name: call.name, args };
}

function isArgument(arg: unknown): arg is EncodedArgument {
  if (typeof arg !== "object" || arg === null) return false;
  const a = arg as Record<string, unknown>;
  if ("undefined" in a) return a.undefined === true;
  if ("number" in a) return typeof a.number === "string";
  if ("value" in a) {
    return a.value === null ||
      ["string", "number", "boolean"].includes(typeof a.value);
  }
  if (!Number.isSafeInteger(a.ref) || typeof a.name !== "string") return false;
  if (a.kind !== "object" && a.kind !== "function") return false;
  if (typeof a.fields !== "object" || a.fields === null) return false;
  return Object.values(a.fields).every((v) =>
    v === null || ["string", "number", "boolean"].includes(typeof v)
  );
}

/** The helper a call names: `heap.top` is `toolkit.heap.top`. */
function lookup(
  toolkit: Toolkit,
  name: string,
): (...args: unknown[]) => unknown {
  const [head, tail] = name.split(".") as [string, string | undefined];
  const holder = toolkit as unknown as Record<string, unknown>;
  const found = tail === undefined
    ? holder[head]
    : (holder[head] as Record<string, unknown>)[tail];
  if (typeof found !== "function") {
    throw new TypeError(`No toolkit helper ${name}()`);
  }
  const helper = found as (...args: unknown[]) => unknown;
  const self = tail === undefined ? toolkit : holder[head];
  return (...args) => helper.apply(self, args);
}
