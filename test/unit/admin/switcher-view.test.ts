import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { validateAdminOptions } from '../../../src/admin/config.js';
import { type RateBook, round } from '../../../src/admin/rates.js';
import { SwitcherPanel } from '../../../src/admin/switcher-panel.js';
import { SwitcherView } from '../../../src/admin/switcher-view.js';
import { SwitcherClient } from '../../../src/switcher/client.js';
import type { SwitcherOptions } from '../../../src/switcher/config.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Cmd } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { join, PASSWORD, type Raw } from '../switcher/helpers.js';

/**
 * The switcher view reads every client's counters for samples and totals, and builds a full view
 * (`ClientInfo` and all) only of the clients a snapshot returns. These tests pin what that must
 * not change: the totals count every client, and the returned views are those `clients()` lists.
 */

const open: Switcher[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const sw of open.splice(0)) await sw.close({ timeout: 500 });
});

async function withClients(n: number, o: Partial<SwitcherOptions> = {}) {
  const sw = new Switcher({ password: PASSWORD, ...o });
  open.push(sw);
  const raws: Raw[] = [];
  for (let i = 0; i < n; i++) raws.push(await join(sw, `v-${i}`));
  await Promise.all(raws.map((r) => r.barrier()));
  return { sw, raws };
}

/** Opens one stream from `a` to `b` through the switcher (it then counts at both ends). */
async function openStream(a: Raw, b: Raw): Promise<void> {
  a.send(makeFrame(Cmd.OPEN, b.ip, 80, a.ip, 1, encodeOpen({ domain: '' })));
  await b.next((f) => f.cmd === Cmd.OPEN);
  b.send(makeFrame(Cmd.OPEN_ACK, a.ip, 1, b.ip, 80, encodeOpenAck({ window: 0 })));
  await a.next((f) => f.cmd === Cmd.OPEN_ACK);
}

describe('SwitcherView', () => {
  it('counts every client in the totals of a snapshot that lists only the first `limit`', async () => {
    const { sw, raws } = await withClients(5);
    // The only stream is between two clients the snapshot leaves out.
    await openStream(raws[3], raws[4]);
    const view = new SwitcherView(sw, 10, 10);
    view.tick(0, 1_000);
    await raws[0].barrier();
    view.tick(1_000, 2_000);
    const all = view.clients();
    const snap = view.snapshot(2);
    expect(snap.omitted).toBe(3);
    expect(snap.totals.clients).toBe(5);
    expect(snap.totals.streams).toBe(2);
    expect(snap.totals.streams).toBe(all.reduce((n, c) => n + c.streams, 0));
    expect(snap.totals.queuedBytes).toBe(all.reduce((n, c) => n + c.queuedBytes, 0));
    // The same views, key order included, as the first two of the full list.
    expect(JSON.stringify(snap.clients)).toBe(JSON.stringify(all.slice(0, 2)));
    expect(snap.clients[0].rateIn).toBeGreaterThan(0);
    // A limit above the count lists everyone and omits none.
    const every = view.snapshot(10);
    expect(JSON.stringify(every.clients)).toBe(JSON.stringify(all));
    expect(every.omitted).toBe(0);
    expect(every.totals).toEqual(snap.totals);
  });

  it('builds client snapshots only of the clients a snapshot returns, and none to sample', async () => {
    const { sw } = await withClients(5);
    const view = new SwitcherView(sw, 10, 10);
    const info = vi.spyOn(SwitcherClient.prototype, 'info');
    view.tick(0, 1_000);
    view.tick(1_000, 2_000);
    expect(info).not.toHaveBeenCalled();
    view.snapshot(2);
    expect(info).toHaveBeenCalledTimes(2);
    view.totals();
    expect(info).toHaveBeenCalledTimes(2);
  });

  it('rates each client from its byte counters between two samples', async () => {
    const { sw, raws } = await withClients(2);
    const view = new SwitcherView(sw, 10, 10);
    const before = sw.client('v-1')!;
    view.tick(0, 1_000);
    await raws[1].barrier();
    view.tick(500, 1_500);
    const after = sw.client('v-1')!;
    const c = view.client('v-1')!;
    expect(c.rateIn).toBe((after.bytesIn - before.bytesIn) * 2);
    expect(c.rateOut).toBe((after.bytesOut - before.bytesOut) * 2);
    expect(view.client('v-0')!.rateIn).toBe(0);
  });

  it('shows a client as its ClientInfo with an ISO time, rates and ms, keys in that order', async () => {
    const { sw, raws } = await withClients(2, { pingInterval: 100, livenessTimeout: 2_000 });
    await raws[1].answerLiveness();
    await raws[1].barrier();
    const view = new SwitcherView(sw, 10, 10);
    view.tick(0, 1_000);
    await raws[1].barrier();
    view.tick(1_000, 2_000);
    const info = sw.client('v-1')!;
    expect(info.rtt).not.toBeNull();
    const v = view.client('v-1')!;
    expect(v.rateIn).toBeGreaterThan(0);
    // What the view was before it was written out field by field: rest and spread.
    const { connectedAt, rtt, ...rest } = info;
    const expected = {
      ...rest,
      connectedAt: new Date(connectedAt).toISOString(),
      rateIn: v.rateIn,
      rateOut: v.rateOut,
      rttMs: rtt === null ? null : round(rtt),
    };
    expect(JSON.stringify(v)).toBe(JSON.stringify(expected));
  });

  it('keeps sparkline histories only for the clients a snapshot lists, rates for all', async () => {
    const { sw, raws } = await withClients(5);
    const panel = new SwitcherPanel(
      sw,
      validateAdminOptions({ switcher: sw, maxSnapshotItems: 2 }),
      new Registry(),
    );
    panel.tick(0, 1_000);
    await raws[4].barrier();
    panel.tick(1_000, 2_000);
    panel.close();
    // Every client had a history of its own, 2.2 KB each: 22 MB for 10,000 clients whose
    // histories no dashboard could show beyond the first maxSnapshotItems.
    const book = (panel.view as unknown as { book: RateBook<number> }).book;
    const kept = sw.clients().map((c) => book.get(c.id)?.series?.size ?? null);
    expect(kept).toEqual([1, 1, null, null, null]);
    expect(panel.view.client('v-4')!.rateIn).toBeGreaterThan(0);
    const hello = panel.hello() as { itemHistory: Record<string, unknown> };
    expect(Object.keys(hello.itemHistory)).toEqual(['v-0', 'v-1'].map((d) => String(sw.client(d)!.id)));
  });
});
