/**
 * Names in the developer's terms for what holds an object: module bindings
 * (`cache` of `lib/users.ts`, exported or not; a CommonJS module's or a
 * classic script's top-level variables), properties of the global object
 * (`globalThis.registry`, `var x` in a classic script), static fields
 * (`Tracer.finished`), closures (function name and where it is defined),
 * closure variables (with the function whose scope holds them), timers (by
 * their callback) and console-session variables, found in the snapshot's
 * module records, contexts, global objects and scripts. Also marks what
 * belongs to the console, so the queries can leave it out.
 *
 * @module
 */

import { type HeapGraph, namePrefixTest } from "./graph.ts";
import { isDeveloperCode, isSnippetCode } from "./code_kinds.ts";
import { SEED_DEVELOPER, SEED_SNIPPET } from "./shortest_paths.ts";

/** A name a developer knows for a node. */
export interface Holder {
  /**
   * `export`: an exported module binding; `module`: a module-level binding
   * that is not exported (or, with an empty name, the module itself), also
   * a CommonJS module's or a classic script's top-level variable;
   * `global`: a property of the global object (`globalThis.x`, `var x` in
   * a classic script); `static`: a property of a function or class
   * (`owner` is the class); `closure`: a function; `context`: a variable a
   * closure captured (`owner` is the closure); `timer`: a pending
   * `setTimeout`/`setInterval` (`name`), `owner` its callback; `session`: a
   * console session's variable.
   */
  kind:
    | "export"
    | "module"
    | "global"
    | "static"
    | "closure"
    | "context"
    | "timer"
    | "session";
  /** Binding, property, function or variable name (`""` for an anonymous function). */
  name: string;
  /** The module's or the function's script URL, when known. */
  url?: string;
  /** Closures: 0-based line in the code V8 runs. */
  line?: number;
  /** Closures: 0-based column in the code V8 runs. */
  column?: number;
  /** The function a `context`, `static` or `timer` holder belongs to. */
  owner?: Holder;
}

/** Where a console session keeps its variables: a closure variable of one script. */
export interface SessionSlot {
  /** The end of the script's URL, e.g. `/console/eval/scope.ts`. */
  script: string;
  /** The captured variable holding the session's variables, e.g. `vars`. */
  variable: string;
  /**
   * The only properties that hold the operator's values (`_`, `_error`);
   * what the others hold is the console's (the helpers it gives every
   * session). Default: all of them.
   */
  only?: string[];
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
  /**
   * Closure variables of the console's scripts that hold a session's
   * machinery (the layers a snippet resolves names through): the
   * console's, though a function the session made reaches them through
   * its scope. So is any object holding a session's variables object by
   * a property (the layers a snippet is bound to).
   */
  sessionMachinery?: SessionSlot[];
}

/** Seed kinds of {@link HolderIndex.seeds}. */
export const SEED_SESSION = 2;
/** A console-owned node. */
export const SEED_CONSOLE = 3;
export { SEED_DEVELOPER, SEED_SNIPPET };

const SCRIPT_PREFIX = "system / Script / ";
const MODULE_NAME = "system / SourceTextModule";
const SYNTHETIC_MODULE_NAME = "system / SyntheticModule";
const CELL_NAME = "system / Cell";
const CONTEXT_PREFIX = "system / Context";
const NATIVE_CONTEXT_PREFIX = "system / NativeContext";
const REACTION_NAME = "system / PromiseReaction";

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
  // A native context's global object; Node 20's V8 lists it as `extension`.
  ["global_object", Name.GlobalObject],
  // A global object's proxy, and the way back from it.
  ["global_proxy", Name.GlobalProxy],
]);

