/**
 * Leaks of known shape, made on demand in the test process: timers whose
 * closures hold arrays, listeners on an EventTarget, class instances in a
 * registry array, big strings in a module-level export, a never-settled
 * promise chain, and objects held only weakly (which are not leaks).
 *
 * @module
 */

/** Big strings kept by an exported module-level array. */
export const auditTrail: string[] = [];

/** A class whose instances pile up in {@link leakRegistry}'s array. */
export class Registered {
  /** What each instance keeps. */
  readonly payload: number[] = new Array(256).fill(1);
}

/** A class whose instances are held only weakly. */
export class WeaklyHeld {
  /** What each instance would keep. */
  readonly payload: number[] = new Array(256).fill(2);
}

const registry: Registered[] = [];
const bus = new EventTarget();
const timers: ReturnType<typeof setInterval>[] = [];
const weakRefs: WeakRef<WeaklyHeld>[] = [];
const weakMap = new WeakMap<object, WeaklyHeld>();
let chainHead: Promise<unknown> | undefined;

/**
 * Starts `n` hourly timers, each closure holding its own array.
 *
 * @param n Timers.
 * @param length Numbers each closure holds.
 */
export function leakTimers(n: number, length = 10_000): void {
  for (let i = 0; i < n; i++) {
    const samples = new Array(length).fill(i);
    timers.push(setInterval(function poll() {
      samples.push(samples.length);
    }, 3_600_000));
  }
}

/**
 * Adds `n` listeners to a module-level EventTarget, each holding an array.
 *
 * @param n Listeners.
 */
export function leakListeners(n: number): void {
  for (let i = 0; i < n; i++) {
    const seen = new Array(2_000).fill(i);
    bus.addEventListener("message", function onMessage() {
      seen.push(seen.length);
    });
  }
}

/**
 * Registers `n` instances in a module-level array.
 *
 * @param n Instances.
 */
export function leakRegistry(n: number): void {
  for (let i = 0; i < n; i++) registry.push(new Registered());
}

/**
 * Appends `n` strings of `length` characters to {@link auditTrail}.
 *
 * @param n Strings.
 * @param length Characters each.
 */
export function leakStrings(n: number, length = 100_000): void {
  const decoder = new TextDecoder();
  for (let i = 0; i < n; i++) {
    // Decoded text is one flat string, so each holds its own characters.
    auditTrail.push(decoder.decode(new Uint8Array(length).fill(97 + i % 26)));
  }
}

/**
 * Starts a chain of `n` promises behind one that never settles.
 *
 * @param n Links.
 */
export function leakPromiseChain(n: number): void {
  chainHead = new Promise(() => {});
  let link: Promise<unknown> = chainHead;
  for (let i = 0; i < n; i++) link = link.then(() => i);
}

/**
 * Makes `n` objects reachable only through WeakRefs and a WeakMap.
 *
 * @param n Objects.
 */
export function holdWeakly(n: number): void {
  for (let i = 0; i < n; i++) {
    const held = new WeaklyHeld();
    weakRefs.push(new WeakRef(held));
    weakMap.set(held, new WeaklyHeld());
  }
}

/** Undoes every leak, so the test process ends clean. */
export function cure(): void {
  for (const id of timers.splice(0)) clearInterval(id);
  registry.length = 0;
  auditTrail.length = 0;
  chainHead = undefined;
  weakRefs.length = 0;
}
