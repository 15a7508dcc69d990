import { afterEach, describe, expect, it } from 'vitest';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Caps, Cmd } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { admitRaw, connectRaw, join, PASSWORD, type Raw } from './helpers.js';

/**
 * A client that leaves (kicked, evicted) stops being routed at once: nothing it sends passes any
 * more, nothing reaches it. Its connection may take up to the transport's close timeout (5 s) to
 * end, over a dead link or to a node that does not read; the other ends of its streams must be
 * told when it leaves, not then, or they write into a void meanwhile.
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 200 })));
});

/** dial -> acc:80 by IP, linked at the switcher with `caps` negotiated. */
async function stream(dial: Raw, acc: Raw, caps?: number): Promise<void> {
  dial.send(makeFrame(Cmd.OPEN, acc.ip, 80, dial.ip, 1000, encodeOpen({ domain: '', caps })));
  await acc.next((f) => f.cmd === Cmd.OPEN);
  acc.send(makeFrame(Cmd.OPEN_ACK, dial.ip, 1000, acc.ip, 80, encodeOpenAck({ window: 0, caps })));
  await dial.next((f) => f.cmd === Cmd.OPEN_ACK);
}

describe('the survivors of a client that leaves', () => {
  it('get a reset when the client is evicted, not when its dead connection times out', async () => {
    const sw = new Switcher({ password: PASSWORD, livenessTimeout: 50 });
    switchers.push(sw);
    const holder = await join(sw, 'holder');
    const dial = await join(sw, 'dial');
    await stream(dial, holder, Caps.RESET);
    // The holder's link goes dark; a newcomer claims its domain and evicts it.
    (holder.t as unknown as { blackhole(): void }).blackhole();
    const res = await admitRaw(connectRaw(sw), 'holder');
    expect(res.errCode).toBe(0);
    const reset = await dial.next((f) => f.cmd === Cmd.RESET, 1_000);
    expect([reset.srcIP, reset.srcPort, reset.dstPort]).toEqual([holder.ip, 80, 1000]);
    expect(sw.client('dial')?.streams).toBe(0);
  });

  it('get a CloseStream when a client with a dead link is kicked (plain v3)', async () => {
    const sw = new Switcher({ password: PASSWORD });
    switchers.push(sw);
    const acc = await join(sw, 'acc');
    const dial = await join(sw, 'dial');
    await stream(dial, acc);
    (acc.t as unknown as { blackhole(): void }).blackhole();
    expect(sw.kick('acc')).toBe(true);
    const close = await dial.next((f) => f.cmd === Cmd.CLOSE, 1_000);
    expect([close.srcIP, close.srcPort, close.dstPort]).toEqual([acc.ip, 80, 1000]);
  });
});
