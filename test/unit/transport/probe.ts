import type { Transport, TransportHandlers } from '../../../src/transport/types.js';

/**
 * Records what a transport reports and lets a test wait for a condition on it. Waiting is driven by
 * the transport's own events; the timeout only bounds a test that would otherwise hang.
 */
export class Probe implements TransportHandlers {
  bytes = 0;
  drains = 0;
  readonly sizes: number[] = [];
  readonly closes: (Error | undefined)[] = [];
  /** Any data or drain reported after close. */
  eventAfterClose = false;
  /** Called for every chunk, e.g. to hash it or check its contents. */
  onData: ((chunk: Uint8Array) => void) | undefined;
  private readonly waiters = new Set<() => void>();

  data(chunk: Uint8Array): void {
    if (this.closes.length > 0) this.eventAfterClose = true;
    this.bytes += chunk.length;
    this.sizes.push(chunk.length);
    this.onData?.(chunk);
    this.notify();
  }

  drain(): void {
    if (this.closes.length > 0) this.eventAfterClose = true;
    this.drains++;
    this.notify();
  }

  close(err?: Error): void {
    this.closes.push(err);
    this.notify();
  }

  until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!cond()) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(`timed out waiting for ${what} (bytes=${this.bytes}, closes=${this.closes.length})`),
        );
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  closed(): Promise<void> {
    return this.until(() => this.closes.length > 0, 'close');
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

export function attachProbe(t: Transport): Probe {
  const p = new Probe();
  t.attach(p);
  return p;
}

/**
 * A window in which nothing is expected to happen, for negative assertions only ("no data while
 * paused"). It never orders events: every positive wait uses Probe.until.
 */
export function quietPeriod(ms = 50): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Lets queued microtasks, immediates and zero-delay timers run. */
export async function settleTurns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Waits for any value from `next()` to come out of a callback-style acceptor. */
export class Acceptor<T> {
  private readonly ready: T[] = [];
  private readonly waiting: ((value: T) => void)[] = [];
  readonly accept = (value: T): void => {
    const w = this.waiting.shift();
    if (w) w(value);
    else this.ready.push(value);
  };

  next(): Promise<T> {
    const v = this.ready.shift();
    if (v !== undefined) return Promise.resolve(v);
    return new Promise<T>((resolve) => this.waiting.push(resolve));
  }

  /** Everything accepted but never taken with `next`. */
  drainUnclaimed(): T[] {
    return this.ready.splice(0);
  }
}
