import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, startAdmin } from '../../src/admin/index.js';
import type { SwitcherSnapshot } from '../../src/admin/switcher-view.js';
import { startTraffic, type Traffic } from './admin-fixture.js';
import { collectEvents, type SseEvent } from './admin-http.js';

/**
 * `GET /api/v1/events?delta=1` (the dashboard's stream) sends `delta` events instead of
 * `snapshot` events. Applied one after another to the hello's snapshot, they give exactly the
 * snapshots a plain stream receives at the same samples, and the plain stream is unchanged.
 */

interface Delta {
  t: number;
  totals: unknown;
  omitted: number;
  set: Record<string, Record<string, unknown>>;
  gone: string[];
}

describe('admin event stream with deltas', () => {
  let t: Traffic;
  let admin: AdminServer;

  beforeAll(async () => {
    t = await startTraffic();
    admin = await startAdmin({ switcher: t.sw, port: 0, sampleInterval: 30 });
  });

  afterAll(async () => {
    await admin?.close();
    await t?.close();
  });

  it('rebuilds from the hello and the deltas the snapshots a plain stream gets', async () => {
    let target: number | null = null;
    const plain = collectEvents(admin.url, '/api/v1/events', (ev) =>
      ev.some((e) => e.event === 'snapshot' && (e.data as SwitcherSnapshot).t === target),
    );
    const deltas = await collectEvents(admin.url, '/api/v1/events?delta=1', (ev) => {
      const d = ev.filter((e) => e.event === 'delta');
      if (d.length < 6) return false;
      target = (d[d.length - 1].data as Delta).t;
      return true;
    });
    const full = await plain;
    expect(full.some((e) => e.event === 'delta')).toBe(false);
    expect(deltas.some((e) => e.event === 'snapshot')).toBe(false);
    const snapshots = new Map(
      full.filter((e) => e.event === 'snapshot').map((e) => [(e.data as SwitcherSnapshot).t, e.data]),
    );

    const [hello, ...rest] = deltas as [SseEvent, ...SseEvent[]];
    expect(hello.event).toBe('hello');
    const items = new Map(
      (hello.data as { snapshot: SwitcherSnapshot }).snapshot.clients.map((c) => [String(c.id), c]),
    );
    let compared = 0;
    let moved = 0;
    for (const e of rest) {
      if (e.event !== 'delta') continue;
      const d = e.data as Delta;
      for (const k of d.gone) items.delete(k);
      for (const [k, fields] of Object.entries(d.set)) {
        const before = items.get(k);
        // A client already listed comes with the fields that changed only.
        if (before !== undefined) expect(fields).not.toHaveProperty('domain');
        if ('bytesIn' in fields) moved++;
        items.set(k, { ...before, ...fields } as SwitcherSnapshot['clients'][number]);
      }
      const same = snapshots.get(d.t) as SwitcherSnapshot | undefined;
      if (same === undefined) continue;
      compared++;
      expect(d.totals).toEqual(same.totals);
      expect(d.omitted).toBe(same.omitted);
      const byDomain = (list: SwitcherSnapshot['clients']) =>
        Object.fromEntries(
          [...list].sort((a, b) => (a.domain < b.domain ? -1 : 1)).map((c) => [c.domain, c]),
        );
      expect(byDomain([...items.values()])).toEqual(byDomain(same.clients));
    }
    // The plain stream opened first, so it holds the samples of the later deltas at least.
    expect(compared).toBeGreaterThanOrEqual(3);
    // Data moves all along (bob writes, alice echoes): the deltas carried the counters.
    expect(moved).toBeGreaterThan(0);
  });
});