/** Properties every function has: not static fields a developer wrote. */
const FUNCTION_PROPERTIES = new Set([
  "prototype",
  "__proto__",
  "name",
  "length",
  "arguments",
  "caller",
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
  /** Top-level scope of a script or CommonJS module → a URL ("": unknown). */
  #scriptScopes: Map<number, string> | undefined;
  /** Parts of the console's script URLs (given to `seeds`). */
  #consoleParts: readonly string[] = [];
  /** Objects holding console sessions' variables (found by `seeds`). */
  readonly #sessionScopes = new Set<number>();
  /** The realms' native contexts. */
  readonly #nativeContexts: number[] = [];
  /** The global objects (`globalThis` of each realm) and their proxies. */
  readonly #globals = new Set<number>();
  /** Context → a closure whose scope it is (made on first use). */
  #contextClosure: Map<number, number> | undefined;
  /** Context → a context whose `previous` it is (made with the above). */
  #innerContext: Map<number, number> | undefined;

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
    this.#indexGlobals();
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
    const script = this.closureScript(node);
    return script < 0 ? "" : this.#scriptUrlOf(script);
  }

  /**
   * The script a closure's code belongs to (through its shared info).
   *
   * @param node A closure's ordinal.
   * @returns The script's ordinal, or -1.
   */
  closureScript(node: number): number {
    const shared = this.#childNamed(node, Name.Shared);
    return shared < 0 ? -1 : this.#childNamed(shared, Name.Script);
  }

  /**
   * Whether a node is a module record (`SourceTextModule` or a synthetic
   * module such as `node:process`).
   *
   * @param node Ordinal.
   * @returns True for a module record.
   */
  isModuleRecord(node: number): boolean {
    if (this.#isModule.has(node)) return true;
    const name = this.#graph.nodeName(node);
    return name === MODULE_NAME || name === SYNTHETIC_MODULE_NAME;
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
      const fn = this.contextClosure(from);
      return {
        kind: "context",
        name,
        ...(fn >= 0 ? { owner: this.closure(fn) } : {}),
      };
    }
    if (type === "property") {
      const name = String(graph.edgeName(edge));
      if (this.#globals.has(from)) return { kind: "global", name };
      if (
        graph.nodeType(from) === "closure" && !FUNCTION_PROPERTIES.has(name)
      ) {
        return { kind: "static", name, owner: this.closure(from) };
      }
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
   * Whether a script URL is the console's, as the ownership given to
   * {@link HolderIndex.seeds} says (nothing is without one).
   *
   * @param url A script URL.
   * @returns True for the console's code.
   */
  isConsoleUrl(url: string): boolean {
    return url !== "" && this.#consoleParts.some((p) => url.includes(p));
  }

  /**
   * Whether a node is a global object (`globalThis`) or its proxy.
   *
   * @param node Ordinal.
   * @returns True for the global object.
   */
  isGlobal(node: number): boolean {
    return this.#globals.has(node);
  }

  /**
   * A closure whose scope a context is: one that points at it, or at a
   * context nested in it (a developer's function preferred).
   *
   * @param context A context's ordinal.
   * @returns The closure's ordinal, or -1.
   */
  contextClosure(context: number): number {
    if (this.#contextClosure === undefined) this.#indexContexts();
    for (let at = context, hops = 0; hops < 64; hops++) {
      const fn = this.#contextClosure!.get(at);
      if (fn !== undefined) return fn;
      const inner = this.#innerContext!.get(at);
      if (inner === undefined) return -1;
      at = inner;
    }
    return -1;
  }

  #indexContexts(): void {
    const graph = this.#graph;
    const closures = new Map<number, number>();
    const inner = new Map<number, number>();
    const closureCode = graph.nodeTypes.indexOf("closure");
    // Only closures (their scope) and contexts (the scope they nest in)
    // matter: their edges are read, no one else's.
    const isContext = namePrefixTest(graph, CONTEXT_PREFIX);
    for (let n = 0; n < graph.nodeCount; n++) {
      const isClosure = graph.nodeTypeCode(n) === closureCode;
      if (!isClosure && !isContext(n)) continue;
      const end = graph.firstEdge[n + 1]!;
      for (let e = graph.firstEdge[n]!; e < end; e++) {
        const name = this.#nameOf(e);
        const to = graph.edgeTarget(e);
        if (isClosure && name === Name.Context) {
          const known = closures.get(to);
          if (known === undefined || !isAppUrl(this.closureUrl(known))) {
            closures.set(to, n);
          }
          break;
        } else if (name === Name.Previous && !inner.has(to)) {
          inner.set(to, n);
          break;
        }
      }
    }
    this.#contextClosure = closures;
    this.#innerContext = inner;
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
        url = this.#scriptUrlOf(start);
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
        const found = at >= 0 ? this.#scriptUrlOf(at) : "";
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
    const machinery = ownership.sessionMachinery ?? [];
    this.#consoleParts = parts;
    if (parts.length === 0) return seeds;
    const isConsole = (url: string) => this.isConsoleUrl(url);
    const closureCode = graph.nodeTypes.indexOf("closure");
    const consoleClosure = new Uint8Array(graph.nodeCount);
    const builtins: number[] = [];
    // Session scopes whose other properties hold the console's helpers.
    const sessionOnly = new Map<number, Set<string>>();
    for (let n = 0; n < graph.nodeCount; n++) {
      if (graph.nodeTypeCode(n) === closureCode) {
        const url = this.closureUrl(n);
        if (url === "") builtins.push(n);
        if (!isConsole(url)) {
          if (isSnippetCode(url)) seeds[n] = SEED_SNIPPET;
          else if (isAppUrl(url)) seeds[n] = SEED_DEVELOPER;
          continue;
        }
        seeds[n] = SEED_CONSOLE;
        consoleClosure[n] = 1;
        const context = this.#childNamed(n, Name.Context);
        if (context >= 0) {
          seeds[context] = SEED_CONSOLE;
          for (const slot of slots) {
            if (!url.endsWith(slot.script)) continue;
            const vars = graph.child(context, slot.variable);
            if (vars >= 0) {
              seeds[vars] = SEED_SESSION;
              this.#sessionScopes.add(vars);
              if (slot.only) sessionOnly.set(vars, new Set(slot.only));
            }
          }
          for (const slot of machinery) {
            if (!url.endsWith(slot.script)) continue;
            const held = graph.child(context, slot.variable);
            if (held >= 0) seeds[held] = SEED_CONSOLE;
          }
        }
      } else if (this.#isScript(n)) {
        if (isConsole(this.#scriptUrlOf(n))) seeds[n] = SEED_CONSOLE;
      }
    }
    this.#sessionHelpers(seeds, sessionOnly);
    for (const module of new Set(this.#moduleOfContext.values())) {
      if (isConsole(this.moduleUrl(module))) seeds[module] = SEED_CONSOLE;
    }
    for (const [context, module] of this.#moduleOfContext) {
      if (seeds[module] === SEED_CONSOLE) seeds[context] = SEED_CONSOLE;
    }
    // Suspended async functions and generators of the console: their
    // function is a console closure; their scope is the console's too. So
    // are timers whose callback is the console's, and objects holding a
    // session's variables by a property (the layers a snippet is bound to:
    // a hook the session made reaches them through its scope).
    const scopes = this.#sessionScopes;
    const propertyEdge = graph.edgeTypes.indexOf("property");
    for (let n = 0; n < graph.nodeCount; n++) {
      const end = graph.firstEdge[n + 1]!;
      for (let e = graph.firstEdge[n]!; e < end; e++) {
        if (
          seeds[n] === 0 && graph.edgeTypeCode(e) === propertyEdge &&
          scopes.has(graph.edgeTarget(e))
        ) {
          seeds[n] = SEED_CONSOLE;
        }
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
    this.#consoleAsync(seeds, builtins);
    return seeds;
  }

  /**
   * The console's helpers beside a session's values, which a function the
   * session made reaches through its scope before the console does: what
   * a session scope's other properties hold (see {@link SessionSlot.only}).
   */
  #sessionHelpers(
    seeds: Uint8Array,
    sessionOnly: Map<number, Set<string>>,
  ): void {
    const graph = this.#graph;
    const propertyEdge = graph.edgeTypes.indexOf("property");
    const mark = (n: number) => {
      if (seeds[n] === 0) seeds[n] = SEED_CONSOLE;
    };
    for (const [scope, only] of sessionOnly) {
      const end = graph.firstEdge[scope + 1]!;
      for (let e = graph.firstEdge[scope]!; e < end; e++) {
        if (graph.edgeTypeCode(e) !== propertyEdge) continue;
        if (!only.has(String(graph.edgeName(e)))) mark(graph.edgeTarget(e));
      }
    }
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
   * The console's pending async work is the console's too: the runtime's
   * functions (no script) that resume a console async function or resolve
   * a promise only the console awaits, the reactions that call them, and
   * promises whose every reaction is the console's. Found by propagating
   * from the console's suspended functions a few times over.
   */
  #consoleAsync(seeds: Uint8Array, builtins: number[]): void {
    const graph = this.#graph;
    const promises: number[] = [];
    const reactions: number[] = [];
    // Per name string: 1 Promise, 2 reaction, 0 other (tested once).
    const kindOfName = new Int8Array(graph.strings.length).fill(-1);
    const nf = graph.nodeFieldCount;
    for (let n = 0; n < graph.nodeCount; n++) {
      const name = graph.nodes[n * nf + graph.nameOffset]!;
      let kind = kindOfName[name]!;
      if (kind < 0) {
        const text = graph.strings.get(name);
        kind = text === "Promise" ? 1 : text === REACTION_NAME ? 2 : 0;
        kindOfName[name] = kind;
      }
      if (kind === 1 && graph.nodeType(n) === "object") promises.push(n);
      else if (kind === 2) reactions.push(n);
    }
    const isConsole = (n: number) => n >= 0 && seeds[n] === SEED_CONSOLE;
    for (let round = 0, changed = true; changed && round < 8; round++) {
      changed = false;
      for (const fn of builtins) {
        if (seeds[fn] !== 0) continue;
        const context = this.#childNamed(fn, Name.Context);
        if (context < 0 || seeds[context] === SEED_SESSION) continue;
        let mine = isConsole(context) ||
          isConsole(this.#childNamed(context, Name.Extension));
        if (!mine) {
          const end = graph.firstEdge[context + 1]!;
          for (let e = graph.firstEdge[context]!; e < end && !mine; e++) {
            const to = graph.edgeTarget(e);
            mine = graph.edgeTypeCode(e) === graph.hiddenEdge &&
              isConsole(to) && graph.nodeName(to) === "Promise";
          }
        }
        if (!mine) continue;
        seeds[fn] = SEED_CONSOLE;
        if (seeds[context] === 0) seeds[context] = SEED_CONSOLE;
        changed = true;
      }
      for (const r of reactions) {
        if (seeds[r] !== 0) continue;
        const end = graph.firstEdge[r + 1]!;
        for (let e = graph.firstEdge[r]!; e < end; e++) {
          const to = graph.edgeTarget(e);
          if (graph.nodeTypeCode(to) === this.#closureType && isConsole(to)) {
            seeds[r] = SEED_CONSOLE;
            changed = true;
            break;
          }
        }
      }
      for (const p of promises) {
        if (seeds[p] !== 0) continue;
        // Pending: its reactions, linked by `next`; every one the console's.
        let at = graph.child(p, "reactions_or_result");
        let any = false;
        let all = true;
        for (let hops = 0; at >= 0 && hops < 1_000; hops++) {
          if (graph.nodeName(at) !== REACTION_NAME) break;
          any = true;
          if (!isConsole(at)) {
            all = false;
            break;
          }
          at = graph.child(at, "next");
        }
        if (any && all) {
          seeds[p] = SEED_CONSOLE;
          changed = true;
        }
      }
    }
  }

  get #closureType(): number {
    return this.#graph.nodeTypes.indexOf("closure");
  }

  /**
   * Whether a node is an object in which a console session keeps its
   * variables (see {@link Ownership.sessionSlots}).
   *
   * @param node Ordinal.
   * @returns True for a session scope.
   */
  isSessionScope(node: number): boolean {
    return this.#sessionScopes.has(node);
  }

  /**
   * The objects in which console sessions keep their variables.
   *
   * @returns Their ordinals.
   */
  sessionScopes(): number[] {
    return [...this.#sessionScopes];
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

  /**
   * A script's URL: its name, or for code compiled by `new Function` (no
   * name) the `//# sourceURL=` it gave itself (`<console:3>`), which the
   * snapshot lists as an unnamed string of the script.
   */
  #scriptUrlOf(script: number): string {
    const graph = this.#graph;
    const named = scriptUrl(graph.nodeName(script));
    if (named !== "") return named;
    const end = graph.firstEdge[script + 1]!;
    for (let e = graph.firstEdge[script]!; e < end; e++) {
      if (graph.edgeTypeCode(e) !== graph.hiddenEdge) continue;
      const to = graph.edgeTarget(e);
      if (!graph.isString(to)) continue;
      const text = graph.nodeName(to);
      if (text.length < 2_048 && SOURCE_URL.test(text)) return text;
    }
    return "";
  }

  /**
   * The global objects: what a native context names as its global object
   * (`global_object`; `extension` in Node 20's V8) and that points back at
   * its proxy (`global_proxy`); the proxies too.
   */
  #indexGlobals(): void {
    const graph = this.#graph;
    for (const n of this.#nativeContexts) {
      const end = graph.firstEdge[n + 1]!;
      for (let e = graph.firstEdge[n]!; e < end; e++) {
        const name = this.#nameOf(e);
        if (name !== Name.GlobalObject && name !== Name.Extension) continue;
        const global = graph.edgeTarget(e);
        const proxy = this.#childNamed(global, Name.GlobalProxy);
        if (proxy < 0) continue;
        this.#globals.add(global);
        this.#globals.add(proxy);
      }
    }
  }

  #scriptTest: ((node: number) => boolean) | undefined;

  /** Whether a node is a `Script` (name test cached per name string). */
  #isScript(node: number): boolean {
    this.#scriptTest ??= namePrefixTest(this.#graph, SCRIPT_PREFIX);
    return this.#scriptTest(node);
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

/** What a `//# sourceURL=` names: `<console:3>` or a URL. */
const SOURCE_URL = /^(<[^<>\s]+>|[a-z][a-z0-9+.-]*:[^\s]+)$/;

/**
 * Whether a script URL is a local module (the service's, or the console's:
 * the caller tells them apart), not the runtime's (`ext:`, `node:`), an npm
 * package's or a console snippet's.
 */
function isAppUrl(url: string): boolean {
  return isDeveloperCode(url) && !isSnippetCode(url);
}

/**
 * A script's URL from its node's name: `system / Script / URL`, or, where
 * V8 11 (Node 20) names a script by its URL alone, any name that is not a
 * `system / ...` one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scriptUrl } from "./holders.ts";
 * assert.equal(scriptUrl("system / Script / file:///srv/app.ts"), "file:///srv/app.ts");
 * assert.equal(scriptUrl("/srv/app.js"), "/srv/app.js");
 * assert.equal(scriptUrl("system / SharedFunctionInfo"), "");
 * ```
 *
 * @param nodeName A script node's name.
 * @returns The URL, or `""`.
 */
export function scriptUrl(nodeName: string): string {
  if (nodeName.startsWith(SCRIPT_PREFIX)) {
    return nodeName.slice(SCRIPT_PREFIX.length);
  }
  return nodeName.startsWith("system / ") ? "" : nodeName;
}
