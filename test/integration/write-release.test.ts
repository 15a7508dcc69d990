// With the node option reuseWrittenBuffers (off by default: docs/manual.md, "Reusing a written
// buffer"), a write's callback (and a Web Streams write's promise) says the writer may fill the
// same buffer again. Large writes are copied into the connection's slabs, so the callback can come at once;
// with the slabs full (a small writeBuffer) or none (0), the writer's buffer is sent as it is and
// the callback waits until it has left: not for credit, the scheduler or a socket's write queue.
import { afterEach, describe, expect, it } from 'vitest';
import { Node as WebNode, type WebStream } from '../../src/browser.js';
import type { FlexStream } from '../../src/index.js';
import { links, nodePair } from '../helpers/links.js';

const KiB = 1024;
const SEGMENT = 16 * KiB;
/** Enough to fill a 64 KiB window many times over, and the sockets' buffers. */
const SEGMENTS = 256;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Checks that segment k of what `read` yields is all byte k; resolves with the segments seen. */
async function verify(chunks: AsyncIterable<Uint8Array>): Promise<number> {
  let at = 0;
  let bad = -1;
  for await (const c of chunks) {
    for (let i = 0; i < c.length; i++, at++) {
      if (bad < 0 && c[i] !== Math.floor(at / SEGMENT) % 251) bad = at;
    }
  }
  if (bad >= 0) throw new Error(`byte ${bad} (segment ${Math.floor(bad / SEGMENT)}) was overwritten`);
  return at / SEGMENT;
}

/** An async view of a stream's data that reads slowly: the sender's window stays full. */
async function* slowly(chunks: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  let n = 0;
  for await (const c of chunks) {
    yield c;
    // Every few chunks, let the sender run into its window and the socket's buffers.
    if (++n % 4 === 0) await new Promise((r) => setImmediate(r));
  }
}

async function* webChunks(s: WebStream): AsyncIterable<Uint8Array> {
  const reader = s.readable.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}

/** Slabs of the default budget; one slab of a single segment (mostly full: writes wait); none. */
const BUFFERS: [string, number | undefined][] = [
  ['slabs', undefined],
  ['slabs full', SEGMENT],
  ['no slabs', 0],
];

for (const [name, factory] of Object.entries(links)) {
  for (const [mode, writeBuffer] of BUFFERS) {
    describe(`write release over ${name} (${mode})`, () => {
      async function pair(window: number) {
        const nodes = await nodePair(
          factory,
          { heartbeatInterval: 0, window, reuseWrittenBuffers: true, writeBuffer },
          { heartbeatInterval: 0, window },
        );
        cleanups.push(nodes.close);
        return nodes;
      }

      it('a Node writer that refills one buffer after each callback sends what it wrote', async () => {
        const { a, b } = await pair(64 * KiB);
        const accepted = b.listen(9).accept();
        const s = await a.dial('bob:9');
        const peer = await accepted;
        const seen = verify(slowly(peer as AsyncIterable<Uint8Array> & FlexStream));
        const buf = Buffer.alloc(SEGMENT);
        for (let k = 0; k < SEGMENTS; k++) {
          buf.fill(k % 251);
          await new Promise<void>((resolve, reject) =>
            s.write(buf, (err) => (err ? reject(err) : resolve())),
          );
        }
        await new Promise<void>((resolve) => s.end(resolve));
        expect(await seen).toBe(SEGMENTS);
      });

      it('a Web Streams writer that refills one buffer after each write sends what it wrote', async () => {
        const link = await factory();
        const opts = { heartbeatInterval: 0, window: 64 * KiB };
        const a = new WebNode(link.a, {
          domain: 'alice',
          ip: 1,
          reuseWrittenBuffers: true,
          writeBuffer,
          ...opts,
        });
        const b = new WebNode(link.b, { domain: 'bob', ip: 2, ...opts });
        cleanups.push(async () => {
          a.destroy();
          b.destroy();
          await link.dispose();
        });
        const accepted = b.listen(9).accept();
        const web = await a.dial('bob:9');
        const peer = await accepted;
        const seen = verify(slowly(webChunks(peer)));
        const writer = web.writable.getWriter();
        const buf = new Uint8Array(SEGMENT);
        for (let k = 0; k < SEGMENTS; k++) {
          buf.fill(k % 251);
          await writer.write(buf);
        }
        await writer.close();
        expect(await seen).toBe(SEGMENTS);
      });
    });
  }
}

describe('write release', () => {
  it.each(BUFFERS)(
    'a writer on a stream to its own node refills its buffer safely too (loopback, %s)',
    async (_m, writeBuffer) => {
      const nodes = await nodePair(
        links.memory!,
        { heartbeatInterval: 0, window: 64 * KiB, reuseWrittenBuffers: true, writeBuffer },
        { heartbeatInterval: 0 },
      );
      cleanups.push(nodes.close);
      const accepted = nodes.a.listen(9).accept();
      const s = await nodes.a.dial('alice:9');
      const peer = await accepted;
      const seen = verify(slowly(peer as AsyncIterable<Uint8Array> & FlexStream));
      const buf = Buffer.alloc(SEGMENT);
      for (let k = 0; k < 64; k++) {
        buf.fill(k % 251);
        await new Promise<void>((resolve, reject) => s.write(buf, (err) => (err ? reject(err) : resolve())));
      }
      await new Promise<void>((resolve) => s.end(resolve));
      expect(await seen).toBe(64);
    },
  );

  it('fails a write that waits for its bytes to leave when the stream is destroyed', async () => {
    const nodes = await nodePair(
      links.tcp!,
      { heartbeatInterval: 0, window: 64 * KiB, reuseWrittenBuffers: true, writeBuffer: 0 },
      { heartbeatInterval: 0 },
    );
    cleanups.push(nodes.close);
    const accepted = nodes.b.listen(9).accept();
    const s = await nodes.a.dial('bob:9');
    const peer = await accepted;
    peer.pause(); // nothing is read: the window fills and stays full
    s.on('error', () => {});
    const results: (Error | null | undefined)[] = [];
    const all: Promise<void>[] = [];
    for (let k = 0; k < 16; k++) {
      all.push(
        new Promise<void>((resolve) =>
          s.write(Buffer.alloc(SEGMENT, k), (err) => resolve(void results.push(err))),
        ),
      );
    }
    s.destroy(new Error('gone'));
    await Promise.all(all);
    expect(results).toHaveLength(16);
    // The first writes left before the window filled; the rest fail with the stream.
    expect(results.some((e) => e instanceof Error)).toBe(true);
  });
});
