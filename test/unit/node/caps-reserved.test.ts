import { afterEach, describe, expect, it } from 'vitest';
import type { Node } from '../../../src/index.js';
import { ALL_CAPS, Caps, Cmd } from '../../../src/wire/constants.js';
import { decodeOpen, decodeOpenAck, encodeOpenAck } from '../../../src/wire/open.js';
import { rawLink } from '../../helpers/raw.js';

/**
 * PROTOCOL.md 14.1: bits of the caps byte other than the defined ones are reserved, and senders
 * set them to 0; EARLY_ROUTED (0x20) is a switcher's mark in ACKs, never offered by a node
 * (docs/protocol.md 8). The `caps` option takes 0..255, so a node given more bits than it knows
 * (0xff, say) must still put only the defined offer bits on the wire.
 */

const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
});

describe('caps a node puts on the wire (PROTOCOL.md 14.1)', () => {
  it('an OpenStream offers no reserved bit and no EARLY_ROUTED, whatever the caps option holds', async () => {
    const { node, raw } = rawLink({ caps: 0xff, earlyData: true, heartbeatInterval: 0 });
    nodes.push(node);
    const dialled = node.dial('bob:80');
    dialled.catch(() => {}); // awaited below; a failed check must not leave it unhandled
    const open = await raw.next((f) => f.cmd === Cmd.OPEN);
    expect(decodeOpen(open.payload).caps).toBe(ALL_CAPS);
    // The answer of a flexmux switcher, marked EARLY_ROUTED: the stream uses what both ends know.
    raw.send(Cmd.OPEN_ACK, 1, open.srcPort, 3, 80, encodeOpenAck({ window: 0, caps: 0xff }));
    const s = await dialled;
    expect(s.core.caps).toBe(ALL_CAPS);
    s.destroy();
  });

  it('an OpenStream ACK answers with defined bits only', async () => {
    const { node, raw } = rawLink({ caps: 0xff, heartbeatInterval: 0 });
    nodes.push(node);
    const accepting = node.listen(80).accept();
    raw.send(Cmd.OPEN, 1, 80, 2, 5000, new Uint8Array([0x62, 0, 0, 0, 0, 0, 0xff]));
    const ack = decodeOpenAck((await raw.next((f) => f.cmd === Cmd.OPEN_ACK)).payload);
    expect(ack.ok && ack.caps).toBe(ALL_CAPS);
    expect(ack.ok && ack.caps & Caps.EARLY_ROUTED).toBe(0);
    (await accepting).destroy();
  });
});
