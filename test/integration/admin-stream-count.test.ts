import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, type SwitcherTotals, startAdmin } from '../../src/admin/index.js';
import type { FlexStream } from '../../src/index.js';
import { eventually, parseMetrics, startTraffic, type Traffic } from './admin-fixture.js';
import { request } from './admin-http.js';

/**
 * The dashboard's "Streams" card showed `totals.streams`, which counts a stream at each of its
 * two ends: 10,000 streams open through a switcher showed as 20,000. `openStreams` (and the
 * `flexmux_switcher_streams` gauge) count each stream once, through closes and departures.
 */
describe('switcher admin: streams counted once', () => {
  let t: Traffic;
  let admin: AdminServer;
  let extra: FlexStream[] = [];

  const totals = async (): Promise<SwitcherTotals> =>
    ((await request(admin.url, '/api/v1/info')).json as { totals: SwitcherTotals }).totals;
  const gauge = async (): Promise<number | undefined> =>
    parseMetrics((await request(admin.url, '/metrics')).text).get('flexmux_switcher_streams');

  beforeAll(async () => {
    t = await startTraffic();
    t.bob.listen(7).on('stream', (s: FlexStream) => s.on('error', () => {}).resume());
    extra = await t.dialFrom('carol', ['alice:7', 'alice:7', 'bob:7']);
    admin = await startAdmin({ switcher: t.sw, port: 0 });
  });

  afterAll(async () => {
    await admin?.close();
    await t?.close();
  });

  it('counts bob-alice and carol’s three once each, and follows closes and a kick', async () => {
    await eventually(async () => {
      const tot = await totals();
      expect(tot.streams).toBe(8);
      expect(tot.openStreams).toBe(4);
      expect(await gauge()).toBe(4);
    });
    extra[0]!.destroy();
    await eventually(async () => expect((await totals()).openStreams).toBe(3));
    expect((await request(admin.url, '/api/v1/clients/carol', { method: 'DELETE' })).status).toBe(200);
    await eventually(async () => {
      const tot = await totals();
      expect(tot.streams).toBe(2);
      expect(tot.openStreams).toBe(1);
      expect(await gauge()).toBe(1);
    });
  });
});
