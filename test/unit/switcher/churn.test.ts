import { afterEach, describe, expect, it } from 'vitest';
import type { SwitcherClient } from '../../../src/switcher/client.js';
import type { Registry } from '../../../src/switcher/registry.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Cmd } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { join, PASSWORD } from './helpers.js';

/** A long-lived client among others that come and go keeps nothing of the departed ones. */

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 200 })));
});

/** The switcher's own record of a client. */
function inner(s: Switcher, domain: string): SwitcherClient {
  const c = (s as unknown as { registry: Registry<SwitcherClient> }).registry.byDomain(domain);
  if (c === undefined) throw new Error(`no client ${domain}`);
  return c;
}

describe('switcher under churn', () => {
  it('forgets the destinations a source once sent to when they leave', async () => {
    const sw = new Switcher({ password: PASSWORD });
    switchers.push(sw);
    const alice = await join(sw, 'alice');
    const rounds = 20;
    for (let i = 0; i < rounds; i++) {
      const bob = await join(sw, `bob${i}`);
      alice.send(makeFrame(Cmd.DATA, bob.ip, 80, alice.ip, 1000, new Uint8Array(3)));
      await bob.next((f) => f.cmd === Cmd.DATA);
      bob.t.destroy();
      await bob.closed;
      await expect.poll(() => sw.client(`bob${i}`)).toBeUndefined();
    }
    await alice.barrier();
    // Each departed client, with its transport and queues, stayed reachable from alice's record.
    const feeds = (inner(sw, 'alice') as unknown as { feeds: Set<SwitcherClient> }).feeds;
    expect(feeds.size).toBe(0);
  });
});
