import { afterEach, describe, expect, it } from 'vitest';
import { type FlexStream, Node } from '../../../src/index.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { Cmd } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen } from '../../../src/wire/open.js';
import { RawPeer } from '../../helpers/raw.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/**
 * The node reads a byte stream with splitData: a data frame that spans reads is handed over piece
 * by piece. Each piece counted as a frame received (stats.framesIn, the admin's
 * flexmux_node_frames_received_total), and, for no stream, as a frame dropped: a 16 KiB frame
 * cut into 1 KiB reads counted 16 of each.
 */
describe('frames received in pieces', () => {
  function link(): { node: Node; raw: RawPeer } {
    const [a, b] = memoryPair({ maxChunk: 1024 });
    const node = new Node(a, { domain: 'alice', ip: 1, heartbeatInterval: 0 });
    cleanups.push(() => node.destroy());
    return { node, raw: new RawPeer(b) };
  }

  const data = (srcPort: number) => makeFrame(Cmd.DATA, 1, 80, 2, srcPort, new Uint8Array(16_384).fill(7));

  it('counts a data frame that spans reads once', async () => {
    const { node, raw } = link();
    const accepting = node.listen(80).accept();
    raw.send(Cmd.OPEN, 1, 80, 2, 5000, encodeOpen({ domain: 'raw', window: 0 }));
    const s: FlexStream = await accepting;
    await raw.next((f) => f.cmd === Cmd.OPEN_ACK);
    const before = node.stats.framesIn;
    let got = 0;
    s.on('data', (b: Buffer) => {
      got += b.length;
    });
    raw.sendAll([data(5000)]);
    await expect.poll(() => got).toBe(16_384);
    expect(node.stats.framesIn - before).toBe(1);
  });

  it('counts a data frame for no stream, spanning reads, as one dropped', async () => {
    const { node, raw } = link();
    raw.sendAll([data(5001)]);
    raw.send(Cmd.PING, 1, 0, 2, 7, new Uint8Array(0));
    await raw.next((f) => f.cmd === Cmd.PING_ACK);
    expect(node.stats.framesIn).toBe(2);
    expect(node.stats.dropped).toBe(1);
  });
});
