import { Deque } from '../util/deque.js';

/**
 * A pool of 16-bit numbers (dial ports): handed out sequentially first, then the least recently
 * released first. Not the most recently released first, as Go does (PROTOCOL.md 3.2; nothing on
 * the wire depends on the order: the dialer alone picks its port): the port of a dial that gave
 * up came back after its quarantine (node.ts) to the top of that list, so once the sequential
 * ports were used up the next dial took it, and an OpenStream ACK that came later still (a slow
 * acceptor, a deep path) could complete that dial: a domain dial's ACK is matched by its ports
 * alone, and a Go switcher passes it whoever sends it. In line, a port comes back only after
 * every other free one (the ping ids' rule, pinger.ts).
 */
export class PortPool {
  private next: number;
  private readonly last: number;
  /** Released numbers, in line: taken from the front (a ring, as up to 64,536 wait in it). */
  private readonly free = new Deque<number>();
  readonly #used = new Set<number>();

  constructor(first: number, last: number) {
    this.next = first;
    this.last = last;
  }

  get inUse(): number {
    return this.#used.size;
  }

  /** A free number for which `skip` is false, or -1 when none is left. */
  take(skip?: (n: number) => boolean): number {
    while (this.next <= this.last) {
      const n = this.next++;
      if (this.#used.has(n)) continue;
      if (skip?.(n)) {
        // Busy now (a listener's port), free later: in line, behind the numbers released so far.
        // Dropped here, it was lost to the pool for good.
        this.free.push(n);
        continue;
      }
      this.#used.add(n);
      return n;
    }
    for (let i = this.free.length; i > 0; i--) {
      const n = this.free.shift()!;
      if (skip?.(n)) {
        // Still busy: back in line.
        this.free.push(n);
        continue;
      }
      this.#used.add(n);
      return n;
    }
    return -1;
  }

  release(n: number): void {
    if (!this.#used.delete(n)) return;
    this.free.push(n);
  }
}
