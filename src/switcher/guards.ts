/**
 * Admission guards Go lacks (PROTOCOL.md 12.1.4, 12.5): a replay cache of authentic requests and
 * a per-host limit on failed attempts (hosts keyed by host-key.ts). Both are bounded maps over an
 * injected clock.
 */

/**
 * Remembers admissions (their Sum and their envelope salt) until their timestamp leaves the
 * clock window, so a captured frame cannot be played again while it would still verify. When
 * full, expired entries go first, then the oldest.
 */
export class ReplayCache {
  /** key -> expiry (Unix ns). Insertion order approximates expiry order. */
  private readonly seen = new Map<string, bigint>();
  /**
   * No entry expires before this (a lower bound of the expiries held): the cache, when full, is
   * swept for expired entries only once the clock passed it, so a cache full of live entries
   * costs no scan per admission.
   */
  private sweepAfter: bigint | null = null;

  constructor(
    private readonly capacity: number,
    private readonly windowNs: bigint,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  /**
   * Records `keys` for a request stamped `timestampNs`; false if any of them was seen before and
   * has not expired (a replay), in which case nothing is recorded.
   */
  admit(keys: readonly string[], timestampNs: bigint, nowNs: bigint): boolean {
    if (this.capacity === 0) return true;
    this.prune(nowNs);
    for (const k of keys) {
      const exp = this.seen.get(k);
      if (exp !== undefined && exp >= nowNs) return false;
    }
    const expiry = timestampNs + this.windowNs;
    for (const k of keys) {
      this.seen.delete(k);
      this.seen.set(k, expiry);
    }
    if (this.sweepAfter === null || expiry < this.sweepAfter) this.sweepAfter = expiry;
    // Timestamps may lie up to the window on either side of the clock, so an entry stamped ahead
    // can precede ones that expire long before it: prune() stops at it. Forgetting the oldest
    // then dropped it, live, while expired ones stayed, and its frame could be replayed.
    if (this.seen.size > this.capacity) this.sweep(nowNs);
    while (this.seen.size > this.capacity) {
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
    }
    return true;
  }

  private prune(nowNs: bigint): void {
    for (const [k, exp] of this.seen) {
      if (exp >= nowNs) break;
      this.seen.delete(k);
    }
  }

  /** Drops every expired entry, wherever it is, once one may have expired (sweepAfter). */
  private sweep(nowNs: bigint): void {
    if (this.sweepAfter === null || this.sweepAfter >= nowNs) return;
    let least: bigint | null = null;
    for (const [k, exp] of this.seen) {
      if (exp < nowNs) this.seen.delete(k);
      else if (least === null || exp < least) least = exp;
    }
    this.sweepAfter = least;
  }
}

interface Bucket {
  tokens: number;
  /** ms of the last refill. */
  at: number;
}

/** The attempts of one host being checked now, and those waiting for one of them to end. */
interface InCheck {
  count: number;
  waiters: (() => void)[];
}

/**
 * A token bucket per remote host for failed admissions: each failure takes a token, and a host
 * without tokens is turned away before the switcher spends any crypto on it. Full buckets are
 * the same as no bucket, so the map only holds hosts that failed recently.
 *
 * An attempt being checked may still fail, so it holds one of its host's tokens until its outcome
 * is charged: otherwise a host opening many connections at once would have every one checked
 * before the first failure counts. Attempts beyond the tokens wait for those in check.
 */
export class FailureLimiter {
  private readonly buckets = new Map<string, Bucket>();
  /** Hosts with attempts in check (at most one entry per pending admission). */
  private readonly checking = new Map<string, InCheck>();

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly maxEntries: number,
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  get enabled(): boolean {
    return this.burst > 0;
  }

  /** True if `host` may try to admit now. */
  allows(host: string, nowMs: number): boolean {
    if (!this.enabled) return true;
    const b = this.refill(host, nowMs);
    return b === undefined || b.tokens >= 1;
  }

  /**
   * Holds a token of `host` for an attempt about to be checked: true once one is free (after the
   * host's earlier attempts in check ended, their failures charged), false if its tokens are spent.
   * Every true must be followed by `release`, after the attempt's failure, if any, was charged.
   */
  async reserve(host: string, nowMs: () => number): Promise<boolean> {
    if (!this.enabled) return true;
    for (;;) {
      const b = this.refill(host, nowMs());
      const c = this.checking.get(host);
      const tokens = b?.tokens ?? this.burst;
      if (tokens - (c?.count ?? 0) >= 1) {
        if (c === undefined) this.checking.set(host, { count: 1, waiters: [] });
        else {
          c.count++;
          // Room for more: the next in line looks too, so the attempts in check grow to what
          // the tokens allow, one waking the next.
          if (tokens - c.count >= 1) this.wakeNext(host, c);
        }
        return true;
      }
      if (c === undefined) return false;
      if (c.count === 0) {
        // No token, and nothing in check whose end could bring one: refused, and so will the
        // next in line be, which looks now.
        this.wakeNext(host, c);
        return false;
      }
      await new Promise<void>((resolve) => c.waiters.push(resolve));
    }
  }

  /**
   * Ends an attempt `reserve` let through. One place came free: the first in line looks again,
   * and wakes the next if there is room for it too. Waking every waiter at every release made a
   * herd of nodes behind one address cost quadratic time: 4,000 admissions waiting here took
   * 1.4 s of switcher CPU in this bookkeeping alone.
   */
  release(host: string): void {
    const c = this.checking.get(host);
    if (c === undefined) return;
    c.count--;
    this.wakeNext(host, c);
  }

  /** Wakes the first waiter of `host`; forgets the entry once nobody is in check or waiting. */
  private wakeNext(host: string, c: InCheck): void {
    const next = c.waiters.shift();
    if (next !== undefined) next();
    else if (c.count === 0) this.checking.delete(host);
  }

  /** Charges one failure to `host`. */
  fail(host: string, nowMs: number): void {
    if (!this.enabled) return;
    const b = this.refill(host, nowMs) ?? { tokens: this.burst, at: nowMs };
    b.tokens = Math.max(0, b.tokens - 1);
    // Re-insert so the most recently failing hosts are the last forgotten.
    this.buckets.delete(host);
    this.buckets.set(host, b);
    while (this.buckets.size > this.maxEntries) {
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
    }
  }

  private refill(host: string, nowMs: number): Bucket | undefined {
    const b = this.buckets.get(host);
    if (b === undefined) return undefined;
    const elapsed = Math.max(0, nowMs - b.at) / 1000;
    b.tokens = Math.min(this.burst, b.tokens + elapsed * this.perSecond);
    b.at = nowMs;
    if (b.tokens >= this.burst) {
      this.buckets.delete(host);
      return undefined;
    }
    return b;
  }
}
