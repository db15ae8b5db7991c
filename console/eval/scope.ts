/**
 * Holds one console session's scope chain: its own declarations, its
 * session bindings, the service namespace (live) and a fallback that keeps
 * undeclared assignments off `globalThis`.
 *
 * @module
 */

import { LAYERS_PARAMETER, type ScopeLayers } from "./snippet_compiler.ts";
import type { SnippetDeclarations } from "./rewrite.ts";

/** Where a name resolves in a session, found without calling any getter. */
export type BindingLookup =
  | { found: false }
  | { found: true; accessor: true }
  | { found: true; accessor: false; value: unknown };

/** One session's scope chain. */
export interface SessionScope {
  /** The layers compiled snippets run against. */
  readonly layers: ScopeLayers;
  /** Sets the last value, `_`. */
  setLastValue(value: unknown): void;
  /** Sets the last error, `_error`. */
  setLastError(error: unknown): void;
  /**
   * Readies the scope for a run of a snippet: creates (or resets) the
   * variables it declares and picks up namespace members added since the
   * last run.
   */
  prepare(declarations: SnippetDeclarations): void;
  /** Every name a snippet can use without declaring it, globals excluded. */
  names(): string[];
  /** Resolves `name` like a snippet would, globals excluded, without running getters. */
  lookup(name: string): BindingLookup;
  /**
   * Forgets `_` and `_error` (the last value may be big) when the session
   * ends. The session's variables stay: functions it made (a hook it put in
   * the namespace, a timer) keep using them, and they are collected with
   * the layers once nothing references those functions.
   */
  release(): void;
}

/** The name under which snippets see the namespace object itself. */
export const NAMESPACE_NAME = "main";

/**
 * Creates a session's scope chain. A snippet resolves a bare name in this
 * order: its session declarations, `_` / `_error`, the entries of `scope`,
 * `main` and the namespace's own members, then the globals. Namespace members
 * are read at each use, so a reassigned namespace property is seen at once;
 * assigning to a bare namespace member writes through to the namespace.
 * An assignment to an undeclared name creates a session variable instead of
 * a global.
 *
 * @example
 * ```ts
 * import { createSessionScope } from "./scope.ts";
 * import assert from "node:assert/strict";
 *
 * const scope = createSessionScope({ cache: new Map() }, { mem: () => 0 });
 * assert.equal(scope.lookup("cache").found, true);
 * assert.ok(scope.names().includes("main"));
 * ```
 *
 * @param namespace The service namespace; its own properties are in scope.
 * @param entries Session-only bindings, copied (accessors included).
 * @returns The session scope.
 */
export function createSessionScope(
  namespace: Record<string, unknown>,
  entries: Record<string, unknown> = {},
): SessionScope {
  const vars: Record<string, unknown> = Object.create(null);
  const session: Record<string, unknown> = Object.create(null);
  session._ = undefined;
  session._error = undefined;
  Object.defineProperties(session, Object.getOwnPropertyDescriptors(entries));

  // Plain objects with accessors rather than proxies: a `with` lookup on them
  // is several times cheaper, which counts in loops over globals.
  const namespaceLayer: Record<string, unknown> = Object.create(null);
  Object.defineProperty(namespaceLayer, NAMESPACE_NAME, {
    get: () => namespace,
    set: () => refuseAssignment(NAMESPACE_NAME),
  });
  const mirrored = new Set<string>();
  const mirrorNamespace = () => {
    const keys = Object.getOwnPropertyNames(namespace);
    for (const key of keys) {
      if (mirrored.has(key) || key === NAMESPACE_NAME) continue;
      mirrored.add(key);
      Object.defineProperty(namespaceLayer, key, {
        get: () => Reflect.get(namespace, key),
        set: (value) => {
          if (!Reflect.set(namespace, key, value)) refuseAssignment(key);
        },
        configurable: true,
      });
    }
    if (mirrored.size > keys.length) {
      for (const key of mirrored) {
        if (Object.hasOwn(namespace, key)) continue;
        mirrored.delete(key);
        delete namespaceLayer[key];
      }
    }
  };

  // Only names that some snippet assigns are claimed here: reading any other
  // undeclared name still falls through to the global lookup, so `typeof x`
  // and the ReferenceError for a typo behave as usual.
  const fallbackLayer: Record<string, unknown> = Object.create(null);
  const claim = (name: string) => {
    if (
      Object.hasOwn(fallbackLayer, name) || name === LAYERS_PARAMETER ||
      name in globalThis
    ) {
      return;
    }
    Object.defineProperty(fallbackLayer, name, {
      get() {
        throw new ReferenceError(`${name} is not defined`);
      },
      set(value) {
        vars[name] = value;
      },
      configurable: true,
    });
  };

  const layers: ScopeLayers = {
    vars,
    session,
    namespace: namespaceLayer,
    fallback: fallbackLayer,
  };

  return {
    layers,
    setLastValue(value) {
      session._ = value;
    },
    setLastError(error) {
      session._error = error;
    },
    prepare(declarations) {
      mirrorNamespace();
      for (const name of declarations.lexicalNames) vars[name] = undefined;
      for (const name of declarations.functionNames) vars[name] = undefined;
      for (const name of declarations.varNames) {
        if (!Object.hasOwn(vars, name)) vars[name] = undefined;
      }
      for (const name of declarations.assignedNames) claim(name);
    },
    names() {
      return [
        ...Object.keys(vars),
        ...Object.getOwnPropertyNames(session),
        NAMESPACE_NAME,
        ...Object.getOwnPropertyNames(namespace),
      ];
    },
    release() {
      session._ = undefined;
      session._error = undefined;
    },
    lookup(name) {
      if (Object.hasOwn(vars, name)) {
        return { found: true, accessor: false, value: vars[name] };
      }
      const own = Object.getOwnPropertyDescriptor(session, name);
      if (own !== undefined) return describe(own);
      if (name === NAMESPACE_NAME) {
        return { found: true, accessor: false, value: namespace };
      }
      const member = Object.getOwnPropertyDescriptor(namespace, name);
      if (member !== undefined) return describe(member);
      return { found: false };
    },
  };
}

function refuseAssignment(key: string): never {
  throw new TypeError(`Cannot assign to namespace member "${key}"`);
}

function describe(descriptor: PropertyDescriptor): BindingLookup {
  return "value" in descriptor
    ? { found: true, accessor: false, value: descriptor.value }
    : { found: true, accessor: true };
}
