// How a receiving node batches credit (docs/manual.md 3): per half window (1 MiB at most) to
// flexmux peers, and at least every 100 ms once 64 KiB is owed; per quarter window (256 KiB at
// most) or every 8 frames to Go peers, which send no caps byte.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type FlexStream, Node } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { Caps, Cmd } from '../../src/wire/constants.js';
import { type RawPeer, rawLink, rawStream } from '../helpers/raw.js';

const KiB = 1024;
const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
  vi.useRealTimers();
});

/** A raw peer (IP 2) opens a stream to a node (IP 1) with this window and caps byte, or none. */
async function opened(window: number, caps?: number): Promise<{ raw: RawPeer; accepted: FlexStream }> {
  const { node, raw } = rawLink();
  nodes.push(node);
  const { ack, accepted } = await rawStream(node, raw, window, caps);
  expect(ack).toMatchObject({ ok: true, window });
  accepted.on('data', () => {}); // a reader that keeps up
  return { raw, accepted };
}

/** Sends `bytes` in data frames of `frame` bytes and waits until the node's reader consumed them. */
async function feed(raw: RawPeer, accepted: FlexStream, bytes: number, frame = 60 * KiB): Promise<void> {
  const target = accepted.core.bytesRead + bytes;
  for (let left = bytes; left > 0; left -= frame) {
    raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(Math.min(left, frame)));
  }
  await expect.poll(() => accepted.core.bytesRead).toBe(target);
  await expect.poll(() => accepted.core.receiveBuffered).toBe(0); // and the reader consumed it
  // A ping round trip: any ACK the node would send for that data is on the wire by now.
  raw.send(Cmd.PING, 1, 0, 2, 77, new TextEncoder().encode('alice'));
  await raw.next((f) => f.cmd === Cmd.PING_ACK);
}

/** Fakes the wall clock and the monotonic one (util/timers now(), which the ACK timing reads). */
function fakeClocks(): void {
  vi.useFakeTimers({ toFake: ['Date', 'performance'] });
}

