/**
 * Heap snapshot analysis: an incremental V8 `.heapsnapshot` parser into typed
 * arrays, the analysis (census, shortest retaining paths, dominators,
 * retained sizes) and the worker client the toolkit uses to run it off the
 * service's isolate.
 *
 * ```ts ignore
 * import { HeapAnalysis, SnapshotParser } from "./mod.ts";
 * const parser = new SnapshotParser();
 * for (const chunk of chunks) parser.push(chunk);
 * const analysis = HeapAnalysis.from(parser.finish());
 * console.log(analysis.top(10), analysis.largest(5));
 * ```
 *
 * @module
 */

export {
  HeapAnalysis,
  type LargeObject,
  type NodeInfo,
  type PathStep,
  type ProgressFn,
  type RetainerGraphOptions,
  type RetainingPath,
  type SnapshotSummary,
} from "./analysis.ts";
export type { Census, ClassStats } from "./census.ts";
export {
  AnalysisClient,
  type AnalysisClientOptions,
  type WrittenSnapshot,
} from "./client.ts";
export { HeapGraph } from "./graph.ts";
export type { ShortestPaths } from "./reach.ts";
export {
  type RawSnapshot,
  type SnapshotMeta,
  SnapshotParser,
} from "./parser.ts";
export type { Query } from "./protocol.ts";
export { StringTable } from "./strings.ts";
