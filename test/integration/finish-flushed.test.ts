import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { FlexStream, NodeOptions } from '../../src/index.js';
import { streamPair } from '../helpers/links.js';
import { once, pattern, readAll, sha256 } from '../helpers/streams.js';

/**
 * 'finish' (and the callback of end()) means what was written, and the end, have left the stream
 * for the connection, as a net.Socket's 'finish' means they reached the kernel: not merely that
 * the core took them while they wait for credit. Programs end a stream and then destroy it (or
 * drop the node) on 'finish'; before, that threw away whatever waited for the peer's reader, and
 * towards a Go peer (plain v3: destroy() is the v3 close) the peer saw a clean end of a truncated
 * transfer.
 */

const WINDOW = 64 * 1024;
const SIZE = 300 * 1024;

const pairs: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const p of pairs.splice(0)) await p.close();
});

async function pair(options: NodeOptions): Promise<{ s: FlexStream; peer: FlexStream }> {
  const { s, peer, close } = await streamPair(options, { window: WINDOW });
  pairs.push({ close });
  peer.pause();
  return { s, peer };
}

for (const [name, options] of [
  ['flexmux peer', {}],
  ['plain v3 peer', { caps: 0 }],
] as const) {
  describe(`'finish' of a stream to a ${name}`, () => {
    it('waits for the bytes the peer has no credit for yet', async () => {
      const { s, peer } = await pair(options);
      const data = pattern(SIZE);
      let called = false;
      s.end(data, () => {
        called = true;
      });
      // One window goes out; the rest waits for the paused reader.
      await expect.poll(() => peer.bytesRead).toBe(WINDOW);
      expect(s.bytesWritten).toBe(WINDOW);
      expect(called).toBe(false);
      expect(s.writableFinished).toBe(false);
      const got = readAll(peer);
      peer.resume();
      await once(s, 'finish');
      expect(called).toBe(true);
      expect(s.core.writeBuffered).toBe(0);
      expect(sha256(await got)).toBe(sha256(data));
    });
  });
}

describe('a stream to a plain v3 peer destroyed once its pipeline is done', () => {
  it('has delivered everything first', async () => {
    const { s, peer } = await pair({ caps: 0 });
    const data = pattern(SIZE);
    const sent = pipeline(Readable.from([data]), s).then(() => s.destroy());
    await expect.poll(() => peer.bytesRead).toBe(WINDOW);
    const got = readAll(peer);
    peer.resume();
    await sent;
    expect(sha256(await got)).toBe(sha256(data));
  });
});
