/**
 * Names in the developer's terms for what holds an object: module bindings
 * (`cache` of `lib/users.ts`, exported or not; a CommonJS module's or a
 * classic script's top-level variables), global variables, closures
 * (function name and where it is defined), closure variables and
 * console-session variables, found in the snapshot's module records,
 * contexts, global objects and scripts. Also marks what belongs to the
 * console, so the queries can leave it out.
 *
 * @module
 */

import type { HeapGraph } from "./graph.ts";

/** A name a developer knows for a node. */
export interface Holder {
  /**
   * `export`: an exported module binding; `module`: a module-level binding
   * that is not exported (or, with an empty name, the module itself), also
   * a CommonJS module's or a classic script's top-level variable;
   * `global`: a property of the global object (`globalThis.x`, `var x` in
   * a classic script); `closure`: a function; `context`: a variable a
   * closure captured; `session`: a console session's variable.
   */
  kind: "export" | "module" | "global" | "closure" | "context" | "session";
  /** Binding, function or variable name (`""` for an anonymous function). */
  name: string;
  /** The module's or the function's script URL, when known. */
  url?: string;
  /** Closures: 0-based line in the code V8 runs. */
  line?: number;
  /** Closures: 0-based column in the code V8 runs. */
  column?: number;
}

/** Where a console session keeps its variables: a closure variable of one script. */
export interface SessionSlot {
  /** The end of the script's URL, e.g. `/console/eval/scope.ts`. */
  script: string;
  /** The captured variable holding the session's variables, e.g. `vars`. */
  variable: string;
}

/** What belongs to whom, for {@link HolderIndex.seeds}. */
export interface Ownership {
  /**
   * Parts of script URLs that belong to the console (a folder URL such as
   * `file:///app/console/`, or a package path such as
   * `/registry.npmjs.org/acorn/`): their closures, modules, scopes and
   * suspended functions, and whatever only they hold, are the console's.
   */
  consoleScripts?: string[];
  /** Where console sessions keep their variables (shown as the session's). */
  sessionSlots?: SessionSlot[];
}

/** Seed kinds of {@link HolderIndex.seeds}. */
export const SEED_SESSION = 2;
/** A console-owned node. */
export const SEED_CONSOLE = 3;

const SCRIPT_PREFIX = "system / Script / ";
const MODULE_NAME = "system / SourceTextModule";
const CELL_NAME = "system / Cell";
const CONTEXT_PREFIX = "system / Context";
const NATIVE_CONTEXT_PREFIX = "system / NativeContext";

const enum Name {
  Other,
  Extension,
  Shared,
  Script,
  Function,
  Context,
  Value,
  Callback,
  Previous,
  GlobalObject,
  GlobalProxy,
}

/** The edge names the index follows; any other is {@link Name.Other}. */
const NAME_CODES: ReadonlyMap<string, Name> = new Map([
  ["extension", Name.Extension],
  ["shared", Name.Shared],
  ["script", Name.Script],
  // V8 11 (Node 20): a shared function info's script, under its own name.
  ["script_or_debug_info", Name.Script],
  ["function", Name.Function],
  ["context", Name.Context],
  ["value", Name.Value],
  ["_onTimeout", Name.Callback],
  ["callback", Name.Callback],
  ["previous", Name.Previous],
  ["global_object", Name.GlobalObject],
  ["global_proxy", Name.GlobalProxy],
]);

/**
 * Module records, module scopes, exports and closure scripts of one graph,
 * indexed in one pass over the edges.
 *
 * @example
 * ```ts ignore
 * const index = new HolderIndex(graph);
 * index.closure(node); // { kind: "closure", name: "load", url, line, column }
 * ```
 */
export class HolderIndex {
  readonly #graph: HeapGraph;
  /** Module context → its module record. */
  readonly #moduleOfContext = new Map<number, number>();
  /** Export cell → binding name and module. */
  readonly #exports = new Map<number, { name: string; module: number }>();
  readonly #moduleUrl = new Map<number, string>();
  readonly #names: Int8Array;
  readonly #isModule = new Set<number>();
  readonly #contexts: number[] = [];
  readonly #nativeContexts: number[] = [];
  /** Top-level scope of a script or CommonJS module → a URL ("": unknown). */
  #scriptScopes: Map<number, string> | undefined;
  /** Global objects (`globalThis` of each realm). */
  #globals: Set<number> | undefined;

