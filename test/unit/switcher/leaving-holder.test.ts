import { afterEach, describe, expect, it } from 'vitest';
import { IpPool } from '../../../src/switcher/ip-pool.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { admitRaw, connectRaw, join, PASSWORD, Raw } from './helpers.js';

/**
 * A client that leaves (kicked, evicted, closing) stops being routed at once, but its connection
 * can take the transport's close timeout to end (a dead link, a node that does not read). What it
 * held must be let go at the right moment: its domain and a claim waiting on it at once, its
 * virtual IP only once the connection is gone.
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 200 })));
});

/** A client over a memory link whose graceful close waits a minute for a dark peer. */
async function joinSlowClosing(sw: Switcher, domain: string): Promise<Raw> {
  const [a, b] = memoryPair({ closeTimeout: 60_000 });
  sw.handle(b);
  const raw = new Raw(a);
  const res = await admitRaw(raw, domain);
  if (res.errCode !== 0) throw new Error(`admission of ${domain} refused: ${res.errCode}`);
  return raw;
}

const blackhole = (r: Raw): void => (r.t as unknown as { blackhole(): void }).blackhole();

describe('switcher: a holder that leaves', () => {
  it('settles the liveness ping a claimant waits on at once when it is kicked', async () => {
    const sw = new Switcher({ password: PASSWORD, livenessTimeout: 60_000 });
    switchers.push(sw);
    const holder = await joinSlowClosing(sw, 'dup');
    const claimant = admitRaw(connectRaw(sw), 'dup');
    // The takeover ping is out; the holder's link goes dark, and it is kicked.
    await holder.next((f) => f.cmd === Cmd.PING && f.srcIP === SWITCHER_IP);
    blackhole(holder);
    expect(sw.kick('dup')).toBe(true);
    // Admitted now, not after the 60 s liveness timeout (nor the 60 s close of the dead link).
    const res = await claimant;
    expect(res.errCode).toBe(0);
    expect(sw.client('dup')?.ip).toBe(res.ip);
  });
});

describe('switcher: the virtual IP of a client that leaves', () => {
  it('goes to no other node until its connection has ended', async () => {
    const sw = new Switcher({ password: PASSWORD });
    switchers.push(sw);
    // Two IPs only, so that a released IP is the next one handed out (7.3: reused once all were).
    (sw as unknown as { registry: { pool: IpPool } }).registry.pool = new IpPool(1, 2);
    const old = await joinSlowClosing(sw, 'old');
    const surv = await join(sw, 'surv');
    surv.send(makeFrame(Cmd.OPEN, old.ip, 80, surv.ip, 1000, encodeOpen({ domain: '' })));
    await old.next((f) => f.cmd === Cmd.OPEN);
    old.send(makeFrame(Cmd.OPEN_ACK, surv.ip, 1000, old.ip, 80, encodeOpenAck({ window: 0 })));
    await surv.next((f) => f.cmd === Cmd.OPEN_ACK);
    // The old node stops reading with a frame unread, so its connection cannot end yet (the
    // switcher's end of it waits behind that frame); it is kicked.
    old.t.pauseReading();
    surv.send(makeFrame(Cmd.DATA, old.ip, 80, surv.ip, 1000, new Uint8Array(4)));
    await surv.barrier();
    const left = new Promise<void>((resolve) => sw.on('clientLeft', () => resolve()));
    expect(sw.kick('old')).toBe(true);
    await surv.next((f) => f.cmd === Cmd.CLOSE);
    // A node admitted meanwhile does not get the old node's IP (here none is left to give)...
    const early = connectRaw(sw);
    const refused = await admitRaw(early, 'new');
    expect([refused.errCode, refused.ip]).toEqual([-2, 0]);
    // ... so a frame of the old stream sent before the survivor took the close in reaches nobody.
    const dropped = sw.stats().dropped;
    surv.send(makeFrame(Cmd.DATA, old.ip, 80, surv.ip, 1000, new Uint8Array(4)));
    await surv.barrier();
    expect(sw.stats().dropped).toBe(dropped + 1);
    // Once the old connection ended, its IP is free again.
    old.t.resumeReading();
    await left;
    const late = await admitRaw(connectRaw(sw), 'new');
    expect([late.errCode, late.ip]).toEqual([0, old.ip]);
  });
});
