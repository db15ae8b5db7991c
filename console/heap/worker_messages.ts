/**
 * Messages between the service's isolate and the heap analysis worker.
 *
 * @module
 */

import type { Ownership } from "./holders.ts";

/** A question about the snapshot the worker holds. */
export type Query =
  & (
    | { kind: "top"; n: number }
    | { kind: "deltas"; since: number }
    | {
      kind: "path";
      target: number | string;
      /** A type name picks among instances newer than this id (0: all). */
      since?: number;
    }
    | { kind: "largest"; n: number }
    | { kind: "groups"; n: number }
    | { kind: "leaks"; since: number; n: number }
    | {
      kind: "graph";
      target: number | string;
      since?: number;
      depth?: number;
      maxNodes?: number;
    }
  )
  & {
    /** Include the console's own objects. */
    all?: boolean;
  };

/** Messages the worker receives. */
export type WorkerRequest =
  | {
    id: number;
    op: "begin";
    totalBytes: number;
    file?: string;
    ownership?: Ownership;
  }
  | { id: number; op: "chunk"; data: string }
  | { id: number; op: "end" }
  | { id: number; op: "query"; query: Query };

/** Messages the worker sends back. */
export type WorkerReply =
  | { id: number; type: "ack" }
  | { id: number; type: "progress"; label: string; done: number; total: number }
  | { id: number; type: "result"; value: unknown }
  | { id: number; type: "error"; name: string; message: string };
