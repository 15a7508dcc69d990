// With reuseWrittenBuffers, large writes are copied into a few reusable buffers per connection
// (util/slabs.ts): a write's
// callback comes at once, a slab is reused only once the transport has let go of every byte in it,
// the slabs stay within writeBuffer, and a write that finds them full waits for its own release.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type FlexStream, Node } from '../../src/index.js';
import { memoryPair, seededRandom } from '../../src/transport/memory.js';
import { Holding } from '../helpers/holding.js';
import { links, nodePair } from '../helpers/links.js';

const KiB = 1024;
const SEGMENT = 16 * KiB;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Everything `s` yields, joined, once it ends. */
async function collect(s: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const c of s) {
    chunks.push(c);
    n += c.length;
  }
  const all = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return all;
}

/** `s.write(buf)`: a promise of its callback, and whether it has been called yet. */
function write(s: FlexStream, buf: Uint8Array): { done: Promise<void>; called: () => boolean } {
  let called = false;
  const done = new Promise<void>((resolve, reject) =>
    s.write(buf, (err) => {
      called = true;
      if (err) reject(err);
      else resolve();
    }),
  );
  return { done, called: () => called };
}

/** A few turns of the event loop: every flush, tick and microtask that was due has run. */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** `writeBuffer` undefined: the node's defaults (no reuseWrittenBuffers). */
async function heldPair(writeBuffer: number | undefined, high = 1_000, window = 4 * 1024 * KiB) {
  const [ta, tb] = memoryPair();
  const held = new Holding(ta, high);
  held.auto = true;
  const opts = { heartbeatInterval: 0, window };
  const reuse = writeBuffer === undefined ? {} : { reuseWrittenBuffers: true, writeBuffer };
  const a = new Node(held, { domain: 'alice', ip: 1, ...reuse, ...opts });
  const b = new Node(tb, { domain: 'bob', ip: 2, ...opts });
  cleanups.push(() => {
    a.destroy();
    b.destroy();
  });
  const accepted = b.listen(9).accept();
  const s = await a.dial('bob:9');
  const peer = await accepted;
  // From here on the transport holds what it is given, as a socket whose kernel buffer is full.
  held.auto = false;
  return { a, b, held, s, peer };
}

describe('large writes by default (no reuseWrittenBuffers)', () => {
  // The documented caveat (docs/manual.md, "Reusing a written buffer"): zero-copy, the callback
  // when the stream takes the write. Changing this default changes every writer's contract and
  // the one-stream throughput (docs/performance.md): it has to be deliberate.
  it('calls back before the transport has let go of the bytes, sent from the writer buffer itself', async () => {
    const { a, held, s, peer } = await heldPair(undefined);
    expect(a.scheduler.watchReleases).toBe(false);
    expect(a.scheduler.slabs).toBeNull();
    const got = collect(peer as AsyncIterable<Uint8Array> & FlexStream);
    const buf = new Uint8Array(64 * KiB).fill(1);
    await write(s, buf).done;
    await turns();
    // Called back while the transport still holds the send, and no release was asked for.
    expect(held.holding).toBeGreaterThan(0);
    expect(held.asked).toBe(0);
    // Not copied: what the writer puts in its buffer now is what leaves.
    buf.fill(2);
    held.auto = true;
    held.pass();
    s.end();
    const all = await got;
    expect(all.length).toBe(64 * KiB);
    expect(all.every((x) => x === 2)).toBe(true);
    expect(held.asked).toBe(0);
  });
});

