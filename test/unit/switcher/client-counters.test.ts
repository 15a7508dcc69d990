import { afterEach, describe, expect, it } from 'vitest';
import type { ClientCounters } from '../../../src/switcher/client.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { join, PASSWORD } from './helpers.js';

/** `clients(limit)` and `eachClient()`: cheaper reads of the clients, agreeing with `clients()`. */

const open: Switcher[] = [];
afterEach(async () => {
  for (const sw of open.splice(0)) await sw.close({ timeout: 500 });
});

describe('switcher client reads', () => {
  it('lists the first `limit` clients, and gives the counters of each in the same order', async () => {
    const sw = new Switcher({ password: PASSWORD });
    open.push(sw);
    const raws = [];
    for (let i = 0; i < 4; i++) raws.push(await join(sw, `k-${i}`));
    await Promise.all(raws.map((r) => r.barrier()));
    const all = sw.clients();
    expect(all.map((c) => c.domain)).toEqual(['k-0', 'k-1', 'k-2', 'k-3']);
    expect(sw.clients(2)).toEqual(all.slice(0, 2));
    expect(sw.clients(0)).toEqual([]);
    expect(sw.clients(10)).toEqual(all);
    const counters: ClientCounters[] = [];
    sw.eachClient((c) => counters.push(c));
    expect(counters).toEqual(
      all.map((c) => ({
        id: c.id,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
        streams: c.streams,
        queuedBytes: c.queuedBytes,
        rtt: c.rtt,
      })),
    );
    expect(counters[0].bytesIn).toBeGreaterThan(0);
  });
});
