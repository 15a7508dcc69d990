import { afterEach, describe, expect, it } from 'vitest';
import { Switcher } from '../../../src/switcher/switcher.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { admitRaw, connectRaw, PASSWORD, Raw } from './helpers.js';

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
