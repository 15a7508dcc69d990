import { once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { validateNodeOptions } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { type FlexStream, Node, type NodeOptions } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { Caps, Cmd } from '../../src/wire/constants.js';
import { makeFrame } from '../../src/wire/frame.js';
import { encodeOpen } from '../../src/wire/open.js';
import { links } from '../helpers/links.js';
import { inflight, onTheWay, roundTrip, transferBesidePings } from '../helpers/pings.js';
import { RawPeer, rawLink, rawStream } from '../helpers/raw.js';
import { pattern } from '../helpers/streams.js';

/**
 * Prompt credit (caps bit 08, docs/protocol.md 8) and the sharedInflight limit it makes safe
 * (docs/manual.md 4): a bulk stream keeps at most sharedInflight bytes unacknowledged while another
 * stream of the connection sends short messages, and a receiver that has caught up returns credit
 * once 64 KiB is owed.
 */

const KiB = 1024;
const nodes: Node[] = [];
const disposals: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const n of nodes.splice(0)) n.destroy();
  for (const d of disposals.splice(0)) await d();
});

interface Setup {
  a: Node;
  b: Node;
  /** alice's end of a stream to bob:8, which echoes. */
  ping: FlexStream;
  /** alice's end of a stream to bob:7, whose reader takes nothing until told. */
  bulk: FlexStream;
  /** bob's end of `bulk`. */
  sink: FlexStream;
}

async function setup(aOptions: NodeOptions = {}, bOptions: NodeOptions = {}): Promise<Setup> {
  const [x, y] = memoryPair();
  const a = new Node(x, { domain: 'alice', ip: 1, ...aOptions });
  const b = new Node(y, { domain: 'bob', ip: 2, ...bOptions });
  nodes.push(a, b);
  b.listen(8).on('stream', (s: FlexStream) => s.on('data', (d: Buffer) => s.write(d)));
  const sinkAccepted = b.listen(7).accept();
  const ping = await a.dial('bob:8');
  const bulk = await a.dial('bob:7');
  const sink = await sinkAccepted;
  return { a, b, ping, bulk, sink };
}