  /**
   * Indexes a graph.
   *
   * @param graph The graph.
   */
  constructor(graph: HeapGraph) {
    this.#graph = graph;
    this.#names = new Int8Array(graph.strings.length).fill(-1);
    const modules: number[] = [];
    const contexts = this.#contexts;
    const nativeContexts = this.#nativeContexts;
    // Per name string: 1 module record, 2 context, 3 native context, 0
    // other (tested once).
    const kindOfName = new Int8Array(graph.strings.length).fill(-1);
    const nodes = graph.nodes;
    const nf = graph.nodeFieldCount;
    const nameAt = graph.nameOffset;
    for (let n = 0; n < graph.nodeCount; n++) {
      const name = nodes[n * nf + nameAt]!;
      let kind = kindOfName[name]!;
      if (kind < 0) {
        const text = graph.strings.get(name);
        kind = text === MODULE_NAME
          ? 1
          : text.startsWith(CONTEXT_PREFIX)
          ? 2
          : text.startsWith(NATIVE_CONTEXT_PREFIX)
          ? 3
          : 0;
        kindOfName[name] = kind;
      }
      if (kind === 1) modules.push(n);
      else if (kind === 2) contexts.push(n);
      else if (kind === 3) nativeContexts.push(n);
    }
    if (modules.length === 0) return;
    const isModule = this.#isModule;
    for (const m of modules) isModule.add(m);
    // A module's scope points at its module record (`extension`).
    for (const n of contexts) {
      const end = graph.firstEdge[n + 1]!;
      for (let e = graph.firstEdge[n]!; e < end; e++) {
        if (
          this.#nameOf(e) === Name.Extension &&
          isModule.has(graph.edgeTarget(e))
        ) {
          this.#moduleOfContext.set(n, graph.edgeTarget(e));
        }
      }
    }
    for (const m of modules) this.#indexExports(m);
  }

  /**
   * A closure's name, script and position.
   *
   * @param node A closure's ordinal.
   * @returns Its holder description.
   */
  closure(node: number): Holder {
    const graph = this.#graph;
    const at = graph.location(node);
    const url = this.closureUrl(node);
    return {
      kind: "closure",
      name: graph.nodeName(node),
      ...(url ? { url } : {}),
      ...(at ? { line: at.line, column: at.column } : {}),
    };
  }

  /**
   * The script URL of a closure (through its shared function info).
   *
   * @param node A closure's ordinal.
   * @returns The URL, or `""`.
   */
  closureUrl(node: number): string {
    const graph = this.#graph;
    const shared = this.#childNamed(node, Name.Shared);
    if (shared < 0) return "";
    const script = this.#childNamed(shared, Name.Script);
    return script < 0 ? "" : scriptUrl(graph.nodeName(script), true);
  }

  /**
   * The name that the hop `edge` (from `from`) gives the node it reaches,
   * when it is a binding a developer wrote: a module's (exported or not) or
   * a closure's variable.
   *
   * @param edge Edge ordinal.
   * @param from Its source.
   * @returns The holder, or undefined.
   */
  hop(edge: number, from: number): Holder | undefined {
    const graph = this.#graph;
    const type = graph.edgeType(edge);
    if (type === "context") {
      const name = String(graph.edgeName(edge));
      const module = this.#moduleOfContext.get(from);
      if (module !== undefined) {
        return { kind: "module", name, url: this.moduleUrl(module) };
      }
      const script = this.#scriptScopeUrls().get(from);
      if (script !== undefined) {
        return { kind: "module", name, ...(script ? { url: script } : {}) };
      }
      return { kind: "context", name };
    }
    if (type === "property" && this.#globalObjects().has(from)) {
      return { kind: "global", name: String(graph.edgeName(edge)) };
    }
    if (this.#isModule.has(from) && type !== "weak") {
      return { kind: "module", name: "", url: this.moduleUrl(from) };
    }
    if (type === "internal" && this.#nameOf(edge) === Name.Value) {
      const cell = this.#exports.get(from);
      if (cell) {
        return {
          kind: "export",
          name: cell.name,
          url: this.moduleUrl(cell.module),
        };
      }
    }
    return undefined;
  }

