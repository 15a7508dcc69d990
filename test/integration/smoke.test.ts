import { createHash, randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type FlexStream, Node } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';

const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
});

function pair(): [Node, Node] {
  const [a, b] = memoryPair();
  const na = new Node(a, { domain: 'alice', ip: 1 });
  const nb = new Node(b, { domain: 'bob', ip: 2 });
  nodes.push(na, nb);
  return [na, nb];
}

async function readAll(s: FlexStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('direct link smoke', () => {
  it('echoes data with a hash check', async () => {
    const [a, b] = pair();
    const l = b.listen(80);
    l.on('stream', (s: FlexStream) => {
      void pipeline(s, s).catch(() => {});
    });
    const s = await a.dial('bob:80');
    const data = randomBytes(5 * 1024 * 1024 + 17);
    const got = readAll(s);
    s.end(data);
    const out = await got;
    expect(out.length).toBe(data.length);
    expect(createHash('sha256').update(out).digest('hex')).toBe(
      createHash('sha256').update(data).digest('hex'),
    );
  });

  it('refuses a dial to a port without a listener', async () => {
    const [a] = pair();
    await expect(a.dial('bob:81')).rejects.toMatchObject({
      code: 'FLEX_ERR_DIAL_REFUSED',
      reason: 'no-listener',
    });
  });

  it('names the refused dial in the error message, as a timed-out one does', async () => {
    const [a] = pair();
    // Before: 'dial refused: listener not found', which of a program's dials it was left unsaid.
    await expect(a.dial('bob:81')).rejects.toMatchObject({
      message: 'dial bob:81 refused: listener not found',
      remoteText: 'listener not found',
    });
  });

  it('pings the peer', async () => {
    const [a] = pair();
    const rtt = await a.ping('bob');
    expect(rtt).toBeGreaterThanOrEqual(0);
    await expect(a.ping('carol')).rejects.toMatchObject({ code: 'FLEX_ERR_PING_FAILED' });
  });

  it('names the pinged domain in the message of a failed or timed-out ping', async () => {
    // Before: 'ping failed: domain not match' and 'ping timed out after 50 ms', which of a
    // program's pings it was left unsaid (a dial's errors name their address).
    const [a] = pair();
    await expect(a.ping('carol')).rejects.toMatchObject({
      message: 'ping carol failed: domain not match',
      remoteText: 'domain not match',
    });
    const [t, silent] = memoryPair();
    const lonely = new Node(t, { domain: 'dora', ip: 3 });
    nodes.push(lonely);
    try {
      await expect(lonely.ping('bob', { timeout: 50 })).rejects.toMatchObject({
        code: 'FLEX_ERR_TIMEOUT',
        message: 'ping bob timed out after 50 ms',
      });
      await expect(lonely.ping('', { timeout: 50 })).rejects.toMatchObject({
        message: 'ping the switcher timed out after 50 ms',
      });
    } finally {
      silent.destroy();
    }
  });
});
