// A writer that honours backpressure with 64 KiB writes (fs streams, pipe(), the benchmark
// harnesses) against 65,535-byte frames used to leave a frame of a few bytes every high-water
// mark: the tail of its last write before it waited for 'drain'. Held while the writer waits, the
// tail joins its next write; when no write follows it still leaves, on its own.
import { afterEach, describe, expect, it } from 'vitest';
import { type FlexStream, Node, type NodeOptions } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/types.js';
import { Cmd } from '../../src/wire/constants.js';
import { FrameDecoder } from '../../src/wire/decoder.js';

const KiB = 1024;

/** Records the payload size of every DATA frame sent through a transport. */
function recordData(t: Transport, sizes: number[]): Transport {
  const decoder = new FrameDecoder((f) => {
    if (f.cmd === Cmd.DATA && f.payload.length > 0) sizes.push(f.payload.length);
  });
  const send = t.send.bind(t);
  // onReleased passed on: a socket's sends release their slab bytes through it.
  t.send = (parts, onReleased) => {
    for (const p of parts) decoder.push(p);
    return send(parts, onReleased);
  };
  return t;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function pair(
  sizes: number[],
  options: NodeOptions = {},
): Promise<{ s: FlexStream; peer: FlexStream }> {
  const [a, b] = memoryPair();
  const alice = new Node(recordData(a, sizes), { domain: 'alice', ip: 1, heartbeatInterval: 0, ...options });
  const bob = new Node(b, { domain: 'bob', ip: 2, heartbeatInterval: 0 });
  cleanups.push(() => {
    alice.destroy();
    bob.destroy();
  });
  const accepted = bob.listen(80).accept();
  const s = await alice.dial('bob:80');
  return { s, peer: await accepted };
}

/** Resolves with the first `n` bytes the stream delivers, concatenated. */
function collect(peer: FlexStream, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  return new Promise((resolve, reject) => {
    peer.on('error', reject);
    peer.on('data', (c: Buffer) => {
      out.set(c.subarray(0, Math.min(c.length, n - got)), got);
      got += c.length;
      if (got >= n) resolve(out);
    });
  });
}

const chunkOf = (k: number): Buffer => Buffer.alloc(64 * KiB, k & 0xff);

describe('write tails', () => {
  it('a writer that waits for drain between 64 KiB writes sends no frames of a few bytes', async () => {
    const sizes: number[] = [];
    const { s, peer } = await pair(sizes);
    const writes = 64; // 4 MiB: sixteen high-water marks of 256 KiB
    const received = collect(peer, writes * 64 * KiB);
    for (let k = 0; k < writes; k++) {
      if (!s.write(chunkOf(k))) await new Promise((r) => s.once('drain', r));
    }
    s.end();
    const got = await received;
    for (let k = 0; k < writes; k++) {
      const at = k * 64 * KiB;
      expect(got[at]).toBe(k & 0xff);
      expect(got[at + 64 * KiB - 1]).toBe(k & 0xff);
    }
    // Before, each of the sixteen high-water marks left a 4-byte frame. Now a tail waits for the
    // next write and grows by 4 bytes a round; it leaves on its own only when the event loop
    // reaches its timer between two rounds, which a loaded machine may do now and then.
    const short = sizes.slice(0, -1).filter((n) => n < 1024);
    expect(short.length).toBeLessThanOrEqual(4);
  });

  it.for([1, 1000, 16 * KiB])(
    'holds no tail that is itself at a streamHighWaterMark of %i below the frame size',
    { timeout: 5_000 },
    async (streamHighWaterMark, { expect }) => {
      // A tail held for the next write kept the stream at its high-water mark, so 'drain' never
      // came, and the writer waited for it for good (with 20 KiB writes against a 16 KiB mark,
      // Node's own default, from the first write on).
      const sizes: number[] = [];
      const { s, peer } = await pair(sizes, { streamHighWaterMark });
      const size = 20 * KiB;
      const writes = 20;
      const received = collect(peer, writes * size);
      for (let k = 0; k < writes; k++) {
        if (!s.write(Buffer.alloc(size, k))) await new Promise((r) => s.once('drain', r));
      }
      s.end();
      const got = await received;
      for (let k = 0; k < writes; k++) expect(got[k * size + size - 1]).toBe(k);
    },
  );

  it('sends a held tail when the writer, told to wait, writes nothing more', async () => {
    const sizes: number[] = [];
    const { s, peer } = await pair(sizes);
    const total = 5 * 64 * KiB;
    const received = collect(peer, total);
    let ok = true;
    for (let k = 0; k < 5; k++) ok = s.write(chunkOf(k));
    expect(ok).toBe(false); // over the 256 KiB high-water mark: the writer now waits
    await new Promise((r) => s.once('drain', r));
    // No end(), no further write: the last 5 bytes must still arrive.
    const got = await received;
    expect(got[total - 1]).toBe(4);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(total);
  });
});
