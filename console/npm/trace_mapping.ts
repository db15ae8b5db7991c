/**
 * `@jridgewell/trace-mapping`, the source map decoder behind `file.ts:line`
 * answers, pinned here once (see `acorn.ts` for why by full specifier).
 *
 * @module
 */

export * from "npm:@jridgewell/trace-mapping@0.3.31";
