import { afterEach, describe, expect, it } from 'vitest';
import type { ClientCounters } from '../../../src/switcher/client.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Cmd } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
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
        streamsAccepted: (sw.streams(c.domain) ?? []).filter((s) => s.acceptor.domain === c.domain).length,
      })),
    );
    expect(counters[0].bytesIn).toBeGreaterThan(0);
  });

  it('counts frames by command, listed by command byte whatever order they came in', async () => {
    const sw = new Switcher({ password: PASSWORD });
    open.push(sw);
    const raw = await join(sw, 'k-cmd');
    await raw.barrier();
    // To an IP nobody holds: dropped, but received and counted.
    raw.send(makeFrame(Cmd.DATA, 0x1234, 80, raw.ip, 1, new Uint8Array(4)));
    raw.send(makeFrame(Cmd.CLOSE, 0x1234, 80, raw.ip, 1));
    raw.send(makeFrame(0xf0, 0x1234, 80, raw.ip, 1));
    await raw.barrier(0xfff1);
    const byCmd = sw.client('k-cmd')!.framesByCmd;
    expect(Object.entries(byCmd)).toEqual([
      ['close', 1],
      ['data', 1],
      ['ping', 2],
      ['<240>', 1],
    ]);
  });
});
