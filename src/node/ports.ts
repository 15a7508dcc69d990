/**
 * A pool of 16-bit numbers (dial ports): handed out sequentially first, then the most
 * recently released first, as Go does (PROTOCOL.md 3.2 and 7.3).
 */
export class PortPool {
  private next: number;
  private readonly last: number;
  private readonly free: number[] = [];
  private readonly used = new Set<number>();

  constructor(first: number, last: number) {
    this.next = first;
    this.last = last;
  }

  get inUse(): number {
    return this.used.size;
  }

  /** A free number for which `skip` is false, or -1 when none is left. */
  take(skip?: (n: number) => boolean): number {
    while (this.next <= this.last) {
      const n = this.next++;
      if (this.used.has(n)) continue;
      if (skip?.(n)) {
        // Busy now (a listener's port), free later: last in line, behind every released number.
        // Dropped here, it was lost to the pool for good.
        this.free.unshift(n);
        continue;
      }
      this.used.add(n);
      return n;
    }
    for (let i = this.free.length - 1; i >= 0; i--) {
      const n = this.free[i];
      if (skip?.(n)) continue;
      this.free.splice(i, 1);
      this.used.add(n);
      return n;
    }
    return -1;
  }

  release(n: number): void {
    if (!this.used.delete(n)) return;
    this.free.push(n);
  }
}
