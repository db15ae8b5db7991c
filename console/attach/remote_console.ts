/**
 * The target's console output (`Runtime.consoleAPICalled`) as text:
 * primitives formatted here, objects rendered in the target by its own
 * inspector, all laid out by the console's `formatArgs` (substitutions like
 * `%s`, group indentation), with the stream each method writes to.
 *
 * @module
 */

import { formatArgs } from "../eval/format_args.ts";
import { localPrimitive, type RemoteObject, standIn } from "./remote_values.ts";
import type { MeasuredText } from "./target_agent.ts";
import type { ProtocolFrame } from "./remote_stack.ts";

/** The params of a `Runtime.consoleAPICalled` event. */
export interface ConsoleApiCall {
  /** `log`, `error`, `warning`, `startGroup`, `endGroup`, `trace`, ... */
  type: string;
  /** The arguments. */
  args: RemoteObject[];
  /** Where it was called, for `trace`. */
  stackTrace?: {
    callFrames?: Array<ProtocolFrame & { functionName?: string }>;
  };
}

/** One piece of console output. */
export interface ConsoleLine {
  /** Where the target wrote it. */
  stream: "stdout" | "stderr";
  /** The text, ending in a newline. */
  text: string;
}

/** Renders the objects among the arguments in the target (`null` for the rest). */
export type RenderArgs = (
  args: RemoteObject[],
) => Promise<Array<MeasuredText | null>>;

const STDERR_TYPES = new Set(["error", "warning", "assert", "trace"]);
const GROUP_INDENT = 2;

/**
 * Turns console calls into lines, keeping the group indentation between
 * calls.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConsoleFormatter } from "./remote_console.ts";
 * const formatter = new ConsoleFormatter(() => Promise.resolve([]), false);
 * const string = (value: string) => ({ type: "string", value });
 * assert.deepEqual(
 *   await formatter.format({ type: "startGroup", args: [string("g")] }),
 *   { stream: "stdout", text: "g\n" },
 * );
 * assert.deepEqual(
 *   await formatter.format({ type: "warning", args: [string("%s!"), string("hi")] }),
 *   { stream: "stderr", text: "  hi!\n" },
 * );
 * ```
 */
export class ConsoleFormatter {
  #render: RenderArgs;
  #colors: boolean;
  #indent = 0;

  /**
   * @param render Renders objects in the target.
   * @param colors ANSI colours.
   */
  constructor(render: RenderArgs, colors: boolean) {
    this.#render = render;
    this.#colors = colors;
  }

  /**
   * Formats one call; a group's start prints its label (and indents what
   * follows), a group's end and `clear` print nothing.
   *
   * @param call The event's params.
   * @returns The line, or `undefined` when the call prints nothing.
   */
  async format(call: ConsoleApiCall): Promise<ConsoleLine | undefined> {
    const args = Array.isArray(call.args) ? call.args : [];
    switch (call.type) {
      case "endGroup":
        this.#indent = Math.max(0, this.#indent - GROUP_INDENT);
        return undefined;
      case "clear":
        return undefined;
    }
    const values = await this.#values(args);
    let text = formatArgs(values, {
      colors: this.#colors,
      indent: this.#indent,
    });
    if (call.type === "trace") {
      text += traceLines(call.stackTrace?.callFrames ?? [], this.#indent);
    }
    if (call.type === "startGroup" || call.type === "startGroupCollapsed") {
      this.#indent += GROUP_INDENT;
    }
    return {
      stream: STDERR_TYPES.has(call.type) ? "stderr" : "stdout",
      text: text + "\n",
    };
  }

  async #values(args: RemoteObject[]): Promise<unknown[]> {
    const local = args.map(localPrimitive);
    const rendered = local.every((value) => value !== undefined)
      ? []
      : await this.#render(args);
    return local.map((primitive, i) => {
      if (primitive !== undefined) return primitive.value;
      const measured = rendered[i];
      return measured ? standIn({ Infinity: measured }) : standIn({
        Infinity: {
          text: args[i]?.description ?? "[?]",
          length: (args[i]?.description ?? "[?]").length,
          lines: 1,
        },
      });
    });
  }
}

function traceLines(
  frames: Array<ProtocolFrame & { functionName?: string }>,
  indent: number,
): string {
  const pad = " ".repeat(indent + 4);
  return frames.map((frame) => {
    const where = `${frame.url || "<anonymous>"}:${frame.lineNumber + 1}:${
      frame.columnNumber + 1
    }`;
    return `\n${pad}at ${
      frame.functionName ? `${frame.functionName} (${where})` : where
    }`;
  }).join("");
}
