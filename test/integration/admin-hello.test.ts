import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, startAdmin } from '../../src/admin/index.js';
import { eventually, startTraffic, type Traffic } from './admin-fixture.js';
import { collectEvents } from './admin-http.js';

/**
 * The event stream's hello gave each client's sparkline history with its own sample times, the
 * same numbers for every client: with 1,000 clients and 60 samples, 840 KB of a 1.2 MB hello
 * that every dashboard tab (and every reconnection) received. They are sent once now.
 */
interface Hello {
  history: { t: number[] };
  itemTimes: number[];
  itemHistory: Record<string, { t?: number[]; in: number[]; out: number[] }>;
}

describe('admin event stream: the hello', () => {
  let t: Traffic;
  let admin: AdminServer;

  beforeAll(async () => {
    t = await startTraffic();
    const carol = t.session('carol');
    await carol.ready({ timeout: 5_000 });
    admin = await startAdmin({ switcher: t.sw, port: 0, sampleInterval: 20, itemHistory: 8 });
  });

  afterAll(async () => {
    await admin?.close();
    await t?.close();
  });

  it('sends the sample times of the clients’ histories once', async () => {
    const hello = await eventually(async () => {
      const [first] = await collectEvents(admin.url, '/api/v1/events', (ev) => ev.length >= 1);
      const h = first!.data as Hello;
      // Enough samples that a full history is there to share.
      expect(h.history.t.length).toBeGreaterThan(8);
      return h;
    });
    expect(hello.itemTimes).toHaveLength(8);
    // The clients' times are the last of the total's: they were sampled in the same rounds.
    expect(hello.itemTimes).toEqual(hello.history.t.slice(-8));
    // By client id, the key of a delta's items.
    const ids = ['alice', 'bob', 'carol'].map((d) => String(t.sw.client(d)!.id));
    expect(Object.keys(hello.itemHistory).sort()).toEqual(ids.sort());
    for (const s of Object.values(hello.itemHistory)) {
      expect(s).not.toHaveProperty('t');
      expect(s.in).toHaveLength(8);
      expect(s.out).toHaveLength(8);
    }
  });
});
