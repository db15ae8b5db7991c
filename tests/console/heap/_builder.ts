/**
 * Builds heap graphs the way V8 lays them out, for tests of leak grouping
 * and holder naming: nodes added one by one (ids in order, so later nodes
 * are "newer"), modules with their scope and script, closures with their
 * script and position, dictionaries, timers.
 *
 * @module
 */

import { HeapAnalysis } from "../../../console/heap/analysis.ts";
import type { Ownership } from "../../../console/heap/holders.ts";
import { SnapshotParser } from "../../../console/heap/parser.ts";
import { type FixtureNode, makeSnapshot, split } from "./_fixture.ts";

/** A heap under construction. */
export class HeapBuilder {
  /** The nodes; 0 is the root, 1 the global handles. */
  readonly nodes: FixtureNode[] = [
    { type: "synthetic", name: "", size: 0, edges: [] },
    { type: "synthetic", name: "(Global handles)", size: 0, edges: [] },
  ];
  readonly #locations: Array<[number, number, number]> = [];
  #handles = 0;

  constructor() {
    this.edge(0, "element", 1, 1);
  }

  /** Adds a node; returns its index. */
  node(type: string, name: string, size: number): number {
    this.nodes.push({ type, name, size, edges: [] });
    return this.nodes.length - 1;
  }

  /** Adds an edge. */
  edge(from: number, type: string, name: string | number, to: number): void {
    this.nodes[from]!.edges!.push({ type, name, to });
  }

  /** A property edge. */
  prop(from: number, name: string, to: number): void {
    this.edge(from, "property", name, to);
  }

  /** Holds a node from the global handles (a GC root). */
  root(to: number): void {
    this.edge(1, "internal", String(this.#handles++), to);
  }

  /** A script node for a URL. */
  script(url: string): number {
    return this.node("code", `system / Script / ${url}`, 40);
  }

  /** A closure of `script` named `name` defined at 0-based `line`. */
  closure(name: string, script: number, line = 0): number {
    const fn = this.node("closure", name, 32);
    const shared = this.node("code", "system / SharedFunctionInfo", 40);
    this.edge(fn, "internal", "shared", shared);
    this.edge(shared, "internal", "script", script);
    this.#locations.push([fn, line, 2]);
    return fn;
  }

  /** A closure's scope; `vars` names its captured variables. */
  scope(fn: number, vars: Record<string, number>): number {
    const context = this.node("object", "system / Context", 40);
    this.edge(fn, "internal", "context", context);
    for (const [name, to] of Object.entries(vars)) {
      this.edge(context, "context", name, to);
    }
    return context;
  }

  /**
   * A module of `url` whose scope holds `bindings`; rooted from the global
   * handles like Deno's module map.
   */
  module(url: string, bindings: Record<string, number>): number {
    const record = this.node("native", "system / SourceTextModule", 100);
    this.root(record);
    const script = this.script(url);
    const body = this.closure("", script);
    const generator = this.node("object", "Generator", 40);
    this.edge(record, "hidden", 5, generator);
    this.edge(generator, "internal", "function", body);
    const context = this.scope(generator, bindings);
    this.edge(context, "internal", "extension", record);
    return script;
  }

  /** An object in dictionary mode (V8's map-like objects). */
  dictionary(name = "Object"): number {
    const object = this.node("object", name, 24);
    const store = this.node("array", "(object properties)", 64);
    this.edge(object, "internal", "properties", store);
    return object;
  }

  /** The analysis of the heap built so far. */
  analyse(ownership: Ownership = {}): HeapAnalysis {
    const parser = new SnapshotParser();
    const text = makeSnapshot(this.nodes, { locations: this.#locations });
    for (const c of split(text, 4093)) parser.push(c);
    return HeapAnalysis.from(parser.finish(), undefined, ownership);
  }

  /** The snapshot id a node gets (see `makeSnapshot`). */
  idOf(node: number): number {
    return node * 2 + 1;
  }
}
