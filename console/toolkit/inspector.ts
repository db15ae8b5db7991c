/**
 * What the helpers use to reach the inspector: `post`, `listen` and the
 * capture lock, all through the process-wide state in toolkit_state.ts (the
 * link itself is inspector_link.ts).
 *
 * @module
 */

export type { InspectorLink } from "./inspector_link.ts";
export {
  closeInspector,
  collectCaptureGarbage,
  exclusive,
  listen,
  post,
} from "./toolkit_state.ts";