describe('sharedInflight', () => {
  it('lets a paused reader take a whole window beside short messages, 256 KiB on the way at most', async () => {
    const { ping, bulk, sink } = await setup();
    expect(bulk.core.caps & Caps.PROMPT_CREDIT).toBe(Caps.PROMPT_CREDIT);
    // Short writes from idle, more than once: the link now carries latency-sensitive traffic.
    await roundTrip(ping);
    await roundTrip(ping);
    sink.pause(); // takes nothing, so it returns no credit
    const data = pattern(1024 * KiB, 3);
    bulk.end(data);
    let finished = false;
    bulk.on('finish', () => {
      finished = true;
    });
    // The reader's buffer is not a socket buffer ahead of the pings: the bytes that have arrived
    // there stop counting against the limit, and the writer finishes while the reader pauses.
    let most = 0;
    for (let i = 0; i < 500 && !finished; i++) {
      await roundTrip(ping, `p${i}`);
      most = Math.max(most, onTheWay(bulk));
      await new Promise((r) => setImmediate(r));
    }
    expect(finished, `${sink.core.bytesRead} bytes arrived`).toBe(true);
    expect(sink.core.bytesRead).toBe(1024 * KiB);
    expect(inflight(bulk)).toBe(1024 * KiB); // none of it acknowledged yet
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(256 * KiB);
    const chunks: Buffer[] = [];
    sink.on('data', (d: Buffer) => chunks.push(d));
    sink.resume();
    await once(sink, 'end');
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it('leaves a bulk stream its whole window when no other stream writes', async () => {
    const { ping, bulk, sink } = await setup();
    bulk.write(Buffer.alloc(1024 * KiB, 1));
    await expect.poll(() => sink.core.bytesRead).toBe(1024 * KiB);
    await roundTrip(ping);
    expect(bulk.core.bytesWritten).toBe(1024 * KiB);
  });

  it('ignores one short write: many bulk streams begin with a short header', async () => {
    const { ping, bulk, sink } = await setup();
    await roundTrip(ping);
    bulk.write(Buffer.alloc(1024 * KiB, 1));
    await expect.poll(() => sink.core.bytesRead).toBe(1024 * KiB);
  });

  it('does not limit itself: a stream alternating short writes and bulk keeps its window', async () => {
    const { bulk, sink } = await setup();
    sink.on('data', () => {});
    for (const x of ['x', 'y']) {
      bulk.write(x); // short, from idle
      await expect.poll(() => bulk.core.writeBuffered).toBe(0);
    }
    bulk.write(Buffer.alloc(1024 * KiB, 1));
    // Framed at once, all but the short tail (checked before any credit can come back).
    expect(inflight(bulk)).toBeGreaterThan(256 * KiB);
    await expect.poll(() => sink.core.bytesRead).toBe(1024 * KiB + 2);
  });

  it('applies only where the peer offers prompt credit (a Go or older flexmux peer keeps the window)', async () => {
    const { ping, bulk, sink } = await setup({}, { caps: Caps.HALF_CLOSE | Caps.RESET | Caps.FIN_RELEASE });
    expect(bulk.core.caps & Caps.PROMPT_CREDIT).toBe(0);
    await roundTrip(ping);
    await roundTrip(ping);
    bulk.write(Buffer.alloc(1024 * KiB, 1));
    await expect.poll(() => sink.core.bytesRead).toBe(1024 * KiB);
  });

  it('is 0 (off) or at least 64 KiB, what a prompt-credit receiver may owe', () => {
    expect(validateNodeOptions({}).sharedInflight).toBe(256 * KiB);
    expect(validateNodeOptions({ sharedInflight: 0 }).sharedInflight).toBe(0);
    expect(validateNodeOptions({ sharedInflight: 64 * KiB }).sharedInflight).toBe(64 * KiB);
    expect(() => validateNodeOptions({ sharedInflight: 64 * KiB - 1 })).toThrow(ConfigError);
    expect(() => validateNodeOptions({ sharedInflight: -1 })).toThrow(/sharedInflight/);
  });

  it('is off with sharedInflight 0', async () => {
    const { ping, bulk, sink } = await setup({ sharedInflight: 0 });
    await roundTrip(ping);
    await roundTrip(ping);
    bulk.write(Buffer.alloc(1024 * KiB, 1));
    await expect.poll(() => sink.core.bytesRead).toBe(1024 * KiB);
  });

  it('never stalls: 8 MiB arrive intact beside pings, at the smallest limit and the default', async () => {
    for (const sharedInflight of [64 * KiB, 256 * KiB]) {
      const { ping, bulk, sink } = await setup({ sharedInflight });
      await roundTrip(ping, 'first'); // a first short write does not count
      const maxOnTheWay = await transferBesidePings(
        { ping, bulk, sink },
        pattern(8 * 1024 * KiB, sharedInflight),
      );
      expect(maxOnTheWay).toBeGreaterThan(0);
      expect(maxOnTheWay).toBeLessThanOrEqual(sharedInflight);
    }
  });
});

describe('sharedInflight on dials to the node itself (loopback)', () => {
  it('holds and releases a self-dialled bulk stream beside self-dialled pings', async () => {
    const [x] = memoryPair();
    const a = new Node(x, { domain: 'alice', ip: 1 });
    nodes.push(a);
    a.listen(8).on('stream', (s: FlexStream) => s.on('data', (d: Buffer) => s.write(d)));
    const sinkAccepted = a.listen(7).accept();
    const ping = await a.dial('alice:8');
    const bulk = await a.dial('alice:7');
    const sink = await sinkAccepted;
    expect(bulk.core.caps & Caps.PROMPT_CREDIT).toBe(Caps.PROMPT_CREDIT);
    await roundTrip(ping);
    await roundTrip(ping);
    const maxOnTheWay = await transferBesidePings({ ping, bulk, sink }, pattern(4 * 1024 * KiB, 7));
    expect(maxOnTheWay).toBeGreaterThan(0);
    expect(maxOnTheWay).toBeLessThanOrEqual(256 * KiB);
  });
});

/** A node (alice, IP 1) and a raw peer (IP 2) that has opened a stream to it with these caps. */
async function rawStreamWith(caps: number): Promise<{ raw: RawPeer; accepted: FlexStream }> {
  const { node, raw } = rawLink();
  nodes.push(node);
  const { ack, accepted } = await rawStream(node, raw, 1024 * KiB, caps);
  expect(ack).toEqual({ ok: true, window: 1024 * KiB, caps });
  return { raw, accepted };
}

describe('prompt credit (receiver side)', () => {
  it('answers an empty data frame with all owed credit once the reader has caught up', async () => {
    const { raw, accepted } = await rawStreamWith(Caps.PROMPT_CREDIT);
    const chunks: Buffer[] = [];
    accepted.pause();
    for (let i = 0; i < 3; i++) raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(40 * KiB));
    raw.send(Cmd.DATA, 1, 80, 2, 5000); // the request, behind 120 KiB the reader has not taken
    // At once: a data-ACK of 0, "your request and all before it have arrived", and no credit.
    const arrived = await raw.next((f) => f.cmd === Cmd.DATA_ACK);
    expect([arrived.size, arrived.srcIP, arrived.srcPort, arrived.dstIP, arrived.dstPort]).toEqual([
      0, 1, 80, 2, 5000,
    ]);
    expect(accepted.core.bytesRead).toBe(120 * KiB);
    expect(raw.creditReturned).toBe(0);
    accepted.on('data', (d: Buffer) => chunks.push(d));
    accepted.resume();
    const first = await raw.next((f) => f.cmd === Cmd.DATA_ACK);
    const rest = raw.creditReturned;
    expect(first.size).toBeGreaterThan(0);
    expect(first.size + rest).toBe(120 * KiB);
    expect(Buffer.concat(chunks).length).toBe(120 * KiB);
    raw.frames.length = 0;
    // Nothing owed: a second request gets no ACK, and data after it is batched as usual.
    raw.send(Cmd.DATA, 1, 80, 2, 5000);
    raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(10 * KiB));
    await expect.poll(() => accepted.core.bytesRead).toBe(130 * KiB);
    raw.send(Cmd.PING, 1, 0, 2, 77, new TextEncoder().encode('alice'));
    await raw.next((f) => f.cmd === Cmd.PING_ACK);
    expect(raw.creditReturned).toBe(0);
  });

  it('answers with credit, not a notice, a reader that takes what it is handed on its next turn', async () => {
    // Over TCP: frames are taken from a socket read, and the reader's turn (a tick) comes before
    // any microtask queued meanwhile, as for every socket.
    const link = await links.tcp!();
    disposals.push(() => link.dispose());
    const node = new Node(link.a, { domain: 'alice', ip: 1, heartbeatInterval: 0 });
    nodes.push(node);
    const raw = new RawPeer(link.b);
    const caps = Caps.HALF_CLOSE | Caps.RESET | Caps.PROMPT_CREDIT;
    const { accepted } = await rawStream(node, raw, 1024 * KiB, caps);
    let got = 0;
    accepted.on('readable', () => {
      for (let c = accepted.read() as Buffer | null; c !== null; c = accepted.read() as Buffer | null)
        got += c.length;
    });
    // Two payloads and the request in one write: the request is read before the reader's turn.
    const data = (n: number) => makeFrame(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(n));
    raw.sendAll([data(20 * KiB), data(20 * KiB), makeFrame(Cmd.DATA, 1, 80, 2, 5000)]);
    const ack = await raw.next((f) => f.cmd === Cmd.DATA_ACK);
    expect(ack.size).toBe(40 * KiB);
    expect(got).toBe(40 * KiB);
    await settle(raw);
    expect(raw.frames.filter((f) => f.cmd === Cmd.DATA_ACK)).toEqual([]);
  });

  it('ignores an empty data frame without the bit, as Go does', async () => {
    const { raw, accepted } = await rawStreamWith(Caps.HALF_CLOSE | Caps.RESET);
    accepted.on('data', () => {});
    raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(60 * KiB));
    raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(40 * KiB));
    raw.send(Cmd.DATA, 1, 80, 2, 5000);
    raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(1));
    await expect.poll(() => accepted.core.bytesRead).toBe(100 * KiB + 1);
    // A ping round trip: anything the node would send for these frames is on the wire by now.
    raw.send(Cmd.PING, 1, 0, 2, 77, new TextEncoder().encode('alice'));
    await raw.next((f) => f.cmd === Cmd.PING_ACK);
    expect(raw.creditReturned).toBe(0);
  });
});

