/**
 * A console session on an attached process: the client's {@linkcode
 * ClientSession} over the target's V8 inspector. Snippets are read here
 * (TypeScript stripped, incomplete input told apart) and evaluated in the
 * target in REPL mode (`let` and `const` persist and may be declared again,
 * top-level `await`); values and errors are rendered in the target by its
 * own inspector and laid out here by the console's renderers; the target's
 * console output is shown; Ctrl-C stops a synchronous loop of the snippet
 * (`Runtime.terminateExecution`), which the in-process console cannot.
 *
 * @module
 */

import type {
  ClientSession,
  InterruptTexts,
} from "../client/client_session.ts";
import {
  type BackgroundHandlers,
  ConsoleClientError,
  type EvalOutcome,
  type EvaluateOptions,
  type SessionInfo,
  type StreamHandlers,
} from "../client/connection.ts";
import {
  DEFAULT_LIMITS,
  INSPECT_LIMITS,
  plainText,
} from "../eval/inspection.ts";
import { renderValue, truncateText } from "../eval/render.ts";
import { dotCommand } from "../eval/session_helpers.ts";
import { type ConsoleApiCall, ConsoleFormatter } from "./remote_console.ts";
import { completionQuery, matchingNames } from "./remote_completion.ts";
import {
  exitRefusal,
  readSnippet,
  SNIPPET_URL,
  syntaxFailure,
} from "./remote_snippet.ts";
import { cleanRemoteStack, type ProtocolFrame } from "./remote_stack.ts";
import {
  type CallArgument,
  callArgument,
  decodeNumber,
  expandText,
  type RemoteObject,
  standIn,
} from "./remote_values.ts";
import {
  AGENT_URL,
  agentExpression,
  type AgentInfo,
  type Described,
  type MeasuredText,
  type Presented,
  type PresentSpec,
} from "./target_agent.ts";
import { InspectorLinkError, type WebSocketLink } from "./websocket_link.ts";

/** Options for {@linkcode RemoteSession.open}. */
export interface RemoteSessionOptions {
  /** The target's pid as this side sees it (for messages). */
  pid: number;
  /** Render values with ANSI colours. */
  colors: boolean;
  /** What `help()` shows in the target. */
  help: string;
  /** Truncate rendered values and errors past this many characters; 100 000. */
  maxResultChars?: number;
}

/** The inspector's answer to `Runtime.evaluate` and the like. */
interface EvaluateResult {
  result: RemoteObject;
  exceptionDetails?: {
    text?: string;
    exception?: RemoteObject;
    stackTrace?: { callFrames?: ProtocolFrame[] };
  };
}

type Pending = {
  handlers: StreamHandlers;
  interrupted: PromiseWithResolvers<EvalOutcome>;
};

const AGENT_GROUP = "leakwatch-attach";
const RESULT_GROUP = "leakwatch-attach-result";
const COMPLETION_GROUP = "leakwatch-attach-completion";
const DEFAULT_MAX_RESULT_CHARS = 100_000;
const MAX_QUEUED_CONSOLE_CALLS = 256;
const MAX_KNOWN_FRAMES = 512;
/** Housekeeping calls into the target (not the user's code). */
const AGENT_TIMEOUT_MS = 10_000;

/** What Ctrl-C says in an attached session. */
export const ATTACH_INTERRUPT_TEXTS: InterruptTexts = {
  sent:
    "^C interrupt sent: awaited work stops being waited for at once (it keeps running in the target); a synchronous loop of the snippet is stopped in the target.\n" +
    "Press Ctrl-C again to detach.\n",
  ignored:
    "error: the target does not answer the interrupt (blocked outside JavaScript?); detaching\n",
};

