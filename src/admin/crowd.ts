import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../util/logger.js';
import { now } from '../util/timers.js';

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

export class Crowd {
  private readonly counter: Counter<'reason'>;
  /** Closed since the last warn line, by reason. */
  private readonly unlogged: Record<CrowdReason, number> = { full: 0, evicted: 0 };
  private logged = Number.NEGATIVE_INFINITY;

  constructor(
    registry: Registry,
    private readonly logger: Logger,
    private readonly max: number,
    private readonly clock: () => number = now,
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
    if (t - this.logged < LOG_EVERY) return;
    this.logged = t;
    const { full, evicted } = this.unlogged;
    this.logger.warn({ full, evicted, max: this.max }, 'admin connections closed: too many open');
    this.unlogged.full = 0;
    this.unlogged.evicted = 0;
  }
}
