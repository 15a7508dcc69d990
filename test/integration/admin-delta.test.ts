import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { delta as deltaOf } from '../../src/admin/delta.js';
import {
  type AdminServer,
  type NodeSnapshot,
  startAdmin,
  validateAdminOptions,
} from '../../src/admin/index.js';
import { NodePanel } from '../../src/admin/node-panel.js';
import type { SwitcherSnapshot } from '../../src/admin/switcher-view.js';
import { silentLogger } from '../../src/util/logger.js';
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

describe("a node's deltas", () => {
  let t: Traffic;

  beforeAll(async () => {
    t = await startTraffic();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('take a stream that closed and a new one between the same ports for two streams', async () => {
    // carol's stream to bob:9 goes with her connection; the first dial of her next connection
    // takes the same local port (each connection's ports start afresh) to the same bob:9, so the
    // new stream has the old one's id.
    t.bob.listen(9).on('stream', (s) => s.on('error', () => {}));
    const carol = t.session('carol');
    await carol.ready({ timeout: 5_000 });
    const first = await carol.dial('bob:9', { timeout: 5_000 });
    first.on('error', () => {});
    const panel = new NodePanel(
      carol,
      validateAdminOptions({ node: carol, pingInterval: 0 }),
      new Registry(),
      silentLogger,
    );
    try {
      panel.tick(0, 1_000);
      const before = panel.snapshot() as NodeSnapshot;
      expect(before.streams).toHaveLength(1);

      const back = new Promise((resolve) => carol.once('ready', resolve));
      expect(t.sw.kick('carol')).toBe(true);
      await back;
      const second = await carol.dial('bob:9', { timeout: 5_000 });
      second.on('error', () => {});
      panel.tick(1_000, 2_000);
      const after = panel.snapshot() as NodeSnapshot;
      expect(after.streams).toHaveLength(1);
      const [was, now] = [before.streams[0], after.streams[0]];
      expect(now.id).toBe(was.id);
      expect(now.serial).toBeGreaterThan(was.serial);

      // One removal and one addition (the new stream whole), not field changes of the old one.
      const d = deltaOf(panel.keyed(before), panel.keyed(after));
      expect(d.gone).toEqual([String(was.serial)]);
      expect(d.set).toEqual({ [String(now.serial)]: now });
    } finally {
      panel.close();
      await carol.close();
    }
  });
});
