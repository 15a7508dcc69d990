import { afterEach, describe, expect, it } from 'vitest';
import { type FlexStream, Node } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';

/**
 * Credit follows the bytes a reader takes, also when it reads strings (setEncoding): Node then
 * counts its readable buffer in characters, which are not bytes.
 */

const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
});

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

async function pair(window: number): Promise<{ a: Node; b: Node; dialer: FlexStream; sink: FlexStream }> {
  const [x, y] = memoryPair();
  const a = new Node(x, { domain: 'alice', ip: 1, heartbeatInterval: 0 });
  const b = new Node(y, { domain: 'bob', ip: 2, heartbeatInterval: 0 });
  nodes.push(a, b);
  const accepting = b.listen(7).accept();
  const dialer = await a.dial('bob:7', { window });
  return { a, b, dialer, sink: await accepting };
}

const budget = (n: Node): number => (n as unknown as { receiveBuffered: number }).receiveBuffered;

describe('setEncoding', () => {
  for (const [encoding, text] of [
    ['utf8', '€'], // three bytes, one character
    ['utf8', '😀'], // four bytes, two UTF-16 units
    ['hex', 'ab'], // one byte, two characters
  ] as const) {
    it(`a paused ${encoding} reader of ${JSON.stringify(text)} stops its peer after one window`, async () => {
      const window = 64 * 1024;
      const { b, dialer, sink } = await pair(window);
      sink.setEncoding(encoding);
      sink.pause();
      const data = encoding === 'hex' ? Buffer.alloc(300_000, 0xab) : Buffer.from(text.repeat(100_000));
      dialer.write(data);
      await turns(200);
      // Nothing was read: the peer may have sent one window, no more, and all of it counts.
      expect(sink.core.bytesRead).toBe(window);
      expect(sink.core.receiveBuffered).toBe(window);
      expect(budget(b)).toBe(window);
      // Reading everything returns credit for all of it: the rest arrives, and nothing stays counted.
      let got = '';
      sink.on('data', (s: string) => {
        got += s;
      });
      sink.resume();
      dialer.end();
      await new Promise((r) => sink.once('end', r));
      expect(Buffer.from(got, encoding).equals(data)).toBe(true);
      expect(sink.core.receiveBuffered).toBe(0);
      expect(budget(b)).toBe(0);
    });
  }

  it('set after part of the buffer was read, it still counts every byte once', async () => {
    const { b, dialer, sink } = await pair(256 * 1024);
    sink.pause();
    for (let i = 0; i < 3; i++) {
      dialer.write(Buffer.alloc(20_000, 65 + i)); // three chunks in the readable buffer
      await turns(5);
    }
    await turns(20);
    expect((sink.read(20_000) as Buffer).length).toBe(20_000);
    sink.setEncoding('latin1');
    let got = '';
    sink.on('data', (s: string) => {
      got += s;
    });
    sink.resume();
    dialer.end(Buffer.alloc(10_000, 68));
    await new Promise((r) => sink.once('end', r));
    expect(got).toBe('B'.repeat(20_000) + 'C'.repeat(20_000) + 'D'.repeat(10_000));
    expect(sink.core.receiveBuffered).toBe(0);
    expect(budget(b)).toBe(0);
  });
});
