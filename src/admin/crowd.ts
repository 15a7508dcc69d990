import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../util/logger.js';
import { now, type TimerHandle, timeout } from '../util/timers.js';

/**
 * Connections the admin server closes because `maxConnections` are open: counted in
 * `flexmux_admin_connections_closed_total` (both modes; names listed in docs/admin.md) and told
 * in a warn line at most every LOG_EVERY ms. The warn line alone hid a crowd: one line in ten
 * seconds, with one number that mixed the connections turned away with those closed to make
 * room, and nothing to graph or alert on.
 */

/**
 * `full`: a new connection closed as it arrived (every open one had shown the token, or there is
 * no token). `evicted`: the oldest connection that had not shown the token, closed to make room.
 */
export type CrowdReason = 'full' | 'evicted';

/** ms between two warn lines. */
export const LOG_EVERY = 10_000;

/** How the crowd arms and clears its one timer (injected in tests). */
export interface CrowdTimers {
  set(fn: () => void, ms: number): TimerHandle;
  clear(t: TimerHandle): void;
}

const TIMERS: CrowdTimers = { set: timeout, clear: (t) => clearTimeout(t) };

export class Crowd {
  private readonly counter: Counter<'reason'>;
  /** Closed since the last warn line, by reason. */
  private readonly unlogged: Record<CrowdReason, number> = { full: 0, evicted: 0 };
  private logged = Number.NEGATIVE_INFINITY;
  /** Armed while closes wait for the end of the quiet window to be logged. */
  private timer: TimerHandle | undefined;

  constructor(
    registry: Registry,
    private readonly logger: Logger,
    private readonly max: number,
    private readonly clock: () => number = now,
    private readonly timers: CrowdTimers = TIMERS,
  ) {
    this.counter = new Counter({
      name: 'flexmux_admin_connections_closed_total',
      help: 'Admin connections closed because maxConnections were open, by reason: full (a new one turned away) or evicted (the oldest without the token, to make room).',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
    // Both series from the start: a crowd's first connection closed then shows as an increase
    // (a series that appears at 1 does not, to rate() and increase()).
    this.counter.inc({ reason: 'full' }, 0);
    this.counter.inc({ reason: 'evicted' }, 0);
  }

  /** One connection closed for `reason`. */
  closed(reason: CrowdReason): void {
    this.counter.inc({ reason });
    this.unlogged[reason]++;
    const t = this.clock();
    const wait = this.logged + LOG_EVERY - t;
    if (wait <= 0) {
      this.log(t);
      return;
    }
    // Held back: logged when the window ends, even if the crowd has stopped by then (the counts
    // used to wait for a next close, which a crowd that had stopped never sent). The timer is
    // unref'd, so it does not keep a process alive that has nothing else to do.
    this.timer ??= this.timers.set(() => {
      this.timer = undefined;
      this.log(this.clock());
    }, wait);
  }

  /** The admin server closed: what is still held back is dropped with the timer. */
  close(): void {
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
  }

  private log(t: number): void {
    this.close();
    this.logged = t;
    const { full, evicted } = this.unlogged;
    this.logger.warn({ full, evicted, max: this.max }, 'admin connections closed: too many open');
    this.unlogged.full = 0;
    this.unlogged.evicted = 0;
  }
}
