/**
 * sucrase, which strips TypeScript from snippets, pinned here once (see
 * `acorn.ts` for why by full specifier). Loaded with the first snippet that
 * needs it.
 *
 * @module
 */

export * from "npm:sucrase@3.35.1";