  /**
   * A module record's URL, found through its function's script.
   *
   * @param module A `SourceTextModule` ordinal.
   * @returns The URL, or `""`.
   */
  moduleUrl(module: number): string {
    let url = this.#moduleUrl.get(module);
    if (url !== undefined) return url;
    url = "";
    const graph = this.#graph;
    // module → (generator → function | function | shared info) → shared
    // info → script: follow only those named edges.
    const routes = [
      [Name.Script],
      [Name.Shared, Name.Script],
      [Name.Function, Name.Shared, Name.Script],
    ];
    const end = graph.firstEdge[module + 1]!;
    for (let e = graph.firstEdge[module]!; e < end && url === ""; e++) {
      const start = graph.edgeTarget(e);
      if (this.#isScript(start)) {
        url = scriptUrl(graph.nodeName(start));
        break;
      }
      for (const route of routes) {
        let at = start;
        for (const step of route) {
          if (at < 0) break;
          at = this.#childNamed(at, step);
        }
        // The last hop is a script edge: its target is the script, named
        // bare in V8 11 (Node 20).
        const found = at >= 0 ? scriptUrl(graph.nodeName(at), true) : "";
        if (found !== "") {
          url = found;
          break;
        }
      }
    }
    this.#moduleUrl.set(module, url);
    return url;
  }