/** A session on an attached process's inspector. */
export class RemoteSession implements ClientSession {
  /** The session, as the banner and the client see it. */
  readonly info: SessionInfo;
  /** What the agent found in the target. */
  readonly target: AgentInfo;
  /** Ctrl-C's texts for this kind of session. */
  readonly interruptTexts: InterruptTexts = ATTACH_INTERRUPT_TEXTS;
  /** Where output of no pending evaluation goes; settable. */
  background: BackgroundHandlers = {};
  #link: WebSocketLink;
  #agentId: string;
  #pid: number;
  #colors: boolean;
  #maxChars: number;
  #pending: Pending | undefined;
  #closing = false;
  #console: ConsoleFormatter;
  #consoleQueue: Promise<void> = Promise.resolve();
  #queued = 0;
  #dropped = 0;
  #lexicalAtStart: Set<string>;
  /**
   * Positions of snippet and agent frames the target reported: Deno prints
   * them `<anonymous>` in stack text, so an error shown later (`_error`, an
   * error inside a value) is cleaned by these.
   */
  #knownFrames: ProtocolFrame[] = [];
  /** Names the session's snippets declared at top level. */
  #declared = new Set<string>();

  private constructor(
    link: WebSocketLink,
    agentId: string,
    target: AgentInfo,
    lexicalAtStart: Set<string>,
    options: RemoteSessionOptions,
  ) {
    this.#link = link;
    this.#agentId = agentId;
    this.target = target;
    this.#lexicalAtStart = lexicalAtStart;
    this.#pid = options.pid;
    this.#colors = options.colors;
    this.#maxChars = options.maxResultChars ?? DEFAULT_MAX_RESULT_CHARS;
    this.info = {
      session: 1,
      pid: options.pid,
      names: target.installed,
      banner: "",
    };
    this.#console = new ConsoleFormatter(
      (args) => this.#renderArgs(args),
      options.colors,
    );
  }

  /**
   * Starts a session on an open link: enables the runtime domain (console
   * output from now on; what the target logged before is not replayed)
   * and installs the agent.
   *
   * @param link The open link to the target's inspector.
   * @param options The pid, colours, help text and size limit.
   * @returns The session.
   * @throws {ConsoleClientError} When the target does not answer.
   */
  static async open(
    link: WebSocketLink,
    options: RemoteSessionOptions,
  ): Promise<RemoteSession> {
    // Runtime.enable first replays what the target logged before: skipped.
    const sink = {
      live: false,
      session: undefined as RemoteSession | undefined,
      early: [] as ConsoleApiCall[],
    };
    link.listen<ConsoleApiCall>("Runtime.consoleAPICalled", (call) => {
      if (!sink.live) return;
      if (sink.session === undefined) sink.early.push(call);
      else sink.session.#onConsoleCall(call);
    });
    await link.post("Runtime.enable", {}, { timeoutMs: AGENT_TIMEOUT_MS });
    sink.live = true;
    const agentId = await installAgent(link, options);
    const target = await callAgent<AgentInfo>(link, agentId, "info", []);
    const lexical = await link.post<{ names: string[] }>(
      "Runtime.globalLexicalScopeNames",
      {},
      { timeoutMs: AGENT_TIMEOUT_MS },
    );
    const session = new RemoteSession(
      link,
      agentId,
      target,
      new Set(lexical.names),
      options,
    );
    sink.session = session;
    for (const call of sink.early) session.#onConsoleCall(call);
    return session;
  }

  /** Whether the session has ended. */
  get closed(): boolean {
    return this.#closing || this.#link.closed;
  }

  /**
   * Settles when the link to the target ends: with the error that ended it,
   * `undefined` once the session was closed.
   *
   * @returns Why it ended.
   */
  async finished(): Promise<ConsoleClientError | undefined> {
    const lost = await this.#link.finished();
    if (this.#closing || lost === undefined) return undefined;
    return this.#lost(lost);
  }

  #lost(error: InspectorLinkError): ConsoleClientError {
    return new ConsoleClientError(
      `lost the connection to pid ${this.#pid}'s inspector (${error.message}): has the process exited?`,
    );
  }

  /**
   * Evaluates a snippet in the target; its console output (and the target's
   * other output meanwhile) goes to `handlers`.
   *
   * @param code The snippet.
   * @param handlers Where output goes.
   * @param options `format: "json"` for the value as JSON too.
   * @returns How it ended.
   * @throws {ConsoleClientError} When the link is lost meanwhile.
   */
  async evaluate(
    code: string,
    handlers: StreamHandlers = {},
    options: EvaluateOptions = {},
  ): Promise<EvalOutcome> {
    if (this.closed) {
      throw new ConsoleClientError(`the session on pid ${this.#pid} is closed`);
    }
    const started = performance.now();
    const since = () => performance.now() - started;
    const answer = dotCommand(code);
    if (answer !== undefined) {
      return {
        kind: "value",
        value: answer,
        ...options.format === "json" ? { json: JSON.stringify(answer) } : {},
        durationMs: since(),
      };
    }
    const refusal = exitRefusal(code, this.#pid);
    if (refusal !== undefined) {
      return {
        kind: "error",
        name: "Error",
        message: refusal,
        text: `Uncaught Error: ${refusal}`,
        durationMs: since(),
      };
    }
    const reading = await readSnippet(code);
    if (reading.kind === "incomplete") return reading;
    if (reading.kind === "error") {
      return { ...syntaxFailure(code, reading), durationMs: since() };
    }
    for (const name of reading.declared) this.#declared.add(name);
    const pending: Pending = {
      handlers,
      interrupted: Promise.withResolvers<EvalOutcome>(),
    };
    this.#pending = pending;
    try {
      const run = this.#run(reading.expression, options, since);
      // An interrupted evaluation goes on in the target; its end is ignored.
      run.catch(() => {});
      return await Promise.race([run, pending.interrupted.promise]);
    } catch (error) {
      throw error instanceof InspectorLinkError ? this.#lost(error) : error;
    } finally {
      this.#pending = undefined;
      this.#link.post("Runtime.releaseObjectGroup", {
        objectGroup: RESULT_GROUP,
      })
        .catch(() => {});
    }
  }

  async #run(
    expression: string,
    options: EvaluateOptions,
    since: () => number,
  ): Promise<EvalOutcome> {
    let evaluated = await this.#link.post<EvaluateResult>(
      "Runtime.evaluate",
      {
        expression,
        replMode: true,
        awaitPromise: true,
        objectGroup: RESULT_GROUP,
      },
      { timeoutMs: Infinity },
    );
    // A value that is a promise is awaited too, as in the in-process console.
    if (
      evaluated.exceptionDetails === undefined &&
      evaluated.result.subtype === "promise" &&
      evaluated.result.objectId !== undefined
    ) {
      evaluated = await this.#link.post<EvaluateResult>(
        "Runtime.awaitPromise",
        { promiseObjectId: evaluated.result.objectId },
        { timeoutMs: Infinity },
      );
    }
    // Console output the snippet wrote comes before its value.
    await this.#consoleQueue;
    if (evaluated.exceptionDetails !== undefined) {
      return await this.#failure(evaluated.exceptionDetails, since);
    }
    return await this.#value(evaluated.result, options, since);
  }

  async #value(
    result: RemoteObject,
    options: EvaluateOptions,
    since: () => number,
  ): Promise<EvalOutcome> {
    const argument = callArgument(result);
    const presented = await this.#callAgent<Presented>("present", [
      argument,
      { value: this.#spec(options.format === "json") },
    ]);
    await this.#callAgent("settle", [argument]);
    const limits = {
      depth: decodeNumber(presented.limits.depth),
      entries: decodeNumber(presented.limits.entries),
      lines: decodeNumber(presented.limits.lines),
    };
    const shown = presented.plain !== undefined
      ? plainText(expandText(presented.plain))
      : standIn(presented.renders);
    const value = cleanRemoteStack(
      renderValue(shown, {
        colors: this.#colors,
        maxChars: this.#maxChars,
        limits,
      }),
      this.#knownFrames,
    );
    if (options.format !== "json") {
      return { kind: "value", value, durationMs: since() };
    }
    const json = presented.json;
    if (json !== undefined && "text" in json) {
      return { kind: "value", value, json: json.text, durationMs: since() };
    }
    const error = json?.error ?? { name: "Error", message: "No JSON text" };
    return {
      kind: "error",
      name: error.name,
      message: error.message,
      text: `Uncaught ${error.name}: ${error.message}`,
      durationMs: since(),
    };
  }

  async #failure(
    details: NonNullable<EvaluateResult["exceptionDetails"]>,
    since: () => number,
  ): Promise<EvalOutcome> {
    const exception = details.exception ?? { type: "undefined" };
    const argument = callArgument(exception);
    const described = await this.#callAgent<Described>("describe", [
      argument,
      { value: this.#spec(false) },
    ]);
    await this.#callAgent("fail", [argument]);
    const frames = this.#rememberFrames(details.stackTrace?.callFrames ?? []);
    const clean = (measured: MeasuredText) =>
      truncateText(
        cleanRemoteStack(expandText(measured), frames),
        this.#maxChars,
      );
    const stack = clean(described.stack);
    return {
      kind: "error",
      name: described.name,
      message: truncateText(expandText(described.message), this.#maxChars),
      text: clean(described.text),
      ...stack === "" ? {} : { stack },
      durationMs: since(),
    };
  }

  /**
   * Completes the word before `cursor` from the target.
   *
   * @param code The text being edited.
   * @param cursor The cursor's offset; the end by default.
   * @returns Replacements for `code.slice(start, cursor)`.
   */
  async complete(
    code: string,
    cursor: number = code.length,
  ): Promise<{ candidates: string[]; start: number }> {
    const query = completionQuery(code, cursor);
    if (query === undefined || this.closed) {
      return { candidates: [], start: cursor };
    }
    const none = { candidates: [], start: query.start };
    try {
      if (query.expression === undefined) {
        const [lexical, globals] = await Promise.all([
          this.#link.post<{ names: string[] }>(
            "Runtime.globalLexicalScopeNames",
            {},
            { timeoutMs: AGENT_TIMEOUT_MS },
          ),
          this.#link.post<EvaluateResult>("Runtime.callFunctionOn", {
            functionDeclaration:
              "function () { return this.names(globalThis); }",
            objectId: this.#agentId,
            returnByValue: true,
          }, { timeoutMs: AGENT_TIMEOUT_MS }),
        ]);
        const names = [...lexical.names, ...asNames(globals.result.value)];
        return {
          candidates: matchingNames(names, query.partial),
          start: query.start,
        };
      }
      const target = await this.#link.post<EvaluateResult>("Runtime.evaluate", {
        expression: query.expression,
        replMode: true,
        throwOnSideEffect: true,
        timeout: 500,
        objectGroup: COMPLETION_GROUP,
        silent: true,
      }, { timeoutMs: AGENT_TIMEOUT_MS });
      if (target.exceptionDetails !== undefined) return none;
      const type = target.result.type;
      if (type === "undefined" || target.result.subtype === "null") return none;
      const names = await this.#callAgent<unknown>("names", [
        callArgument(target.result),
      ]);
      return {
        candidates: matchingNames(asNames(names), query.partial),
        start: query.start,
      };
    } catch {
      return none;
    } finally {
      this.#link.post("Runtime.releaseObjectGroup", {
        objectGroup: COMPLETION_GROUP,
      })
        .catch(() => {});
    }
  }

  /**
   * Interrupts the pending evaluation: it ends as `Interrupted` at once.
   * When the snippet's own code is on the target's stack (a synchronous
   * loop), the target is told to stop it (`Runtime.terminateExecution`).
   *
   * @returns Whether an evaluation was pending.
   */
  async interrupt(): Promise<boolean> {
    const pending = this.#pending;
    if (pending === undefined) return false;
    let stopped = false;
    try {
      const running = await this.#callAgent<boolean>(
        "snippetRunning",
        [],
        3_000,
      );
      // Checked while the target runs the snippet: terminating now stops it,
      // not code of the target's own (a termination with nothing running
      // would hit the next callback instead).
      if (running === true && this.#pending === pending) {
        await this.#link.post("Runtime.terminateExecution", {}, {
          timeoutMs: 3_000,
        });
        stopped = true;
      }
    } catch {
      // Not answered: the evaluation still ends here; the target goes on.
    }
    const message = stopped
      ? "Evaluation interrupted: its synchronous loop was stopped in the target"
      : "Evaluation interrupted";
    pending.interrupted.resolve({
      kind: "error",
      name: "Interrupted",
      message,
      text: stopped
        ? "Interrupted (the loop was stopped in the target)"
        : "Interrupted",
    });
    return true;
  }

  /**
   * Ends the session, leaving the target as it was found as far as the
   * session is concerned: the agent's global properties (`_`, `_error`,
   * `inspect`, `help`) are removed, variables the session declared are set
   * to `undefined` so what they held can be collected (their names stay:
   * REPL declarations cannot be undone), and every object handle is
   * released. The link stays open: closing the target's inspector is the
   * caller's (see leave_target.ts). Idempotent.
   *
   * @returns The names of the session variables released.
   */
  async close(): Promise<void> {
    await this.detach();
  }

  /**
   * {@linkcode RemoteSession.close}, telling what was released.
   *
   * @returns The session variables set to `undefined`.
   */
  async detach(): Promise<string[]> {
    if (this.#closing) return [];
    this.#closing = true;
    this.#pending?.interrupted.resolve({
      kind: "error",
      name: "Interrupted",
      message: "The session was closed",
      text: "Interrupted",
    });
    if (this.#link.closed) return [];
    const released: string[] = [];
    try {
      await this.#callAgent("remove", []);
      const { names } = await this.#link.post<{ names: string[] }>(
        "Runtime.globalLexicalScopeNames",
        {},
        { timeoutMs: AGENT_TIMEOUT_MS },
      );
      // What the session declared, and lexical names that are new since
      // it started (however they came).
      const session = new Set(this.#declared);
      for (const name of names) {
        if (!this.#lexicalAtStart.has(name)) session.add(name);
      }
      for (const name of session) {
        if (await this.#release(name)) released.push(name);
      }
    } catch {
      // The target went away or does not answer: nothing more to undo here.
    }
    for (const objectGroup of [RESULT_GROUP, COMPLETION_GROUP, AGENT_GROUP]) {
      await this.#link.post("Runtime.releaseObjectGroup", { objectGroup }, {
        timeoutMs: AGENT_TIMEOUT_MS,
      }).catch(() => {});
    }
    await this.#link.post("Runtime.disable", {}, {
      timeoutMs: AGENT_TIMEOUT_MS,
    })
      .catch(() => {});
    return released;
  }

  /** Sets a session variable to `undefined` (a `const` by declaring it again). */
  async #release(name: string): Promise<boolean> {
    if (!/^[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*$/u.test(name)) {
      return false;
    }
    for (
      const expression of [`${name} = undefined`, `const ${name} = undefined`]
    ) {
      const { exceptionDetails } = await this.#link.post<EvaluateResult>(
        "Runtime.evaluate",
        { expression, replMode: true, silent: true },
        { timeoutMs: AGENT_TIMEOUT_MS },
      );
      if (exceptionDetails === undefined) return true;
    }
    return false;
  }

  /** Adds a thrown value's frames to the known ones; returns them all. */
  #rememberFrames(frames: ProtocolFrame[]): ProtocolFrame[] {
    const ours = frames.filter((frame) =>
      frame.url === SNIPPET_URL || frame.url === AGENT_URL
    );
    this.#knownFrames = [...ours, ...this.#knownFrames].slice(
      0,
      MAX_KNOWN_FRAMES,
    );
    return this.#knownFrames;
  }

  #spec(json: boolean): PresentSpec {
    return {
      limits: DEFAULT_LIMITS,
      colors: this.#colors,
      maxChars: this.#maxChars,
      // The most of a text worth sending: a little over what can be shown.
      capChars: this.#maxChars + 1024,
      json,
    };
  }

  #onConsoleCall(call: ConsoleApiCall): void {
    if (this.#closing) return;
    if (this.#queued >= MAX_QUEUED_CONSOLE_CALLS) {
      this.#dropped++;
      return;
    }
    this.#queued++;
    this.#consoleQueue = this.#consoleQueue.then(async () => {
      this.#queued--;
      if (this.#dropped > 0) {
        const dropped = this.#dropped;
        this.#dropped = 0;
        this.#emit(
          "stderr",
          `… ${dropped} console call${
            dropped === 1 ? "" : "s"
          } of the target dropped (it logs faster than they can be shown)\n`,
        );
      }
      try {
        const line = await this.#console.format(call);
        if (line !== undefined) this.#emit(line.stream, line.text);
      } catch {
        // The target went away meanwhile: the session reports the loss.
      }
    });
  }

  #emit(stream: "stdout" | "stderr", text: string): void {
    const handlers = this.#pending?.handlers.output
      ? this.#pending.handlers
      : this.background;
    handlers.output?.(stream, text);
  }

  async #renderArgs(args: RemoteObject[]): Promise<Array<MeasuredText | null>> {
    const rendered = await this.#callAgent<Array<MeasuredText | null>>(
      "formatArgs",
      [{ value: this.#spec(false) }, ...args.map(callArgument)],
    );
    return Array.isArray(rendered) ? rendered : [];
  }

  #callAgent<T>(
    method: string,
    args: CallArgument[],
    timeoutMs = AGENT_TIMEOUT_MS,
  ): Promise<T> {
    return callAgent<T>(this.#link, this.#agentId, method, args, timeoutMs);
  }
}

