import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionClosedError, type FlexStream, Node, type NodeOptions } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { Cmd } from '../../src/wire/constants.js';
import { decodeOpenAck, encodeOpen } from '../../src/wire/open.js';
import { RawPeer } from '../helpers/raw.js';
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

// Regression (fixed: src/scheduler.ts hands nothing to a sink that reports itself closed). A
// transport whose peer half-closed the connection (a TCP FIN: TcpTransport ends its side and
// drops every later send) still delivers its close only once its own end has gone out, which a
// peer that does not read can hold up to closeTimeout. Before, the scheduler handed a release on
// FIN stream's answer and FIN to that transport, which dropped them, and the stream, seeing its
// queue empty, was released as cleanly ended: 'finish' and a clean 'close' for a reply that never
// left. Now those frames stay queued and the stream fails with ConnectionClosedError when the
// close comes.
describe('release on FIN over a connection the peer half-closed', () => {
  it('fails the stream, not ends it cleanly, when its reply and FIN could not be sent', async () => {
    const [x, y] = memoryPair();
    const node = new Node(x, { domain: 'alice', ip: 1, heartbeatInterval: 0 });
    node.on('error', () => {});
    nodes.push(node);
    const raw = new RawPeer(y);
    const events: string[] = [];
    let failure: Error | undefined;
    let answered = false;
    node.listen(80).on('stream', (s: FlexStream) => {
      s.on('finish', () => events.push('finish'));
      s.on('error', (e) => {
        failure = e;
        events.push('error');
      });
      s.on('close', () => events.push('close'));
      s.on('end', () => {
        s.end('reply');
        answered = true;
      });
      s.resume();
    });
    raw.send(Cmd.OPEN, 1, 80, 2, 5000, encodeOpen({ domain: 'raw', window: 0, caps: 0x07 }));
    const ack = decodeOpenAck((await raw.next((f) => f.cmd === Cmd.OPEN_ACK)).payload);
    expect(ack.ok && ack.caps).toBe(0x07); // HALF_CLOSE, RESET, FIN_RELEASE
    // The peer stops reading with something of ours still unread (a ping's answer), so our end of
    // the connection cannot finish closing; then it sends its request and FIN, and half-closes.
    y.pauseReading();
    raw.send(Cmd.PING, 1, 0, 2, 7);
    await expect.poll(() => x.bufferedAmount).toBeGreaterThan(0);
    raw.send(Cmd.DATA, 1, 80, 2, 5000, new TextEncoder().encode('question'));
    raw.send(Cmd.FIN, 1, 80, 2, 5000);
    y.close();
    // The application answered, and the node has tried to write the answer: the link takes nothing.
    await expect.poll(() => answered && node.scheduler.isBlocked).toBe(true);
    expect(x.closed).toBe(true);
    y.resumeReading(); // the close can finish now
    await expect.poll(() => events.includes('close')).toBe(true);
    expect(events).toEqual(['error', 'close']);
    expect(failure).toBeInstanceOf(ConnectionClosedError);
    expect(raw.frames.some((f) => f.cmd === Cmd.FIN || f.cmd === Cmd.DATA)).toBe(false);
  });
});
