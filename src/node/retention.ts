/**
 * Closed streams keep their address for a while so late frames are absorbed instead of being
 * taken for a new stream (PROTOCOL.md 5.4); a dialled stream's local port returns to the pool only
 * then. One coarse timer serves every entry.
 */
export class Retention {
  private readonly ms: number;
  private readonly onExpire: (key: number, port: number) => void;
  private readonly entries = new Map<number, { until: number; port: number }>();
  private readonly ports = new Set<number>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;

  constructor(ms: number, onExpire: (key: number, port: number) => void) {
    this.ms = ms;
    this.onExpire = onExpire;
  }

  get size(): number {
    return this.entries.size;
  }

  has(key: number): boolean {
    return this.entries.has(key);
  }

  hasPort(port: number): boolean {
    return this.ports.has(port);
  }

  /** Retains `key`; `port` (or -1) is released when it expires. */
  add(key: number, port: number): void {
    if (this.stopped) return;
    if (this.ms === 0) {
      this.onExpire(key, port);
      return;
    }
    this.entries.set(key, { until: Date.now() + this.ms, port });
    if (port >= 0) this.ports.add(port);
    if (this.timer === null) {
      this.timer = setInterval(() => this.sweep(), Math.max(50, this.ms >>> 2));
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  delete(key: number): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.expire(key, e.port);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.entries.clear();
    this.ports.clear();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, e] of this.entries) {
      // Map iteration follows insertion order and every entry lives equally long.
      if (e.until > now) break;
      this.entries.delete(key);
      this.expire(key, e.port);
    }
    if (this.entries.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private expire(key: number, port: number): void {
    if (port >= 0) this.ports.delete(port);
    this.onExpire(key, port);
  }
}