describe('credit batching', () => {
  it('returns credit to a flexmux peer per half window, at most 1 MiB at a time', async () => {
    const { raw, accepted } = await opened(2048 * KiB, Caps.HALF_CLOSE | Caps.RESET);
    await feed(raw, accepted, 1024 * KiB - 1);
    expect(raw.creditReturned).toBe(0);
    await feed(raw, accepted, 1);
    expect(raw.creditReturned).toBe(1024 * KiB);
    await feed(raw, accepted, 1024 * KiB);
    expect(raw.creditReturned).toBe(2048 * KiB);
  });

  it('uses half of a smaller window', async () => {
    const { raw, accepted } = await opened(256 * KiB, Caps.HALF_CLOSE);
    await feed(raw, accepted, 128 * KiB - 1);
    expect(raw.creditReturned).toBe(0);
    await feed(raw, accepted, 1);
    expect(raw.creditReturned).toBe(128 * KiB);
  });

  it('returns credit to a Go peer per quarter window (256 KiB at most) or every 8 frames', async () => {
    // No caps byte: a plain v3 stream.
    const { raw, accepted } = await opened(2048 * KiB);
    await feed(raw, accepted, 7 * 16 * KiB, 16 * KiB); // seven 16 KiB frames, as Go sends them
    expect(raw.creditReturned).toBe(0);
    await feed(raw, accepted, 16 * KiB, 16 * KiB); // the eighth, with the reader caught up
    expect(raw.creditReturned).toBe(128 * KiB);
    await feed(raw, accepted, 4 * 65_535, 65_535); // 4 bytes short of 256 KiB in four frames
    expect(raw.creditReturned).toBe(128 * KiB);
    await feed(raw, accepted, 4, 4);
    expect(raw.creditReturned).toBe(128 * KiB + 256 * KiB);
  });

  it("answers a v3 sender's frames that came while a read(n) had claimed only part of them", async () => {
    // A v3 sender keeps at most so many frames unanswered (Go's receive queue; a flexmux node
    // towards a v3 stream, maxInflight: 512 with a 2 MiB window). The credit sent for the byte the
    // waiting read(1) claimed counted the burst that had come meanwhile as answered: once the
    // reader took it, no frame was left to count towards the 8 of the frame rule, its 51 KB were
    // under the byte rule, no ACK came, and the sender, at its limit, stopped for good.
    const [x, y] = memoryPair();
    const a = new Node(x, { domain: 'alice', ip: 1, heartbeatInterval: 0, caps: 0 });
    const b = new Node(y, { domain: 'bob', ip: 2, heartbeatInterval: 0 });
    nodes.push(a, b);
    const accepted = b.listen(9).accept();
    const s = await a.dial('bob:9');
    const peer = await accepted;
    peer.pause();
    expect(peer.read(1)).toBe(null); // a one-byte tag, asked for before anything came
    // Short messages, a frame each, held on the way (a slow link) and then arriving in a burst.
    y.pauseReading();
    const messages = 700;
    for (let i = 0; i < messages; i++) {
      s.write(Buffer.alloc(100, i));
      await new Promise((r) => setImmediate(r));
    }
    expect(s.core.bytesWritten).toBe(512 * 100); // the sender's frame limit
    y.resumeReading();
    // (Turns, not a poll's timer: the reader acts on its next turns, as a program's would.)
    for (let i = 0; i < 100 && peer.core.bytesRead < 512 * 100; i++) {
      await new Promise((r) => setImmediate(r));
    }
    expect(peer.core.bytesRead).toBe(512 * 100);
    expect((peer.read(1) as Buffer).length).toBe(1);
    let got = 1;
    peer.on('data', (c: Buffer) => {
      got += c.length;
    });
    peer.resume();
    await expect.poll(() => got).toBe(messages * 100);
  });

  it('returns what a flexmux peer is owed at least every 100 ms once it is worth a frame', async () => {
    // Only the clocks are faked: the rule's (monotonic) clock stands still unless moved, timers
    // run as usual. With no fake timers pending, advancing only moves the clocks.
    fakeClocks();
    const { raw, accepted } = await opened(2048 * KiB, Caps.HALF_CLOSE);
    await feed(raw, accepted, 60 * KiB);
    vi.advanceTimersByTime(99);
    await feed(raw, accepted, 4 * KiB); // 64 KiB owed, but not yet 100 ms
    expect(raw.creditReturned).toBe(0);
    vi.advanceTimersByTime(1);
    await feed(raw, accepted, 1);
    expect(raw.creditReturned).toBe(64 * KiB + 1);
    await feed(raw, accepted, 64 * KiB); // the clock starts again from that ACK
    expect(raw.creditReturned).toBe(64 * KiB + 1);
  });

  it('keeps returning credit every 100 ms after the wall clock steps back', async () => {
    // An NTP step or a resumed VM sets Date.now() back: timed by the wall clock, the rule saw
    // "now - last ACK" negative and sent no credit until the clock caught up, while a sender
    // behind a deep buffer counts those ACKs as the sign that this end is alive (heartbeat.ts).
    fakeClocks();
    const { raw, accepted } = await opened(2048 * KiB, Caps.HALF_CLOSE);
    vi.setSystemTime(Date.now() - 3_600_000); // the monotonic clock runs on
    vi.advanceTimersByTime(100);
    await feed(raw, accepted, 64 * KiB);
    expect(raw.creditReturned).toBe(64 * KiB);
  });

  it('lets a stream of small, sparse messages wait for the byte rule: no ACK per message', async () => {
    fakeClocks();
    const { raw, accepted } = await opened(2048 * KiB, Caps.HALF_CLOSE);
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(1_000);
      await feed(raw, accepted, 100);
    }
    expect(raw.creditReturned).toBe(0);
  });

  it('returns whatever is owed every 100 ms while the peer has used over half its window', async () => {
    // A reader slower than the batches (here 1 KiB at a time) still returns credit as it reads, so
    // that a peer blocked on it does not take it for dead (its end() times out after endTimeout
    // without credit). For Go peers too: they acknowledge every Read.
    for (const caps of [Caps.HALF_CLOSE, undefined]) {
      fakeClocks();
      const { node, raw } = rawLink();
      nodes.push(node);
      const { accepted } = await rawStream(node, raw, 256 * KiB, caps);
      for (let i = 0; i < 10; i++) raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(16 * KiB)); // 160 KiB
      await expect.poll(() => accepted.core.bytesRead).toBe(160 * KiB);
      vi.advanceTimersByTime(100);
      expect(accepted.read(KiB)).not.toBe(null);
      raw.send(Cmd.PING, 1, 0, 2, 77, new TextEncoder().encode('alice'));
      await raw.next((f) => f.cmd === Cmd.PING_ACK);
      expect(raw.creditReturned).toBe(KiB);
      // Not again within 100 ms; then whatever was read meanwhile.
      vi.advanceTimersByTime(99);
      expect(accepted.read(KiB)).not.toBe(null);
      vi.advanceTimersByTime(1);
      expect(accepted.read(KiB)).not.toBe(null);
      raw.send(Cmd.PING, 1, 0, 2, 77, new TextEncoder().encode('alice'));
      await raw.next((f) => f.cmd === Cmd.PING_ACK);
      expect(raw.creditReturned).toBe(3 * KiB);
      vi.useRealTimers();
    }
  });

  it('keeps Go peers on their byte and frame counts, whatever the time', async () => {
    fakeClocks();
    const { raw, accepted } = await opened(2048 * KiB);
    await feed(raw, accepted, 10 * KiB);
    vi.advanceTimersByTime(10_000);
    await feed(raw, accepted, 1);
    expect(raw.creditReturned).toBe(0);
  });
});
