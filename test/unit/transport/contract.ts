import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { seededRandom } from '../../../src/transport/memory.js';
import type { Transport } from '../../../src/transport/types.js';
import { attachProbe, type Probe, quietPeriod, settleTurns } from './probe.js';

/** A way to get connected pairs of one transport kind. */
export interface Harness {
  /** A connected pair, not yet attached: [dialing side, accepting side]. */
  pair(): Promise<[Transport, Transport]>;
  /** Releases listeners; runs after every pair of the test has been destroyed. */
  dispose(): Promise<void>;
}

export interface ContractOptions {
  /** Bytes sent each way in the bulk test. */
  bulkBytes?: number;
}

/** Largest message: one flex frame (11-byte header + 65 535), the ws maxPayload default. */
const MAX_MESSAGE = 11 + 65_535;

/** The behaviour every transport promises (types.ts), run once per transport kind (STYLE.md habit 11). */
export function transportContract(
  name: string,
  framing: 'stream' | 'message',
  setup: () => Promise<Harness>,
  options: ContractOptions = {},
): void {
  const bulkBytes = options.bulkBytes ?? 4 * 1024 * 1024;

  describe(`transport contract: ${name}`, () => {
    let harness: Harness;
    let opened: Transport[] = [];
    let probes: Map<Transport, Probe>;

    beforeEach(async () => {
      harness = await setup();
      opened = [];
      probes = new Map();
    });

    afterEach(async () => {
      for (const t of opened) if (!t.closed) t.destroy();
      await Promise.all([...probes.values()].map((p) => p.closed()));
      await harness.dispose();
    });

    async function connect(): Promise<[Transport, Transport]> {
      const pair = await harness.pair();
      opened.push(...pair);
      return pair;
    }

    function probe(t: Transport): Probe {
      const p = attachProbe(t);
      probes.set(t, p);
      return p;
    }

    async function connected(): Promise<{ a: Transport; b: Transport; pa: Probe; pb: Probe }> {
      const [a, b] = await connect();
      return { a, b, pa: probe(a), pb: probe(b) };
    }

    it('reports its framing and a remote address on both ends', async () => {
      const [a, b] = await connect();
      expect(a.framing).toBe(framing);
      expect(b.framing).toBe(framing);
      expect(a.remoteAddress).toMatch(/\S/);
      expect(b.remoteAddress).toMatch(/\S/);
      expect(a.closed).toBe(false);
      probe(a);
      probe(b);
    });

    it('refuses a second attach', async () => {
      const { a } = await connected();
      expect(() => a.attach(attachProbeHandlers())).toThrow(ConfigError);
    });

    it('delivers every byte in order, both ways at once, under random part sizes', async () => {
      const { a, b, pa, pb } = await connected();
      const toB = receiveInto(pb);
      const toA = receiveInto(pa);
      const [sentAB, sentBA] = await Promise.all([
        sendBulk(a, pa, bulkBytes, seededRandom(1)),
        sendBulk(b, pb, bulkBytes, seededRandom(2)),
      ]);
      await pb.until(() => pb.bytes === bulkBytes, 'all bytes a -> b');
      await pa.until(() => pa.bytes === bulkBytes, 'all bytes b -> a');
      expect(toB.digest()).toBe(sentAB.hash);
      expect(toA.digest()).toBe(sentBA.hash);
      if (framing === 'message') {
        expect(pb.sizes).toEqual(sentAB.sizes);
        expect(pa.sizes).toEqual(sentBA.sizes);
      }
    });

    it('keeps the order of one send made of runs of tiny parts between large ones', async () => {
      const { a, pb } = await connected();
      const toB = receiveInto(pb);
      // Frame-like: 11-byte headers, empty and short payloads, then parts above any copy threshold.
      const sizes = [11, 0, 16, 11, 1, 11, 4096, 11, 11, 3, 60_000, 11, 1023, 1024, 2, 11];
      let seed = 0;
      const parts = sizes.map((n) => Uint8Array.from({ length: n }, () => (seed = (seed * 31 + 7) & 0xff)));
      const expected = createHash('sha256');
      for (const part of parts) expected.update(part);
      const total = sizes.reduce((x, y) => x + y, 0);
      // Message framing carries at most one frame per send: there, send the parts one message each.
      if (framing === 'message') for (const part of parts.filter((x) => x.length > 0)) a.send([part]);
      else a.send(parts);
      await pb.until(() => pb.bytes === total, 'every byte of the send');
      expect(toB.digest()).toBe(expected.digest('hex'));
    });

    it('keeps data sent before attach until the handlers arrive', async () => {
      const [a, b] = await connect();
      probe(a);
      a.send([new Uint8Array(1000).fill(7)]);
      await quietPeriod();
      const pb = probe(b);
      await pb.until(() => pb.bytes === 1000, 'data held before attach');
    });

    if (framing === 'message') {
      it('keeps message boundaries', async () => {
        const { a, pb } = await connected();
        const sizes = [1, 11, 0, 65_546, 300, 2, 11 + 1024];
        const got: Uint8Array[] = [];
        pb.onData = (c) => got.push(Uint8Array.from(c));
        sizes.forEach((n, i) => {
          const m = new Uint8Array(n).fill(i + 1);
          // Split across parts so the transport, not the caller, makes one message of them.
          a.send(n > 2 ? [m.subarray(0, 1), m.subarray(1, 2), m.subarray(2)] : [m]);
        });
        await pb.until(() => got.length === sizes.length, 'all messages');
        expect(got.map((m) => m.length)).toEqual(sizes);
        got.forEach((m, i) => {
          expect(m.every((v) => v === i + 1)).toBe(true);
        });
      });
    }

    it('returns false from send under pressure, then drains and delivers everything', async () => {
      const { a, b, pa, pb } = await connected();
      b.pauseReading();
      const chunk = randomBytes(60_000);
      let sent = 0;
      let sawFalse = false;
      // Bounded: loopback kernel buffers hold a few MiB at most.
      while (sent < 512 * 1024 * 1024) {
        const ok = a.send([chunk.subarray(0, 11), chunk.subarray(11)]);
        sent += chunk.length;
        if (!ok) {
          sawFalse = true;
          break;
        }
      }
      expect(sawFalse).toBe(true);
      expect(a.bufferedAmount).toBeGreaterThan(0);
      const drains = pa.drains;
      b.resumeReading();
      await pa.until(() => pa.drains > drains, 'drain');
      await pb.until(() => pb.bytes === sent, 'everything sent under pressure');
      // Small enough to stay under every transport's mark (TLS socket writes complete async).
      expect(a.send([chunk.subarray(0, 1000)])).toBe(true);
      await pb.until(() => pb.bytes === sent + 1000, 'data after drain');
    });

    it('delivers nothing while paused and everything after resume', async () => {
      const { a, b, pb } = await connected();
      b.pauseReading();
      for (let i = 0; i < 10; i++) a.send([new Uint8Array(1000).fill(i)]);
      await quietPeriod();
      expect(pb.bytes).toBe(0);
      b.resumeReading();
      await pb.until(() => pb.bytes === 10_000, 'data after resume');
      b.pauseReading();
      a.send([new Uint8Array(500)]);
      await quietPeriod();
      expect(pb.bytes).toBe(10_000);
      b.resumeReading();
      await pb.until(() => pb.bytes === 10_500, 'data after second resume');
    });

    for (const closer of ['dialing', 'accepting'] as const) {
      it(`close from the ${closer} end delivers pending data, then closes both ends once`, async () => {
        const { a, b, pa, pb } = await connected();
        const [x, px, py] = closer === 'dialing' ? [a, pa, pb] : [b, pb, pa];
        const msg = randomBytes(60_000);
        for (let i = 0; i < 20; i++) x.send([msg.subarray(0, 11), msg.subarray(11)]);
        x.close();
        expect(x.closed).toBe(true);
        expect(x.send([msg])).toBe(false);
        await Promise.all([px.closed(), py.closed()]);
        expect(py.bytes).toBe(20 * msg.length);
        expect(px.closes).toEqual([undefined]);
        expect(py.closes).toEqual([undefined]);
        x.close();
        x.destroy();
        await settleTurns();
        expect(px.closes.length).toBe(1);
        expect(py.closes.length).toBe(1);
        expect(px.eventAfterClose || py.eventAfterClose).toBe(false);
      });
    }

    it('closes cleanly when both ends close at once', async () => {
      const { a, b, pa, pb } = await connected();
      a.send([new Uint8Array(100)]);
      b.send([new Uint8Array(200)]);
      a.close();
      b.close();
      await Promise.all([pa.closed(), pb.closed()]);
      expect(pa.closes).toEqual([undefined]);
      expect(pb.closes).toEqual([undefined]);
    });

    it('destroy reports its error locally and gives the peer a close', async () => {
      const { a, pa, pb } = await connected();
      a.send([new Uint8Array(100_000)]);
      const boom = new Error('boom');
      a.destroy(boom);
      expect(a.closed).toBe(true);
      await Promise.all([pa.closed(), pb.closed()]);
      expect(pa.closes).toEqual([boom]);
      await settleTurns();
      expect(pa.closes.length).toBe(1);
      expect(pb.closes.length).toBe(1);
    });

    it('delivers nothing after destroy, even data that was already received', async () => {
      const { a, b, pb } = await connected();
      b.pauseReading();
      // Separate sends, spaced out, so a byte stream also holds them as separate reads.
      for (let i = 0; i < 5; i++) {
        a.send([new Uint8Array(1000).fill(i + 1)]);
        await quietPeriod(20);
      }
      let afterDestroy = 0;
      let destroyed = false;
      pb.onData = () => {
        if (destroyed) {
          afterDestroy++;
          return;
        }
        destroyed = true;
        b.destroy();
      };
      b.resumeReading();
      await pb.closed();
      await settleTurns();
      expect(destroyed).toBe(true);
      expect(afterDestroy).toBe(0);
    });

    it('destroy before attach is still reported once the handlers arrive', async () => {
      const [a, b] = await connect();
      a.destroy();
      const pa = probe(a);
      const pb = probe(b);
      await Promise.all([pa.closed(), pb.closed()]);
      expect(pa.closes).toEqual([undefined]);
    });
  });
}

