import { afterEach, describe, expect, it } from 'vitest';
import { type FlexStream, Node, type NodeOptions } from '../../src/index.js';
import { admit } from '../../src/node/admit.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { memoryPair } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/types.js';
import { Cmd } from '../../src/wire/constants.js';
import { makeFrame } from '../../src/wire/frame.js';
import { encodeOpenAck } from '../../src/wire/open.js';
import { readAll } from '../helpers/streams.js';
import { join as joinRaw } from '../unit/switcher/helpers.js';

/**
 * PROTOCOL.md 14: extension frames are "never sent to a peer that did not ask for them". A dialer
 * with `earlyData` remembers per domain that its holder takes early data; when the domain passes
 * to a Go node (a reconnect, a takeover), the next dial still sends its data and its FIN (0x0C)
 * behind the open, and the switcher routes them to the Go node before its plain-v3 ACK.
 */

const PASSWORD = 'flex-test';
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function join(sw: Switcher, domain: string, options: NodeOptions = {}): Promise<Node> {
  const [mine, theirs] = memoryPair();
  sw.handle(theirs);
  const { ip, transport } = await admit(mine as Transport, { password: PASSWORD, domain });
  const node = new Node(transport, { ...options, domain, ip });
  cleanup.push(() => node.destroy());
  return node;
}

describe('early data and a domain now held by a Go node', () => {
  // Known failure (audit): the Go node receives [DATA, FIN 0x0C] before its ACK. Unfixed; flip to
  // `it` once the switcher holds early frames until the ACK shows the acceptor takes them.
  it.fails('sends no frame of an unnegotiated extension to a Go node', async () => {
    const sw = new Switcher({ password: PASSWORD });
    cleanup.push(() => sw.close({ timeout: 1_000 }));
    const bob = await join(sw, 'bob');
    const alice = await join(sw, 'alice', { earlyData: true });
    bob.listen(9).on('stream', (s: FlexStream) => {
      s.on('error', () => {});
      s.resume();
      s.on('end', () => s.end('ok'));
    });
    const first = await alice.dial('bob:9');
    first.end('hi');
    expect((await readAll(first)).toString()).toBe('ok');
    // bob's node goes; a Go node (raw frames here) takes the domain.
    bob.destroy();
    await expect.poll(() => sw.client('bob')).toBeUndefined();
    const goBob = await joinRaw(sw, 'bob');
    const s = await alice.dial('bob:9');
    s.on('error', () => {});
    s.end('request');
    const open = await goBob.next((f) => f.cmd === Cmd.OPEN);
    // Whatever else reaches the Go node before it answers.
    await new Promise((r) => setTimeout(r, 50));
    const before = goBob.inbox.map((f) => f.cmd);
    goBob.send(makeFrame(Cmd.OPEN_ACK, open.srcIP, open.srcPort, goBob.ip, 9, encodeOpenAck({ window: 0 })));
    // A Go node knows neither 0x0C nor data for a stream it has not accepted yet.
    expect(before).not.toContain(Cmd.FIN);
    expect(before).not.toContain(Cmd.DATA);
  });
});
