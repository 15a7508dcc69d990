// Short writes waiting for credit (docs/manual.md 3): the copies the stream makes of them
// (COPY_WRITES_BELOW) share buffers while they pile up, so the memory they hold follows the bytes
// that streamHighWaterMark counts. One buffer per write held ~200 bytes of objects per byte of
// one-byte writes: 60 MB for the 256 KiB a stream takes before write() says wait.
import { afterEach, describe, expect, it } from 'vitest';
import type { FlexStream } from '../../src/index.js';
import { heapUsed, MiB } from '../helpers/faulty-memory.js';
import { streamPair } from '../helpers/links.js';
import { once } from '../helpers/streams.js';

const KiB = 1024;
const pairs: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const p of pairs.splice(0)) await p.close();
});

const byte = (i: number): number => (i * 7 + (i >>> 8)) & 0xff;

/** Writes pattern bytes from `from` in pieces of `size` until write() says wait; the count written. */
function writeUntilFull(s: FlexStream, from: number, size: number): number {
  let at = from;
  for (;;) {
    const piece = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i++) piece[i] = byte(at + i);
    at += size;
    if (!s.write(piece)) return at - from;
  }
}

describe('short writes to a peer that does not read', () => {
  it('one-byte writes up to the high-water marks hold memory near their bytes, and all arrive', async () => {
    const { s, peer, close } = await streamPair({ window: 16 * KiB }, { window: 16 * KiB });
    pairs.push({ close });
    peer.pause();
    // The window is used up by the first writes; the rest waits in the stream (256 KiB) and then
    // in the Duplex's own buffer (64 KiB of entries, Node's part, as on any Writable).
    const before = await heapUsed();
    const written = writeUntilFull(s, 0, 1);
    const held = (await heapUsed()) - before;
    expect(written).toBeGreaterThan(300 * KiB);
    expect(s.core.writeBuffered).toBeGreaterThanOrEqual(256 * KiB);
    expect(held).toBeLessThan(16 * MiB);
    // Every byte arrives once, in order, when the peer reads.
    const got: Buffer[] = [];
    peer.on('data', (c: Buffer) => got.push(c));
    const ended = once(peer, 'end');
    s.end();
    peer.resume();
    await ended;
    const all = Buffer.concat(got);
    expect(all.length).toBe(written);
    for (let i = 0; i < all.length; i++) {
      if (all[i] !== byte(i)) throw new Error(`byte ${i} is ${all[i]}, not ${byte(i)}`);
    }
  });

  it('short and long writes mixed while the window is full arrive in order', async () => {
    const { s, peer, close } = await streamPair({ window: 16 * KiB }, { window: 16 * KiB });
    pairs.push({ close });
    peer.pause();
    let at = 0;
    // Sizes on both sides of COPY_WRITES_BELOW, so copies and writers' own buffers interleave in
    // the queue, and the copies' buffer grows and fills between them.
    for (const size of [1, 3, 700, 20 * KiB, 5, 9000, 9000, 2, 40 * KiB, 16 * KiB - 1, 1, 64 * KiB]) {
      const piece = Buffer.allocUnsafe(size);
      for (let i = 0; i < size; i++) piece[i] = byte(at + i);
      s.write(piece);
      at += size;
    }
    at += writeUntilFull(s, at, 3);
    const got: Buffer[] = [];
    peer.on('data', (c: Buffer) => got.push(c));
    const ended = once(peer, 'end');
    s.end();
    peer.resume();
    await ended;
    const all = Buffer.concat(got);
    expect(all.length).toBe(at);
    for (let i = 0; i < all.length; i++) {
      if (all[i] !== byte(i)) throw new Error(`byte ${i} is ${all[i]}, not ${byte(i)}`);
    }
  });
});