/**
 * A raw peer (IP 2) that opened two prompt-credit streams to the node (alice, IP 1, port 80): `bulk`
 * from its port 5000 and `chat` from 5001. The node writes; the raw peer answers what the test says.
 */
async function rawSender(): Promise<{ raw: RawPeer; bulk: FlexStream; chat: FlexStream }> {
  const { node, raw } = rawLink({ heartbeatInterval: 0 });
  nodes.push(node);
  const listener = node.listen(80);
  const caps = Caps.HALF_CLOSE | Caps.RESET | Caps.PROMPT_CREDIT;
  const streams: FlexStream[] = [];
  for (const port of [5000, 5001]) {
    const accepting = listener.accept();
    raw.send(Cmd.OPEN, 1, 80, 2, port, encodeOpen({ domain: 'raw', window: 2048 * KiB, caps }));
    await raw.next((f) => f.cmd === Cmd.OPEN_ACK && f.dstPort === port);
    streams.push(await accepting);
  }
  const [bulk, chat] = streams as [FlexStream, FlexStream];
  // Short writes from idle, twice (the first does not count): the link carries short messages.
  for (const text of ['a', 'b']) {
    chat.write(text);
    await raw.next((f) => f.cmd === Cmd.DATA && f.dstPort === 5001);
  }
  return { raw, bulk, chat };
}