function attachProbeHandlers(): { data(): void; drain(): void; close(): void } {
  return { data() {}, drain() {}, close() {} };
}

function receiveInto(p: Probe): { digest(): string } {
  const hash = createHash('sha256');
  p.onData = (chunk) => hash.update(chunk);
  return { digest: () => hash.digest('hex') };
}

/** Sends `total` random bytes in sends of 1..MAX_MESSAGE bytes, each split into 1-3 parts. */
async function sendBulk(
  t: Transport,
  p: Probe,
  total: number,
  rng: () => number,
): Promise<{ hash: string; sizes: number[] }> {
  const hash = createHash('sha256');
  const sizes: number[] = [];
  const source = randomBytes(MAX_MESSAGE * 4);
  let sent = 0;
  while (sent < total) {
    const size = Math.min(total - sent, 1 + Math.floor(rng() * MAX_MESSAGE));
    const start = Math.floor(rng() * (source.length - size));
    // A fresh copy per send: a transport may hold a reference until the bytes are written.
    const data = Uint8Array.from(source.subarray(start, start + size));
    const cut1 = Math.floor(rng() * size);
    const cut2 = cut1 + Math.floor(rng() * (size - cut1));
    const parts =
      rng() < 0.3 ? [data] : [data.subarray(0, cut1), data.subarray(cut1, cut2), data.subarray(cut2)];
    hash.update(data);
    sizes.push(size);
    sent += size;
    const drains = p.drains;
    if (!t.send(parts)) await p.until(() => p.drains > drains, 'drain during bulk send');
  }
  return { hash: hash.digest('hex'), sizes };
}
