import { describe, expect, it } from 'vitest';
import { type FlexStream, Node } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { heapUsed, MiB, resources } from '../helpers/faulty-memory.js';
import { budget, count } from './scale.js';

/**
 * 100,000 stream open/use/close cycles between two nodes on a memory link, 500 at a time, with a
 * short retention: afterwards the stream tables, retention, timers, event listeners and heap are
 * back to their baseline (taken after a warm-up, so JIT and pools are already in it).
 */

const CYCLES = count(100_000);
const BATCH = 500;
const WARMUP = 2 * BATCH;

function timers(): number {
  return resources().Timeout ?? 0;
}

describe('soak: stream cycles', () => {
  it(
    `${CYCLES.toLocaleString('en')} open/close cycles, ${BATCH} at a time, leave nothing behind`,
    async () => {
      const [ta, tb] = memoryPair();
      const opts = { heartbeatInterval: 0, retention: 20, closeAckTimeout: 500 };
      const a = new Node(ta, { ip: 1, domain: 'alice', ...opts });
      const b = new Node(tb, { ip: 2, domain: 'bob', ...opts });
      try {
        const l = b.listen(7);
        let served = 0;
        l.on('stream', (s: FlexStream) => {
          // Read the request, answer, end: a tiny RPC per stream.
          s.on('data', () => {});
          s.once('end', () => {
            served++;
            s.end('ok');
          });
        });
        const cycle = async (i: number): Promise<void> => {
          const s = await a.dial('bob:7');
          const closed = new Promise<void>((resolve, reject) => {
            s.once('close', () => resolve());
            s.once('error', reject);
          });
          let got = '';
          s.on('data', (c: Buffer) => {
            got += String(c);
          });
          s.end(`q${i}`);
          await closed;
          if (got !== 'ok') throw new Error(`cycle ${i}: got ${JSON.stringify(got)}`);
        };
        const run = async (from: number, to: number): Promise<void> => {
          for (let i = from; i < to; i += BATCH) {
            await Promise.all(Array.from({ length: Math.min(BATCH, to - i) }, (_, k) => cycle(i + k)));
            // The memory link delivers in microtasks: without a turn of the event loop no timer
            // (retention sweep) would ever run, and the 64,536 dial ports would run out.
            await new Promise<void>((r) => setImmediate(r));
          }
        };
        const settle = async (): Promise<void> => {
          await expect.poll(() => a.streamCount + b.streamCount, { timeout: 5_000 }).toBe(0);
          // Retention lets go of closed streams after 20 ms; its sweep timer stops when empty.
          await expect.poll(() => timers(), { timeout: 5_000 }).toBeLessThanOrEqual(base.timers);
        };

        const base = { timers: timers(), heap: 0 };
        await run(0, WARMUP);
        await settle();
        base.heap = await heapUsed();
        const listeners = {
          aClose: a.listenerCount('close'),
          aError: a.listenerCount('error'),
          bClose: b.listenerCount('close'),
          stream: l.listenerCount('stream'),
        };
        const t0 = performance.now();
        await run(WARMUP, CYCLES);
        const ms = performance.now() - t0;
        await settle();
        expect(served).toBe(CYCLES);
        expect(a.stats.streamsOpened).toBe(CYCLES);
        expect(b.stats.streamsAccepted).toBe(CYCLES);
        expect(a.stats.dropped + b.stats.dropped).toBe(0);
        expect({
          aClose: a.listenerCount('close'),
          aError: a.listenerCount('error'),
          bClose: b.listenerCount('close'),
          stream: l.listenerCount('stream'),
        }).toEqual(listeners);
        expect(a.scheduler.controlLength + b.scheduler.controlLength).toBe(0);
        const growth = (await heapUsed()) - base.heap;
        // Informational: cycles per second and heap growth end up in docs/security.md.
        console.log(
          `soak streams: ${CYCLES - WARMUP} cycles in ${Math.round(ms)} ms, heap ${(growth / MiB).toFixed(2)} MiB`,
        );
        expect(growth).toBeLessThan(4 * MiB);
      } finally {
        a.destroy();
        b.destroy();
      }
    },
    budget(40_000),
  );
});