  /**
   * Marks the nodes that start the console's and the sessions' parts of the
   * heap: the console's closures, module records, scripts, scopes and
   * suspended functions (kind {@link SEED_CONSOLE}), and the objects holding
   * a session's variables ({@link SEED_SESSION}).
   *
   * @param ownership Which scripts are the console's.
   * @returns Seed kind per node (0: none).
   */
  seeds(ownership: Ownership): Uint8Array {
    const graph = this.#graph;
    const seeds = new Uint8Array(graph.nodeCount);
    const parts = ownership.consoleScripts ?? [];
    const slots = ownership.sessionSlots ?? [];
    if (parts.length === 0) return seeds;
    const isConsole = (url: string) =>
      url !== "" && parts.some((p) => url.includes(p));
    const closureCode = graph.nodeTypes.indexOf("closure");
    const consoleClosure = new Uint8Array(graph.nodeCount);
    for (let n = 0; n < graph.nodeCount; n++) {
      if (graph.nodeTypeCode(n) === closureCode) {
        const url = this.closureUrl(n);
        if (!isConsole(url)) continue;
        seeds[n] = SEED_CONSOLE;
        consoleClosure[n] = 1;
        const context = this.#childNamed(n, Name.Context);
        if (context >= 0) {
          seeds[context] = SEED_CONSOLE;
          for (const slot of slots) {
            if (!url.endsWith(slot.script)) continue;
            const vars = graph.child(context, slot.variable);
            if (vars >= 0) seeds[vars] = SEED_SESSION;
          }
        }
      } else if (this.#isScript(n)) {
        if (isConsole(scriptUrl(graph.nodeName(n)))) seeds[n] = SEED_CONSOLE;
      }
    }
    for (const module of new Set(this.#moduleOfContext.values())) {
      if (isConsole(this.moduleUrl(module))) seeds[module] = SEED_CONSOLE;
    }
    for (const [context, module] of this.#moduleOfContext) {
      if (seeds[module] === SEED_CONSOLE) seeds[context] = SEED_CONSOLE;
    }
    // Suspended async functions and generators of the console: their
    // function is a console closure; their scope is the console's too. So
    // are timers whose callback is the console's.
    for (let n = 0; n < graph.nodeCount; n++) {
      const end = graph.firstEdge[n + 1]!;
      for (let e = graph.firstEdge[n]!; e < end; e++) {
        const name = this.#nameOf(e);
        if (
          name === Name.Callback && consoleClosure[graph.edgeTarget(e)] === 1
        ) {
          seeds[n] = SEED_CONSOLE;
        }
        if (
          name === Name.Function &&
          consoleClosure[graph.edgeTarget(e)] === 1
        ) {
          seeds[n] = SEED_CONSOLE;
          const context = this.#childNamed(n, Name.Context);
          if (context >= 0 && seeds[context] === 0) {
            seeds[context] = SEED_CONSOLE;
          }
        }
      }
    }
    return seeds;
  }

  /**
   * The top-level scopes of scripts and CommonJS modules (whose variables
   * are not module records'): contexts that sit right under a realm's
   * native context, each with the script of a closure made in it.
   */
  #scriptScopeUrls(): Map<number, string> {
    if (this.#scriptScopes) return this.#scriptScopes;
    const graph = this.#graph;
    const natives = new Set(this.#nativeContexts);
    const scopes = new Map<number, string>();
    for (const n of this.#contexts) {
      if (this.#moduleOfContext.has(n)) continue;
      const previous = this.#childNamed(n, Name.Previous);
      if (previous >= 0 && natives.has(previous)) scopes.set(n, "");
    }
    if (scopes.size > 0) {
      const closureCode = graph.nodeTypes.indexOf("closure");
      let unnamed = scopes.size;
      for (let n = 0; n < graph.nodeCount && unnamed > 0; n++) {
        if (graph.nodeTypeCode(n) !== closureCode) continue;
        const scope = this.#childNamed(n, Name.Context);
        if (scopes.get(scope) !== "") continue;
        const url = this.closureUrl(n);
        if (url === "") continue;
        scopes.set(scope, url);
        unnamed--;
      }
    }
    this.#scriptScopes = scopes;
    return scopes;
  }

  /**
   * Global objects: what a native context names as its global object
   * (`global_object`, or `extension` in Node 20's V8) and that points back
   * at a global proxy.
   */
  #globalObjects(): Set<number> {
    if (this.#globals) return this.#globals;
    const graph = this.#graph;
    const globals = new Set<number>();
    for (const n of this.#nativeContexts) {
      const end = graph.firstEdge[n + 1]!;
      for (let e = graph.firstEdge[n]!; e < end; e++) {
        const name = this.#nameOf(e);
        if (name !== Name.GlobalObject && name !== Name.Extension) continue;
        const target = graph.edgeTarget(e);
        if (this.#childNamed(target, Name.GlobalProxy) >= 0) {
          globals.add(target);
        }
      }
    }
    this.#globals = globals;
    return globals;
  }

  #indexExports(module: number): void {
    const graph = this.#graph;
    const end = graph.firstEdge[module + 1]!;
    for (let e = graph.firstEdge[module]!; e < end; e++) {
      if (graph.edgeType(e) !== "hidden") continue;
      const table = graph.edgeTarget(e);
      if (graph.nodeType(table) !== "array") continue;
      // The exports table lists a name string, then its cell.
      let name: string | undefined;
      const last = graph.firstEdge[table + 1]!;
      for (let f = graph.firstEdge[table]!; f < last; f++) {
        const to = graph.edgeTarget(f);
        if (graph.isString(to)) name = graph.nodeName(to);
        else if (name !== undefined && graph.nodeName(to) === CELL_NAME) {
          if (!this.#exports.has(to)) this.#exports.set(to, { name, module });
          name = undefined;
        } else name = undefined;
      }
    }
  }

  #scriptName: Int8Array | undefined;

  /** Whether a node is a `Script` (name test cached per name string). */
  #isScript(node: number): boolean {
    const graph = this.#graph;
    this.#scriptName ??= new Int8Array(graph.strings.length).fill(-1);
    const name = graph.nodes[node * graph.nodeFieldCount + graph.nameOffset]!;
    let is = this.#scriptName[name]!;
    if (is < 0) {
      is = graph.strings.get(name).startsWith(SCRIPT_PREFIX) ? 1 : 0;
      this.#scriptName[name] = is;
    }
    return is === 1;
  }

  #childNamed(node: number, wanted: Name): number {
    const graph = this.#graph;
    const end = graph.firstEdge[node + 1]!;
    for (let e = graph.firstEdge[node]!; e < end; e++) {
      if (this.#nameOf(e) === wanted) return graph.edgeTarget(e);
    }
    return -1;
  }

  #nameOf(edge: number): Name {
    const graph = this.#graph;
    const type = graph.edgeTypeCode(edge);
    if (type === graph.elementEdge || type === graph.hiddenEdge) {
      return Name.Other;
    }
    const raw = graph.edgeNameIndex(edge);
    if (raw >= this.#names.length) return Name.Other;
    let code = this.#names[raw]!;
    if (code < 0) {
      code = NAME_CODES.get(graph.strings.get(raw)) ?? Name.Other;
      this.#names[raw] = code;
    }
    return code;
  }
}

/**
 * A script's URL from its node's name: `system / Script / URL`, or, where
 * V8 11 (Node 20) names a script by its URL alone, any name that is not a
 * `system / ...` one when `bare` allows it.
 */
function scriptUrl(nodeName: string, bare = false): string {
  if (nodeName.startsWith(SCRIPT_PREFIX)) {
    return nodeName.slice(SCRIPT_PREFIX.length);
  }
  return bare && !nodeName.startsWith("system / ") ? nodeName : "";
}
