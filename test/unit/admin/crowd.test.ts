import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Crowd, LOG_EVERY } from '../../../src/admin/crowd.js';
import { captureLogger } from '../../helpers/faulty-log.js';

/**
 * Connections closed at maxConnections used to show only in a warn line, at most one in 10 s, with
 * one number for those turned away and those closed to make room: nothing to graph or alert on.
 * Now each is counted by reason, and the warn line says how many of each since the last one.
 */

const LINE = 'admin connections closed: too many open';

async function counts(registry: Registry): Promise<Record<string, number>> {
  const m = await registry.getSingleMetric('flexmux_admin_connections_closed_total')?.get();
  return Object.fromEntries((m?.values ?? []).map((v) => [String(v.labels.reason), v.value]));
}

describe('Crowd (connections closed at maxConnections)', () => {
  it('counts each reason from zero, and the rate-limited warn line says how many of each', async () => {
    const registry = new Registry();
    const logger = captureLogger();
    let t = 1_000;
    const crowd = new Crowd(registry, logger, 4, () => t);
    // Both series exist before the first close, so that its increase shows.
    expect(await counts(registry)).toEqual({ full: 0, evicted: 0 });

    crowd.closed('evicted');
    expect(logger.find(LINE).map((e) => e.fields)).toEqual([{ full: 0, evicted: 1, max: 4 }]);

    // Within LOG_EVERY: counted, not logged.
    t += LOG_EVERY - 1;
    crowd.closed('full');
    crowd.closed('full');
    crowd.closed('evicted');
    expect(logger.find(LINE)).toHaveLength(1);
    expect(await counts(registry)).toEqual({ full: 2, evicted: 2 });

    // The next line carries what the quiet period held back, then counting starts again.
    t += 1;
    crowd.closed('full');
    t += LOG_EVERY;
    crowd.closed('evicted');
    const lines = logger.find(LINE);
    expect(lines.map((e) => e.fields)).toEqual([
      { full: 0, evicted: 1, max: 4 },
      { full: 3, evicted: 1, max: 4 },
      { full: 0, evicted: 1, max: 4 },
    ]);
    expect(lines.every((e) => e.level === 'warn')).toBe(true);
    expect(await counts(registry)).toEqual({ full: 3, evicted: 3 });
  });
});
