import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type FlexStream, type Node, StreamResetError } from '../../src/index.js';
import { links, nodePair } from '../helpers/links.js';
import { once, pattern, readAll, sha256, writeAll } from '../helpers/streams.js';

function echo(node: Node, port: number): void {
  node.listen(port).on('stream', (s: FlexStream) => {
    pipeline(s, s).catch(() => {});
  });
}

async function echoRoundTrip(a: Node, size: number, piece = 64 * 1024): Promise<void> {
  const s = await a.dial('bob:7');
  const data = pattern(size, size + 1);
  const got = readAll(s);
  await writeAll(s, data, piece);
  const out = await got;
  expect(out.length).toBe(size);
  expect(sha256(out)).toBe(sha256(data));
}

for (const [name, factory] of Object.entries(links)) {
  describe(`node behaviour over ${name}`, () => {
    let pair: Awaited<ReturnType<typeof nodePair>> | null = null;
    afterEach(async () => {
      await pair?.close();
      pair = null;
    });
    const open = async (...opts: Parameters<typeof nodePair> extends [unknown, ...infer R] ? R : never) => {
      pair = await nodePair(factory, ...opts);
      return pair;
    };

    it('echoes 0 B, 1 B, 64 KiB + 1 and 4 MiB with hash checks', async () => {
      const { a, b } = await open();
      echo(b, 7);
      for (const size of [0, 1, 65_537, 4 * 1024 * 1024]) await echoRoundTrip(a, size);
    });

    it('runs 200 concurrent streams x 128 KiB', async () => {
      const { a, b } = await open();
      echo(b, 7);
      await Promise.all(Array.from({ length: 200 }, (_, i) => echoRoundTrip(a, 128 * 1024, 8192 + i)));
      // the close handshake may still be in flight when the last byte has been read
      await expect.poll(() => a.streamCount + b.streamCount, { timeout: 5_000 }).toBe(0);
    });

    it('half-closes: the reply still arrives after the dialer ends', async () => {
      const { a, b } = await open();
      b.listen(9).on('stream', async (s: FlexStream) => {
        const req = await readAll(s);
        s.end(Buffer.concat([Buffer.from('got '), req]));
      });
      const s = await a.dial('bob:9');
      expect(s.core.halfCloseNegotiated).toBe(true);
      s.end('question');
      expect((await readAll(s)).toString()).toBe('got question');
    });

    it('plain v3 streams (no extensions) close as Go does', async () => {
      const { a, b } = await open({ caps: 0 }, {});
      echo(b, 7);
      const s = await a.dial('bob:7');
      expect(s.core.caps).toBe(0);
      s.write('hello');
      const first = await once<Buffer>(s, 'data');
      expect(first.toString()).toBe('hello');
      s.end();
      await once(s, 'close');
    });

    it('resets with a reason code that reaches the peer', async () => {
      const { a, b } = await open();
      const accepted = b.listen(5).accept();
      const s = await a.dial('bob:5');
      const peer = await accepted;
      const err = once<Error>(peer, 'error');
      s.on('error', () => {});
      s.destroy(Object.assign(new Error('bye'), { resetCode: 0x123 }));
      const e = await err;
      expect(e).toBeInstanceOf(StreamResetError);
      expect((e as StreamResetError).resetCode).toBe(0x123);
      expect((e as StreamResetError).remote).toBe(true);
    });

    it('resets with 0 for a reason code outside u32, and destroy() does not throw (errors.md)', async () => {
      const { a, b } = await open();
      const accepted = b.listen(5).accept();
      const s = await a.dial('bob:5');
      const peer = await accepted;
      const err = once<Error>(peer, 'error');
      s.on('error', () => {});
      expect(() => s.destroy(Object.assign(new Error('bye'), { resetCode: 2 ** 32 }))).not.toThrow();
      const e = await err;
      expect(e).toBeInstanceOf(StreamResetError);
      expect((e as StreamResetError).resetCode).toBe(0);
    });

    it('reports dial errors as typed errors', async () => {
      const { a, b } = await open();
      await expect(a.dial('bob:81')).rejects.toMatchObject({
        code: 'FLEX_ERR_DIAL_REFUSED',
        reason: 'no-listener',
      });
      b.listen(82, { backlog: 1 });
      await a.dial('bob:82'); // fills the backlog
      await expect(a.dial('bob:82')).rejects.toMatchObject({ reason: 'backlog-full' });
      await expect(a.dial('bob:99999')).rejects.toMatchObject({ code: 'FLEX_ERR_CONFIG' });
      await expect(a.dial('bob:1', { signal: AbortSignal.abort() })).rejects.toMatchObject({
        code: 'FLEX_ERR_ABORTED',
      });
    });

    it('pings the peer and reports unknown domains', async () => {
      const { a } = await open();
      expect(await a.ping('bob')).toBeGreaterThanOrEqual(0);
      expect(await a.ping('BOB')).toBeGreaterThanOrEqual(0);
      await expect(a.ping('carol')).rejects.toMatchObject({
        code: 'FLEX_ERR_PING_FAILED',
        remoteText: 'domain not match',
      });
    });

    it('keeps other streams flowing while one reader is paused', async () => {
      const { a, b } = await open({}, { window: 256 * 1024 });
      echo(b, 7);
      const held = b.listen(8).accept();
      const slow = await a.dial('bob:8');
      const slowPeer = await held;
      slowPeer.pause();
      // Fill the slow stream until it pushes back.
      const blob = pattern(64 * 1024);
      let written = 0;
      while (slow.write(blob)) written += blob.length;
      expect(written).toBeLessThan(4 * 1024 * 1024);
      const t0 = performance.now();
      await echoRoundTrip(a, 256 * 1024);
      expect(performance.now() - t0).toBeLessThan(5_000);
      slowPeer.resume();
      slow.end();
      const rest = await readAll(slowPeer);
      expect(rest.length).toBeGreaterThan(written);
    });

    it('churns 2,000 open/echo/close cycles without leaking stream state', async () => {
      const { a, b } = await open({ retention: 50 }, { retention: 50 });
      echo(b, 7);
      for (let i = 0; i < 2_000; i += 50) {
        await Promise.all(Array.from({ length: 50 }, () => echoRoundTrip(a, 16)));
      }
      await expect.poll(() => a.streamCount + b.streamCount, { timeout: 5_000 }).toBe(0);
    });
  });
}
