/**
 * A small typed event emitter for the runtime-neutral core (node:events is not available in
 * browsers). Listeners run synchronously in registration order; a throwing listener does not stop
 * the others and is reported to `onListenerError`.
 *
 * It answers the calls node:events' `once()` and `on()` make (`once`, `on`, `removeListener`,
 * removing a once() listener by the function given), so Node.js programs can await its events
 * the way they await a socket's.
 */
import { checkType } from './check.js';

// biome-ignore lint/suspicious/noExplicitAny: listener argument tuples are checked through EventMap
type Listener = ((...args: any[]) => void) & { listener?: Listener };

export type EventMap = { [event: string]: unknown[] };

export class Emitter<E extends EventMap> {
  private handlers = new Map<keyof E, Listener[]>();

  /** Calls `fn` with the event's arguments each time `event` is emitted, after the listeners added before it. */
  on<K extends keyof E>(event: K, fn: (...args: E[K]) => void): this {
    // Called only when the event comes: a bad one failed there, reported as a listener's throw.
    checkType('on() listener', fn, 'function');
    const list = this.handlers.get(event);
    if (list) list.push(fn);
    else this.handlers.set(event, [fn]);
    return this;
  }

  /** Calls `fn` the next time `event` is emitted, then removes it; `off(event, fn)` removes it before. */
  once<K extends keyof E>(event: K, fn: (...args: E[K]) => void): this {
    checkType('once() listener', fn, 'function');
    // emit() calls the listeners it started with: one that an earlier listener's emit of the same
    // event called already is still in its list, and must not run twice.
    let fired = false;
    const wrapper: Listener = (...args: E[K]): void => {
      if (fired) return;
      fired = true;
      this.off(event, wrapper);
      fn(...args);
    };
    // off(event, fn) finds it by the function the caller holds, as Node's emitters do.
    wrapper.listener = fn;
    return this.on(event, wrapper);
  }

  /** Same as `on`. */
  addListener<K extends keyof E>(event: K, fn: (...args: E[K]) => void): this {
    return this.on(event, fn);
  }

  /** Removes `fn`, or the once() listener made for it (the last one added, as Node does). */
  off<K extends keyof E>(event: K, fn: (...args: E[K]) => void): this {
    const list = this.handlers.get(event);
    if (!list) return this;
    for (let i = list.length - 1; i >= 0; i--) {
      const l = list[i] as Listener;
      if (l === fn || l.listener === fn) {
        list.splice(i, 1);
        break;
      }
    }
    if (list.length === 0) this.handlers.delete(event);
    return this;
  }

  /** Same as `off`. */
  removeListener<K extends keyof E>(event: K, fn: (...args: E[K]) => void): this {
    return this.off(event, fn);
  }

  /** Number of listeners of `event`. */
  listenerCount(event: keyof E): number {
    return this.handlers.get(event)?.length ?? 0;
  }

  /** Removes the listeners of `event`, or of every event when it is left out. */
  removeAllListeners(event?: keyof E): this {
    if (event === undefined) this.handlers.clear();
    else this.handlers.delete(event);
    return this;
  }

  /**
   * Calls the listeners of `event` in the order they were added; one that throws does not stop
   * the others. Returns whether there were any.
   */
  protected emit<K extends keyof E>(event: K, ...args: E[K]): boolean {
    const list = this.handlers.get(event);
    if (!list || list.length === 0) return false;
    for (const fn of list.slice()) {
      try {
        fn(...args);
      } catch (err) {
        this.onListenerError(err);
      }
    }
    return true;
  }

  /** A listener threw. The default rethrows asynchronously so the error is not lost. */
  protected onListenerError(err: unknown): void {
    queueMicrotask(() => {
      throw err;
    });
  }
}
