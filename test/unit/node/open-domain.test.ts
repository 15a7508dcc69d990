import { afterEach, describe, expect, it } from 'vitest';
import { Node } from '../../../src/index.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { Cmd } from '../../../src/wire/constants.js';
import { decodeOpenAck, encodeOpen } from '../../../src/wire/open.js';
import { HostilePeer } from '../../helpers/faulty-peer.js';

const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
});

/** A node listening on 80 and a raw peer (IP 2) that opens streams to it with any payload. */
async function accepted(domain: string) {
  const [a, b] = memoryPair();
  const node = new Node(a, { ip: 1, domain: 'alice', heartbeatInterval: 0 });
  nodes.push(node);
  const l = node.listen(80);
  const peer = new HostilePeer(b);
  peer.frame(Cmd.OPEN, 1, 80, 2, 5000, encodeOpen({ domain, window: 0 }));
  const ack = await peer.next((f) => f.cmd === Cmd.OPEN_ACK);
  expect(decodeOpenAck(ack.payload).ok).toBe(true);
  return l.accept();
}

describe("an accepted stream's remote domain (the OpenStream payload's text)", () => {
  it('keeps a valid name as the dialer wrote it', async () => {
    expect((await accepted('Bob')).remoteDomain).toBe('Bob');
  });

  it('drops an invalid name', async () => {
    expect((await accepted('b.o.b')).remoteDomain).toBe('');
  });

  it('keeps the name of a valid one padded with 40,000 white-space characters, not the padding', async () => {
    // Valid once trimmed (2.8), so it passed the check meant to keep 64 KB of text off the stream.
    const s = await accepted(`${' '.repeat(30_000)}Bob${'\u3000'.repeat(10_000)}`);
    expect(s.remoteDomain).toBe('Bob');
  });
});

// On a direct link nothing rewrites the open's name: it is the target's, the acceptor's own. The
// acceptor showed it as the dialer's (`remoteDomain` 'alice' on alice's side, in its admin API
// and logs too), naming itself as its peer.
describe('an accepted stream on a direct link, dialled by name', () => {
  it("is not taken for a stream from the acceptor's own domain", async () => {
    expect((await accepted('alice')).remoteDomain).toBe('');
    expect((await accepted('ALICE')).remoteDomain).toBe('');
  });

  it('still names the node itself on a dial to its own domain (the loopback)', async () => {
    const [a] = memoryPair();
    const node = new Node(a, { ip: 1, domain: 'alice', heartbeatInterval: 0 });
    nodes.push(node);
    const l = node.listen(80);
    const dialled = await node.dial('alice:80');
    const s = await l.accept();
    expect(s.remoteDomain).toBe('alice');
    dialled.destroy();
    s.destroy();
  });
});