describe('write slabs', () => {
  it('calls back at once for a copied write; when the slabs are full, a write waits for its release', async () => {
    const { a, held, s, peer } = await heldPair(2 * SEGMENT);
    const slabs = a.scheduler.slabs!;
    const got = collect(peer as AsyncIterable<Uint8Array> & FlexStream);
    const buf = new Uint8Array(SEGMENT);
    // Two writes fill the slabs: each calls back while the transport still holds its bytes.
    for (const v of [1, 2]) {
      buf.fill(v);
      await write(s, buf).done;
    }
    await turns();
    expect(held.holding).toBeGreaterThan(0);
    expect(slabs.held).toBe(2 * SEGMENT);
    // The third finds them full: sent from the writer's buffer, its callback waits for it.
    buf.fill(3);
    const third = write(s, buf);
    await turns();
    expect(third.called()).toBe(false);
    held.pass();
    await third.done;
    expect(slabs.held).toBe(0);
    // Released: the slabs are reused for the next write, nothing more is allocated.
    buf.fill(4);
    const fourth = write(s, buf);
    await fourth.done;
    await turns();
    expect(held.holding).toBeGreaterThan(0);
    expect(slabs.allocated).toBe(2 * SEGMENT);
    held.auto = true;
    held.pass();
    s.end();
    const all = await got;
    expect(all.length).toBe(4 * SEGMENT);
    for (let k = 0; k < 4; k++) {
      const seg = all.subarray(k * SEGMENT, (k + 1) * SEGMENT);
      expect(seg.every((x) => x === k + 1)).toBe(true);
    }
  });

  it('reuses a slab only once the transport has released it: a writer refilling one buffer sends what it wrote', async () => {
    const { a, held, s, peer } = await heldPair(4 * SEGMENT);
    const got = collect(peer as AsyncIterable<Uint8Array> & FlexStream);
    const buf = new Uint8Array(SEGMENT);
    const rounds = 64;
    for (let k = 0; k < rounds; k++) {
      buf.fill(k % 251);
      const w = write(s, buf);
      // Every few writes the transport lets go of what it holds, so slabs come free mid-stream.
      if (k % 3 === 2) held.pass();
      await turns(1);
      if (!w.called()) held.pass();
      await w.done;
    }
    held.auto = true;
    held.pass();
    s.end();
    const all = await got;
    expect(all.length).toBe(rounds * SEGMENT);
    for (let k = 0; k < rounds; k++) {
      const seg = all.subarray(k * SEGMENT, (k + 1) * SEGMENT);
      expect(seg.every((x) => x === k % 251)).toBe(true);
    }
    expect(a.scheduler.slabs!.allocated).toBeLessThanOrEqual(4 * SEGMENT);
  });

  it('sends a buffer transferred after its write called back: it was copied', async () => {
    const { held, s, peer } = await heldPair(256 * KiB);
    const got = collect(peer as AsyncIterable<Uint8Array> & FlexStream);
    const buf = new Uint8Array(64 * KiB).fill(9);
    await write(s, buf).done;
    structuredClone(buf.buffer, { transfer: [buf.buffer] });
    expect(buf.length).toBe(0);
    held.auto = true;
    held.pass();
    s.end();
    const all = await got;
    expect(all.length).toBe(64 * KiB);
    expect(all.every((x) => x === 9)).toBe(true);
  });

  it('sends the tail of a write that waits for its release at once, not after a timer', async () => {
    // Past the high-water mark a short tail waits for the writer's next write (write tails); a
    // writer whose callback waits for the tail to leave writes nothing more until it has, and a
    // tail held for it waited for releaseTail's timer every time (a process with no other handle
    // alive exited there: bench/jscost.mjs stopped with unsettled awaits).
    const nodes = await nodePair(
      links.memory!,
      { heartbeatInterval: 0, reuseWrittenBuffers: true, writeBuffer: 0, streamHighWaterMark: 64 * KiB },
      { heartbeatInterval: 0 },
    );
    cleanups.push(nodes.close);
    const accepted = nodes.b.listen(9).accept();
    const s = await nodes.a.dial('bob:9');
    const peer = await accepted;
    peer.resume();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    cleanups.push(() => {
      vi.useRealTimers();
    });
    // One full frame and a tail of 36,865 bytes; over the high-water mark.
    const w = write(s, new Uint8Array(100 * KiB).fill(5));
    await turns();
    expect(w.called()).toBe(true);
    await w.done;
  });

  it('frees the slab bytes a reset drops, queued or waiting for credit, and those sent on release', async () => {
    // The transport takes one send, then says wait: later frames stay in the scheduler's queue.
    const { a, held, s, peer } = await heldPair(1024 * KiB, 1, 128 * KiB);
    const slabs = a.scheduler.slabs!;
    s.on('error', () => {});
    peer.on('error', () => {});
    const chunk = new Uint8Array(64 * KiB).fill(1);
    await write(s, chunk).done; // sent: the transport holds it
    await turns();
    await write(s, chunk).done; // queued behind the full transport
    await write(s, chunk).done; // queued
    await write(s, chunk).done; // past the 128 KiB window: waits for credit, unframed
    await turns();
    expect(held.holding).toBe(1);
    expect(slabs.held).toBe(256 * KiB);
    s.destroy(new Error('gone'));
    // Dropped unsent: freed at once. The send the transport holds stays held until released: one
    // frame of 65,535 bytes (the largest payload; the write's last byte went with the next).
    expect(slabs.held).toBe(65_535);
    held.auto = true;
    held.pass();
    expect(slabs.held).toBe(0);
  });

  it.each([1, 2, 3])(
    'keeps streams intact and frees every slab byte under random writes, passes and a reset (seed %i)',
    async (seed) => {
      const rnd = seededRandom(seed);
      const { a, b, held, s: first, peer: firstPeer } = await heldPair(192 * KiB);
      const slabs = a.scheduler.slabs!;
      const streams = [first];
      const peers = [firstPeer];
      held.auto = true;
      const listener = b.listen(10);
      for (let i = 0; i < 2; i++) {
        const accepted = listener.accept();
        streams.push(await a.dial('bob:10'));
        peers.push(await accepted);
      }
      held.auto = false;
      // The third stream is reset halfway: its queued frames are dropped, the rest goes on.
      peers[2]!.on('error', () => {});
      streams[2]!.on('error', () => {});
      const got = peers.slice(0, 2).map((p) => collect(p as AsyncIterable<Uint8Array> & FlexStream));
      const want: number[][] = [[], []];
      const bufs = streams.map(() => new Uint8Array(200 * KiB));
      for (let round = 0; round < 60; round++) {
        const i = Math.floor(rnd() * streams.length);
        const s = streams[i]!;
        if (i === 2 && round >= 30) {
          if (!s.destroyed) s.destroy(new Error('halfway'));
          continue;
        }
        const n = 16 * KiB + Math.floor(rnd() * 150 * KiB);
        const v = (round * 7 + i) % 251;
        bufs[i]!.fill(v, 0, n);
        const w = write(s, bufs[i]!.subarray(0, n));
        if (i < 2) want[i]!.push(v, n);
        if (rnd() < 0.4) held.pass();
        await turns(1);
        if (!w.called()) held.pass();
        await w.done;
        // The writer fills its buffer again at once: what it wrote must not change.
        bufs[i]!.fill(255);
      }
      held.auto = true;
      held.pass();
      streams[0]!.end();
      streams[1]!.end();
      for (let i = 0; i < 2; i++) {
        const all = await got[i]!;
        let off = 0;
        for (let k = 0; k < want[i]!.length; k += 2) {
          const v = want[i]![k]!;
          const n = want[i]![k + 1]!;
          expect(all.subarray(off, off + n).every((x) => x === v)).toBe(true);
          off += n;
        }
        expect(all.length).toBe(off);
      }
      await vi.waitFor(() => expect(slabs.held).toBe(0), { timeout: 2000 });
      expect(slabs.allocated).toBeLessThanOrEqual(192 * KiB);
    },
  );

  it('keeps the slabs within writeBuffer over a long transfer, and releases them all', async () => {
    const budget = 512 * KiB;
    const nodes = await nodePair(
      links.tcp!,
      { heartbeatInterval: 0, reuseWrittenBuffers: true, writeBuffer: budget },
      { heartbeatInterval: 0 },
    );
    cleanups.push(nodes.close);
    const accepted = nodes.b.listen(9).accept();
    const s = await nodes.a.dial('bob:9');
    const peer = await accepted;
    const slabs = nodes.a.scheduler.slabs!;
    let most = 0;
    let sum = 0;
    peer.on('data', (c: Buffer) => {
      for (const x of c) sum += x;
    });
    const ended = new Promise((r) => peer.on('end', r));
    const buf = new Uint8Array(64 * KiB);
    let want = 0;
    for (let k = 0; k < 256; k++) {
      buf.fill(k % 253);
      want += (k % 253) * buf.length;
      await new Promise<void>((resolve, reject) => s.write(buf, (err) => (err ? reject(err) : resolve())));
      most = Math.max(most, slabs.allocated);
    }
    s.end();
    await ended;
    expect(sum).toBe(want);
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(budget);
    await vi.waitFor(() => expect(slabs.held).toBe(0), { timeout: 2000 });
  });
});
