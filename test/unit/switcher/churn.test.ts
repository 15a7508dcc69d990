import { afterEach, describe, expect, it } from 'vitest';
import type { SwitcherClient } from '../../../src/switcher/client.js';
import type { Registry } from '../../../src/switcher/registry.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Cmd } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { join, PASSWORD } from './helpers.js';

/**
 * A long-lived client among others that come and go keeps nothing of the departed ones; of those
 * that stay, nothing beyond the queues its outbox keeps for them, and none of those once it has
 * nothing in flight.
 */

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

  it('forgets who fed a client when its outbox lets go of their empty queues', async () => {
    const sw = new Switcher({ password: PASSWORD });
    switchers.push(sw);
    const alice = await join(sw, 'alice');
    // More sources than the outbox keeps empty queues for (it sweeps past 64 new ones), each
    // sending one frame and staying connected.
    const bobs = [];
    for (let i = 0; i < 150; i++) {
      const bob = await join(sw, `bob${i}`);
      bob.send(makeFrame(Cmd.DATA, alice.ip, 80, bob.ip, 1000, new Uint8Array(3)));
      await alice.next((f) => f.cmd === Cmd.DATA && f.srcIP === bob.ip);
      bobs.push(bob);
    }
    const a = inner(sw, 'alice') as unknown as { feeders: Set<SwitcherClient>; outbox: { sources: number } };
    expect(a.outbox.sources).toBeLessThan(100);
    // Both records of each pair went with its queue: they grew with every live source that once
    // sent (a pair of Set entries each, never pruned while both stayed connected).
    expect(a.feeders.size).toBe(a.outbox.sources);
    let feeding = 0;
    for (let i = 0; i < bobs.length; i++) {
      const feeds = (inner(sw, `bob${i}`) as unknown as { feeds: Set<SwitcherClient> }).feeds;
      if (feeds.size > 0) feeding++;
    }
    expect(feeding).toBe(a.outbox.sources);
    for (const bob of bobs) bob.t.destroy();
    alice.t.destroy();
  });

  it('lets go of the queues between two nodes once their streams are closed', async () => {
    const sw = new Switcher({ password: PASSWORD });
    switchers.push(sw);
    const alice = await join(sw, 'alice');
    const peers = [await join(sw, 'bob'), await join(sw, 'carol')];
    const state = (domain: string) => {
      const c = inner(sw, domain) as unknown as {
        outbox: { sources: number };
        feeds: Set<SwitcherClient>;
        feeders: Set<SwitcherClient>;
      };
      return [c.outbox.sources, c.feeds.size, c.feeders.size];
    };
    for (let round = 0; round < 3; round++) {
      // Alice dials each peer from ports 1000.., the peers accept, then each side closes half of
      // the streams (v3 close, answered with a close-ACK).
      for (const [i, peer] of peers.entries()) {
        for (let k = 0; k < 4; k++) {
          const port = 1000 + 10 * i + k;
          alice.send(makeFrame(Cmd.OPEN, peer.ip, 80, alice.ip, port, encodeOpen({ domain: '' })));
          await peer.next((f) => f.cmd === Cmd.OPEN && f.srcPort === port);
          peer.send(makeFrame(Cmd.OPEN_ACK, alice.ip, port, peer.ip, 80, encodeOpenAck({ window: 0 })));
          await alice.next((f) => f.cmd === Cmd.OPEN_ACK && f.dstPort === port);
        }
      }
      expect(sw.client('alice')?.streams).toBe(8);
      for (const [i, peer] of peers.entries()) {
        for (let k = 0; k < 4; k++) {
          const port = 1000 + 10 * i + k;
          const [closer, other] = k % 2 === 0 ? [alice, peer] : [peer, alice];
          const [cPort, oPort] = closer === alice ? [port, 80] : [80, port];
          closer.send(makeFrame(Cmd.CLOSE, other.ip, oPort, closer.ip, cPort));
          await other.next((f) => f.cmd === Cmd.CLOSE && f.srcPort === cPort);
          other.send(makeFrame(Cmd.CLOSE_ACK, closer.ip, cPort, other.ip, oPort));
          await closer.next((f) => f.cmd === Cmd.CLOSE_ACK && f.dstPort === cPort);
        }
      }
      await alice.barrier();
      for (const peer of peers) await peer.barrier();
      // Every queue, and both records of each pair, is gone: the idle value, as before the first
      // stream. Else one queue per pair that talked stayed, with its two Set entries.
      expect(sw.client('alice')?.streams).toBe(0);
      expect(state('alice')).toEqual([0, 0, 0]);
      expect(state('bob')).toEqual([0, 0, 0]);
      expect(state('carol')).toEqual([0, 0, 0]);
    }
    for (const peer of peers) peer.t.destroy();
    alice.t.destroy();
  });
});
