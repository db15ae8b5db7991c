/**
 * acorn, the JavaScript parser the evaluator uses, pinned here once.
 *
 * The console's modules import npm packages by full `npm:` specifier, from
 * files like this one, rather than by bare name through deno.json's
 * `imports`: a program that imports `console/mod.ts` by path resolves bare
 * names through its own deno.json, where they are not. Everything else
 * imports acorn from here.
 *
 * @module
 */

export * from "npm:acorn@8.19.0";
