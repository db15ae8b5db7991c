/**
 * Which code is the console's own, for the toolkit: the rule itself lives
 * in `../heap/code_kinds.ts`, where the heap analysis worker can read it.
 *
 * @module
 */

export { isConsoleCode, isDeveloperCode } from "../heap/code_kinds.ts";