/** Installs the agent in the target; returns its handle. */
async function installAgent(
  link: WebSocketLink,
  options: RemoteSessionOptions,
): Promise<string> {
  const timeout = { timeoutMs: AGENT_TIMEOUT_MS };
  const fail = (details: EvaluateResult["exceptionDetails"]) =>
    new ConsoleClientError(
      `cannot start the session in pid ${options.pid}: ${
        details?.exception?.description?.split("\n")[0] ?? details?.text ??
          "the inspector returned no object"
      }`,
    );
  // Node's `require` (before 20.16 the only way to node:util in an ES
  // module) comes from the command line API; `undefined` elsewhere.
  const nodeRequire = await link.post<EvaluateResult>("Runtime.evaluate", {
    expression: `typeof require === "function" ? require : undefined`,
    includeCommandLineAPI: true,
    objectGroup: AGENT_GROUP,
    silent: true,
  }, timeout);
  const factory = await link.post<EvaluateResult>("Runtime.evaluate", {
    expression: agentExpression({
      inspectLimits: INSPECT_LIMITS,
      help: options.help,
      snippetUrl: SNIPPET_URL,
    }),
    objectGroup: AGENT_GROUP,
    silent: true,
  }, timeout);
  if (
    factory.exceptionDetails !== undefined ||
    factory.result.objectId === undefined
  ) {
    throw fail(factory.exceptionDetails);
  }
  const agent = await link.post<EvaluateResult>("Runtime.callFunctionOn", {
    functionDeclaration: "function (nodeRequire) { return this(nodeRequire); }",
    objectId: factory.result.objectId,
    arguments: [
      nodeRequire.exceptionDetails === undefined
        ? callArgument(nodeRequire.result)
        : {},
    ],
    objectGroup: AGENT_GROUP,
    silent: true,
  }, timeout);
  if (
    agent.exceptionDetails !== undefined || agent.result.objectId === undefined
  ) {
    throw fail(agent.exceptionDetails);
  }
  return agent.result.objectId;
}

/** Calls one of the agent's methods, by value. */
async function callAgent<T>(
  link: WebSocketLink,
  agentId: string,
  method: string,
  args: CallArgument[],
  timeoutMs = AGENT_TIMEOUT_MS,
): Promise<T> {
  const { result, exceptionDetails } = await link.post<EvaluateResult>(
    "Runtime.callFunctionOn",
    {
      functionDeclaration: `function (...args) { return this[${
        JSON.stringify(method)
      }](...args); }`,
      objectId: agentId,
      arguments: args,
      returnByValue: true,
      silent: true,
    },
    { timeoutMs },
  );
  if (exceptionDetails !== undefined) {
    throw new ConsoleClientError(
      `the session's helper in the target failed (${method}): ${
        exceptionDetails.exception?.description?.split("\n")[0] ??
          exceptionDetails.text ?? "unknown error"
      }`,
    );
  }
  return result.value as T;
}

function asNames(value: unknown): string[] {
  return Array.isArray(value)
    ? value.filter((name): name is string => typeof name === "string")
    : [];
}
