import { interval } from '../util/timers.js';

/** Generations an entry passes through; it expires after `ms` and before `ms * SLOTS / (SLOTS - 1)`. */
const SLOTS = 5;

/**
 * Closed streams keep their address for a while so late frames are absorbed instead of being
 * taken for a new stream (PROTOCOL.md 5.4); a dialled stream's local port returns to the pool only
 * then. One coarse timer serves every entry: entries go into the newest of a few generations, and
 * each tick expires the oldest generation whole, so adding an entry allocates nothing.
 */
export class Retention {
  private readonly ms: number;
  readonly #onExpire: (key: number, port: number) => void;
  /** Newest first; values are the port to release plus one (0: none). */
  readonly #gens: Map<number, number>[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;
  readonly #tickFn = (): void => this.tick();

  constructor(ms: number, onExpire: (key: number, port: number) => void) {
    this.ms = ms;
    this.#onExpire = onExpire;
    for (let i = 0; i < SLOTS; i++) this.#gens.push(new Map());
  }

  get size(): number {
    let n = 0;
    for (const g of this.#gens) n += g.size;
    return n;
  }

  has(key: number): boolean {
    for (const g of this.#gens) if (g.has(key)) return true;
    return false;
  }

  /** Retains `key`; `port` (or -1) is released when it expires. */
  add(key: number, port: number): void {
    if (this.stopped) return;
    if (this.ms === 0) {
      this.#onExpire(key, port);
      return;
    }
    this.#gens[0].set(key, port + 1);
    if (this.timer === null) {
      this.timer = interval(this.#tickFn, Math.max(10, Math.ceil(this.ms / (SLOTS - 1))));
    }
  }

  /** Forgets `key` at once (its address is in use again), releasing its port. */
  delete(key: number): void {
    for (const g of this.#gens) {
      const v = g.get(key);
      if (v !== undefined) {
        g.delete(key);
        this.#onExpire(key, v - 1);
        return;
      }
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const g of this.#gens) g.clear();
  }

  private tick(): void {
    const oldest = this.#gens.pop()!;
    this.#gens.unshift(oldest);
    if (oldest.size > 0) {
      // Detached first: an expiry callback may add entries, which must land in a live generation.
      const expired = [...oldest];
      oldest.clear();
      for (const [key, v] of expired) this.#onExpire(key, v - 1);
    }
    if (this.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
