/**
 * The leak toolkit as a console's session scope: loaded with the first
 * session (a literal specifier, so `deno compile` embeds it), released when
 * the console closes. Start-up never loads the toolkit.
 *
 * @module
 */

import type { ScopeFactory } from "./server/session.ts";

/** What a console server takes to give its sessions the toolkit. */
export interface ToolkitHooks {
  /** Makes a session's toolkit (`mem`, `gc`, `heap`, `alloc`, ...). */
  scope: ScopeFactory;
  /** Stops what the toolkit started (sampler, worker, inspector link). */
  onClose(): Promise<void>;
}

/**
 * The toolkit's hooks for one console server.
 *
 * @returns The `scope` and `onClose` options of `startConsoleServer`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toolkitHooks } from "./toolkit_hooks.ts";
 * const hooks = toolkitHooks();
 * const scope = await hooks.scope({ progress: () => {} });
 * assert.equal(typeof scope.mem, "function");
 * await hooks.onClose();
 * ```
 */
export function toolkitHooks(): ToolkitHooks {
  let toolkit: Promise<typeof import("./toolkit/mod.ts")> | undefined;
  return {
    async scope(io) {
      toolkit ??= import("./toolkit/mod.ts");
      const { createToolkit } = await toolkit;
      return createToolkit(io);
    },
    async onClose() {
      if (toolkit !== undefined) await (await toolkit).closeToolkit();
    },
  };
}