/** The bulk stream's frames the raw peer holds, in order: data bytes, and where the requests were. */
function bulkFrames(raw: RawPeer): { bytes: number; requestsAt: number[] } {
  let bytes = 0;
  const requestsAt: number[] = [];
  for (const f of raw.frames) {
    if (f.cmd !== Cmd.DATA || f.dstPort !== 5000) continue;
    if (f.size === 0) requestsAt.push(bytes);
    bytes += f.size;
  }
  return { bytes, requestsAt };
}

/** A ping round trip through the node: whatever it was going to send by now has been sent. */
async function settle(raw: RawPeer): Promise<void> {
  raw.send(Cmd.PING, 1, 0, 2, 77, new TextEncoder().encode('alice'));
  await raw.next((f) => f.cmd === Cmd.PING_ACK);
}

describe('prompt credit (sender side)', () => {
  it('keeps 256 KiB on the way beside short messages; a data-ACK of 0 says what has arrived', async () => {
    const { raw, bulk } = await rawSender();
    bulk.end(Buffer.alloc(1024 * KiB, 1));
    await expect.poll(() => bulkFrames(raw).bytes).toBe(256 * KiB);
    await settle(raw);
    // An unanswered request (an older receiver whose reader pauses) holds the stream there.
    const first = bulkFrames(raw);
    expect(first.bytes).toBe(256 * KiB);
    expect(first.requestsAt).toHaveLength(1);
    const askedAt = first.requestsAt[0]!;
    expect(askedAt).toBeGreaterThanOrEqual(128 * KiB);
    expect(onTheWay(bulk)).toBe(256 * KiB);
    // "Everything before your request has arrived": 256 KiB more on the way from there, no credit.
    raw.send(Cmd.DATA_ACK, 1, 80, 2, 5000, undefined, 0);
    await expect.poll(() => bulkFrames(raw).bytes).toBe(askedAt + 256 * KiB);
    await settle(raw);
    const second = bulkFrames(raw);
    expect(second.bytes).toBe(askedAt + 256 * KiB);
    expect(second.requestsAt).toHaveLength(2);
    expect(inflight(bulk)).toBe(second.bytes);
    expect(onTheWay(bulk)).toBe(256 * KiB);
    // Each answer lets 256 KiB more go (all within the 2 MiB window), up to the end.
    for (let i = 0; i < 8 && bulkFrames(raw).bytes < 1024 * KiB; i++) {
      raw.send(Cmd.DATA_ACK, 1, 80, 2, 5000, undefined, 0);
      await settle(raw);
    }
    expect(bulkFrames(raw).bytes).toBe(1024 * KiB);
    expect(raw.frames.some((f) => f.cmd === Cmd.FIN && f.dstPort === 5000)).toBe(true);
  });

  it('ignores a data-ACK of 0 it did not ask for', async () => {
    const { raw, bulk } = await rawSender();
    bulk.write(Buffer.alloc(1024 * KiB, 1));
    await expect.poll(() => bulkFrames(raw).bytes).toBe(256 * KiB);
    const askedAt = bulkFrames(raw).requestsAt[0]!;
    raw.send(Cmd.DATA_ACK, 1, 80, 2, 5000, undefined, 0);
    await expect.poll(() => bulkFrames(raw).bytes).toBe(askedAt + 256 * KiB);
    // The next request is out; answer it, then send a stray 0 on the chat stream (no request).
    raw.send(Cmd.DATA_ACK, 1, 80, 2, 5001, undefined, 0);
    await settle(raw);
    expect(bulkFrames(raw).bytes).toBe(askedAt + 256 * KiB);
  });

  it('uses the whole window once the short messages stop, answered or not', async () => {
    // performance: the scheduler times the hold with the monotonic clock (util/timers now()).
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    const { raw, bulk } = await rawSender();
    bulk.write(Buffer.alloc(1024 * KiB, 1));
    await expect.poll(() => bulkFrames(raw).bytes, { interval: 0 }).toBe(256 * KiB);
    // No more short messages and no answer: once the 200 ms for which they hold others back run
    // out, the stream has its 2 MiB window again (docs/manual.md 4), though nothing pumps it.
    for (let ms = 0; ms < 1_000; ms += 50) {
      vi.advanceTimersByTime(50);
      await new Promise((res) => setImmediate(res));
    }
    vi.useRealTimers();
    await settle(raw);
    expect(bulkFrames(raw).bytes).toBe(1024 * KiB);
  });
});
