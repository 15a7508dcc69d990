import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Crowd, type CrowdTimers, LOG_EVERY } from '../../../src/admin/crowd.js';
import type { TimerHandle } from '../../../src/util/timers.js';
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

/** Timers run by hand: `due` lists what is armed, `fire` runs it. */
function manualTimers(): CrowdTimers & { due: { fn: () => void; ms: number }[]; fire(): void } {
  const due: { fn: () => void; ms: number }[] = [];
  return {
    due,
    set(fn, ms) {
      const entry = { fn, ms };
      due.push(entry);
      return entry as unknown as TimerHandle;
    },
    clear(t) {
      const i = due.indexOf(t as unknown as { fn: () => void; ms: number });
      if (i >= 0) due.splice(i, 1);
    },
    fire() {
      for (const e of due.splice(0)) e.fn();
    },
  };
}

describe('Crowd (connections closed at maxConnections)', () => {
  it('counts each reason from zero, and the rate-limited warn line says how many of each', async () => {
    const registry = new Registry();
    const logger = captureLogger();
    let t = 1_000;
    const crowd = new Crowd(registry, logger, 4, () => t, manualTimers());
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

  // The counts held back in a window used to be logged only by the next close after it: a crowd
  // that stopped within the window left them out of the log for good (only the counter had them).
  it('logs what the window held back when it ends, with no further close', () => {
    const logger = captureLogger();
    const timers = manualTimers();
    let t = 1_000;
    const crowd = new Crowd(new Registry(), logger, 4, () => t, timers);

    crowd.closed('full');
    expect(timers.due).toHaveLength(0); // logged at once: nothing pending, no timer
    t += 2_000;
    crowd.closed('evicted');
    crowd.closed('full');
    // One timer for the rest of the window, however many closes it holds.
    expect(timers.due.map((d) => d.ms)).toEqual([LOG_EVERY - 2_000]);
    expect(logger.find(LINE)).toHaveLength(1);

    t = 1_000 + LOG_EVERY;
    timers.fire();
    expect(logger.find(LINE).map((e) => e.fields)).toEqual([
      { full: 1, evicted: 0, max: 4 },
      { full: 1, evicted: 1, max: 4 },
    ]);
    expect(timers.due).toHaveLength(0);

    // The line the timer wrote starts a new window: a close within it waits for that one's end.
    t += 1;
    crowd.closed('full');
    expect(timers.due.map((d) => d.ms)).toEqual([LOG_EVERY - 1]);
    // A close after the window logs at once and disarms the timer.
    t += LOG_EVERY;
    crowd.closed('full');
    expect(logger.find(LINE).at(-1)?.fields).toEqual({ full: 2, evicted: 0, max: 4 });
    expect(timers.due).toHaveLength(0);

    // Closing the admin server clears a pending timer.
    t += 1;
    crowd.closed('evicted');
    expect(timers.due).toHaveLength(1);
    crowd.close();
    expect(timers.due).toHaveLength(0);
    expect(logger.find(LINE)).toHaveLength(3);
  });
});
