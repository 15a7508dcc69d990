// Writes shorter than COPY_WRITES_BELOW are copied when the stream takes them: a writer that
// encodes into one scratch buffer and writes it again after each callback sends what it wrote,
// over every link, though its bytes are still queued when the callback comes.
import { afterEach, describe, expect, it } from 'vitest';
import { Node as WebNode, type WebStream } from '../../src/browser.js';
import type { FlexStream } from '../../src/index.js';
import { COPY_WRITES_BELOW } from '../../src/stream/core.js';
import { links, nodePair } from '../helpers/links.js';

const SEGMENT = 1024;
const SEGMENTS = 512;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Checks that segment k of the data is all byte k % 251; resolves with the segments seen. */
async function verify(chunks: AsyncIterable<Uint8Array>): Promise<number> {
  let at = 0;
  for await (const c of chunks) {
    for (let i = 0; i < c.length; i++, at++) {
      if (c[i] !== Math.floor(at / SEGMENT) % 251) {
        throw new Error(`byte ${at} (segment ${Math.floor(at / SEGMENT)}) was overwritten`);
      }
    }
  }
  return at / SEGMENT;
}

async function* webChunks(s: WebStream): AsyncIterable<Uint8Array> {
  const reader = s.readable.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}

for (const [name, factory] of Object.entries(links)) {
  describe(`reusing a short write's buffer over ${name}`, () => {
    it('a Node writer sends what it wrote', async () => {
      expect(SEGMENT).toBeLessThan(COPY_WRITES_BELOW);
      // A small window keeps the writes queued, waiting for credit, when their callbacks come.
      const opts = { heartbeatInterval: 0, window: 16 * 1024 };
      const nodes = await nodePair(factory, opts, opts);
      cleanups.push(nodes.close);
      const accepted = nodes.b.listen(9).accept();
      const s = await nodes.a.dial('bob:9');
      const seen = verify((await accepted) as FlexStream & AsyncIterable<Uint8Array>);
      const buf = Buffer.alloc(SEGMENT);
      for (let k = 0; k < SEGMENTS; k++) {
        buf.fill(k % 251);
        await new Promise<void>((resolve, reject) => s.write(buf, (err) => (err ? reject(err) : resolve())));
      }
      s.end();
      expect(await seen).toBe(SEGMENTS);
    });

    it('a Web Streams writer sends what it wrote', async () => {
      const link = await factory();
      const opts = { heartbeatInterval: 0, window: 16 * 1024 };
      const a = new WebNode(link.a, { domain: 'alice', ip: 1, ...opts });
      const b = new WebNode(link.b, { domain: 'bob', ip: 2, ...opts });
      cleanups.push(async () => {
        a.destroy();
        b.destroy();
        await link.dispose();
      });
      const accepted = b.listen(9).accept();
      const s = await a.dial('bob:9');
      const seen = verify(webChunks(await accepted));
      const writer = s.writable.getWriter();
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
