import { afterEach, describe, expect, it } from 'vitest';
import { type FlexStream, Node, type NodeOptions } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { once, readAll } from '../helpers/streams.js';
import { Tap } from '../helpers/tap.js';

/**
 * Release on FIN (caps bit 04, docs/protocol.md 8): a stream whose ends both sent and received FIN
 * is released without the v3 close exchange when both peers offer the bit, and keeps the close
 * when either does not.
 */

const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
});

function pair(
  aOptions: NodeOptions = {},
  bOptions: NodeOptions = {},
): { a: Node; b: Node; ta: Tap; tb: Tap } {
  const [x, y] = memoryPair();
  const ta = new Tap(x);
  const tb = new Tap(y);
  const a = new Node(ta, { domain: 'alice', ip: 1, ...aOptions });
  const b = new Node(tb, { domain: 'bob', ip: 2, ...bOptions });
  nodes.push(a, b);
  return { a, b, ta, tb };
}

/** Dials bob:9, where bob answers `got <request>` and ends; returns the reply and both streams. */
async function exchange(a: Node, b: Node): Promise<{ reply: string; s: FlexStream; peer: FlexStream }> {
  const accepted = b.listen(9).accept();
  const s = await a.dial('bob:9');
  const peer = await accepted;
  peer.on('data', (d: Buffer) => peer.end(Buffer.concat([Buffer.from('got '), d])));
  const closed = Promise.all([once(s, 'close'), once(peer, 'close')]);
  s.end('question');
  const reply = (await readAll(s)).toString();
  await closed;
  return { reply, s, peer };
}

describe('release on FIN', () => {
  it('is negotiated by default: open, data and FIN each way, and no close exchange', async () => {
    const { a, b, ta, tb } = pair();
    const { reply, s } = await exchange(a, b);
    expect(reply).toBe('got question');
    expect(s.core.caps).toBe(0x0f);
    expect(ta.sent).toEqual(['open', 'data', 'fin']);
    expect(tb.sent).toEqual(['open.ack', 'data', 'fin']);
    expect([a.streamCount, b.streamCount]).toEqual([0, 0]);
  });

  it('keeps the v3 close after the FINs with a peer that does not offer the bit', async () => {
    const { a, b, ta, tb } = pair({}, { caps: 3 });
    const { reply, s } = await exchange(a, b);
    expect(reply).toBe('got question');
    expect(s.core.caps).toBe(3);
    const closing = (sent: string[]) => sent.filter((c) => c === 'close' || c === 'close.ack');
    await expect.poll(() => closing(ta.sent).length + closing(tb.sent).length).toBeGreaterThanOrEqual(2);
    expect(closing(ta.sent)).toContain('close');
    expect([a.streamCount, b.streamCount]).toEqual([0, 0]);
  });

  it('also releases dials to the node itself (loopback), leaving no stream behind', async () => {
    const { a } = pair();
    a.listen(9).on('stream', (peer: FlexStream) => {
      const parts: Buffer[] = [];
      peer.on('data', (d: Buffer) => parts.push(d));
      peer.on('end', () => peer.end(Buffer.concat([Buffer.from('got '), ...parts])));
    });
    for (let i = 0; i < 50; i++) {
      const s = await a.dial('alice:9');
      expect(s.core.caps).toBe(0x0f);
      s.end(`q${i}`);
      expect((await readAll(s)).toString()).toBe(`got q${i}`);
    }
    await expect.poll(() => a.streamCount).toBe(0);
  });

  it('releases only once its own FIN has been written, not while it waits in a full socket', async () => {
    const { a, b, ta } = pair();
    const accepted = b.listen(9).accept();
    const s = await a.dial('bob:9');
    const peer = await accepted;
    peer.resume();
    peer.end(); // bob's FIN reaches alice first
    s.resume();
    await once(s, 'end');
    // A full socket: the first write is taken and then the scheduler waits for 'drain', so what
    // follows (data, then the FIN) stays in the stream's queue.
    ta.hold();
    s.write(Buffer.alloc(10, 1));
    await new Promise((r) => setImmediate(r));
    s.end(Buffer.alloc(100_000, 2));
    // Give every queued callback a chance: the stream must still be waiting for its FIN to go out.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(ta.sent).not.toContain('fin');
    expect(s.core.state).toBe('open');
    expect(a.streamCount).toBe(1);
    ta.release();
    await expect.poll(() => a.streamCount).toBe(0);
    expect(ta.sent.at(-1)).toBe('fin');
    await expect.poll(() => b.streamCount).toBe(0);
  });
});
