import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { validateAdminOptions } from '../../../src/admin/config.js';
import { delta, type Keyed } from '../../../src/admin/delta.js';
import { SwitcherPanel } from '../../../src/admin/switcher-panel.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { join, PASSWORD, type Raw } from '../switcher/helpers.js';

/**
 * Deltas of snapshots: what the dashboard's event stream carries after its hello. Applied to the
 * snapshot before, a delta gives the snapshot after; and an idle switcher's delta holds the
 * totals, not a row per client (a snapshot of 1,000 clients was 345 KB every second).
 */

const keyed = (t: number, items: Record<string, Record<string, unknown>>): Keyed => ({
  t,
  totals: { n: t },
  omitted: 0,
  items: new Map(Object.entries(items)),
});

/** What the dashboard does with a delta (static/dashboard.js, onDelta). */
function apply(items: ReadonlyMap<string, Readonly<Record<string, unknown>>>, d: ReturnType<typeof delta>) {
  const out = new Map(items);
  for (const k of d.gone) out.delete(k);
  for (const [k, fields] of Object.entries(d.set)) out.set(k, { ...out.get(k), ...fields });
  return out;
}

const open: Switcher[] = [];
afterEach(async () => {
  for (const sw of open.splice(0)) await sw.close({ timeout: 500 });
});

describe('snapshot deltas', () => {
  it('carries changed fields, new items whole and the keys of items gone', () => {
    const a = keyed(1, {
      x: { id: 1, n: 5, by: { data: 1 }, s: 'same' },
      y: { id: 2, n: 5, by: {} },
      z: { id: 3, n: 0, by: {} },
    });
    const b = keyed(2, {
      x: { id: 1, n: 6, by: { data: 2 }, s: 'same' },
      y: { id: 2, n: 5, by: {} },
      w: { id: 4, n: 1, by: { open: 1 } },
    });
    const d = delta(a, b);
    expect(d).toEqual({
      t: 2,
      totals: { n: 2 },
      omitted: 0,
      set: { x: { n: 6, by: { data: 2 } }, w: { id: 4, n: 1, by: { open: 1 } } },
      gone: ['z'],
    });
    expect(apply(a.items, d)).toEqual(b.items);
    // A flat object that gained or lost a key changed.
    const c = keyed(3, {
      x: { id: 1, n: 6, by: { data: 2, ping: 1 }, s: 'same' },
      y: { id: 2, n: 5, by: {} },
    });
    expect(delta(b, c).set).toEqual({ x: { by: { data: 2, ping: 1 } } });
    expect(delta(c, b).set).toEqual({ x: { by: { data: 2 } }, w: b.items.get('w') });
  });

  it('holds the totals and the clients that moved, not a row per client', async () => {
    const sw = new Switcher({ password: PASSWORD, maxClients: 300 });
    open.push(sw);
    const raws: Raw[] = await Promise.all(Array.from({ length: 200 }, (_, i) => join(sw, `client-${i}`)));
    const panel = new SwitcherPanel(sw, validateAdminOptions({ switcher: sw }), new Registry());
    try {
      let mono = 0;
      const sample = () => {
        mono += 1000;
        panel.tick(mono, 1_700_000_000_000 + mono);
        const s = panel.snapshot();
        return { s, k: panel.keyed(s) };
      };
      sample();
      const before = sample();
      const idle = sample();
      const full = JSON.stringify(idle.s).length;
      expect(full).toBeGreaterThan(200 * 250);
      // Nobody moved: the totals and nothing else.
      const quiet = delta(before.k, idle.k);
      expect(quiet.set).toEqual({});
      expect(JSON.stringify(quiet).length).toBeLessThan(600);
      // Three clients moved: three rows, with the fields that changed.
      for (const r of raws.slice(0, 3)) await r.barrier();
      const busy = sample();
      const moved = delta(idle.k, busy.k);
      // Keyed by client id (a connection), not by domain: switcher-reconnect.test.ts.
      const ids = [0, 1, 2].map((i) => String(sw.client(`client-${i}`)!.id));
      expect(Object.keys(moved.set).sort()).toEqual(ids.sort());
      expect(moved.set[ids[0]]).not.toHaveProperty('domain');
      expect(moved.set[ids[0]]).toHaveProperty('bytesIn');
      expect(JSON.stringify(moved).length).toBeLessThan(600 + 3 * 300);
      expect(apply(new Map(idle.k.items), moved)).toEqual(busy.k.items);
    } finally {
      panel.close();
    }
  });
});
