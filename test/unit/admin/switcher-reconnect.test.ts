import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { validateAdminOptions } from '../../../src/admin/config.js';
import { delta, type Keyed } from '../../../src/admin/delta.js';
import { SwitcherPanel } from '../../../src/admin/switcher-panel.js';
import type { SwitcherSnapshot } from '../../../src/admin/switcher-view.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { admitRaw, connectRaw, join, PASSWORD, Raw } from '../switcher/helpers.js';

/**
 * A node that reconnects while its old connection is still retiring (kicked or evicted, its
 * close not finished) has two connections under one domain for a while: the switcher lists only
 * the new one, but the old one's departure is reported after the new one is listed. The admin's
 * items are keyed by connection (the client id), not by domain, so the two never stand for one
 * another: the delta drops the old and adds the new, and the departure names the old one's id.
 */

const open: Switcher[] = [];
afterEach(async () => {
  for (const sw of open.splice(0)) await sw.close({ timeout: 500 });
});

/** What the dashboard does with a delta (static/dashboard.js, onDelta), in order. */
function apply(items: Keyed['items'], d: ReturnType<typeof delta>) {
  const out = new Map(items);
  for (const k of d.gone) out.delete(k);
  for (const [k, fields] of Object.entries(d.set)) out.set(k, { ...out.get(k), ...fields });
  return out;
}

describe('admin feed: a node that reconnects while its old connection retires', () => {
  it('keys clients by connection, in deltas, histories and departures', async () => {
    const sw = new Switcher({ password: PASSWORD, closeTimeout: 60_000 });
    open.push(sw);
    // alice's link goes dark once she is admitted: the switcher's close of it waits (a minute)
    // for an answer that never comes, until the test ends it (`end()`, as a timeout would).
    const [a, b] = memoryPair({ closeTimeout: 60_000 });
    sw.handle(b);
    const old = new Raw(a);
    expect((await admitRaw(old, 'alice')).errCode).toBe(0);
    const bob = await join(sw, 'bob');
    const panel = new SwitcherPanel(sw, validateAdminOptions({ switcher: sw }), new Registry());
    const events: [string, Record<string, unknown>][] = [];
    panel.relay((event, data) => events.push([event, data as Record<string, unknown>]));
    try {
      let mono = 0;
      const sample = () => {
        mono += 1000;
        panel.tick(mono, 1_700_000_000_000 + mono);
        const s = panel.snapshot() as SwitcherSnapshot;
        return { s, k: panel.keyed(s) };
      };
      const first = sample();
      const oldId = sw.client('alice')!.id;

      (old.t as unknown as { blackhole(): void }).blackhole();
      const left = new Promise<void>((resolve) => sw.on('clientLeft', () => resolve()));
      expect(sw.kick('alice')).toBe(true);
      const fresh = connectRaw(sw);
      expect((await admitRaw(fresh, 'alice')).errCode).toBe(0);
      await bob.barrier();
      const newId = sw.client('alice')!.id;
      expect(newId).not.toBe(oldId);
      const second = sample();
      // The old connection is still retiring: its departure has not been reported.
      expect(events.filter(([e]) => e === 'clientLeft')).toEqual([]);
      // The switcher lists the new connection only (the old one left its tables on the kick).
      expect(second.s.clients.map((c) => [c.domain, c.id])).toEqual([
        ['bob', sw.client('bob')!.id],
        ['alice', newId],
      ]);

      // The delta takes the old connection out and brings the new one in whole: applied to the
      // sample before, it gives this sample's list, in its order (admission order).
      const d = delta(first.k, second.k);
      expect(d.gone).toEqual([String(oldId)]);
      expect(d.set[String(newId)]).toMatchObject({ id: newId, domain: 'alice' });
      expect([...apply(first.k.items, d).values()]).toEqual(second.s.clients);
      const hello = panel.hello(second.s) as { itemHistory: Record<string, unknown> };
      expect(Object.keys(hello.itemHistory).sort()).toEqual(second.s.clients.map((c) => String(c.id)).sort());

      // The old connection ends now, with the new one listed: its departure names it by id.
      b.destroy();
      await left;
      const gone = events.filter(([e]) => e === 'clientLeft').map(([, data]) => data);
      expect(gone).toEqual([expect.objectContaining({ id: oldId, domain: 'alice', reason: 'kicked' })]);
      const joined = events.filter(([e]) => e === 'client').map(([, data]) => data);
      expect(joined).toEqual([expect.objectContaining({ id: newId, domain: 'alice' })]);
      expect(sw.client('alice')!.id).toBe(newId);
    } finally {
      panel.close();
    }
  });
});
