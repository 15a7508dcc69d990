import { describe, expect, it } from 'vitest';
import { BaseNode, type FlexStream, FlexStream as FS, Session } from '../../src/index.js';
import type { RefusalInfo } from '../../src/switcher/switcher.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { type MemoryTransport, memoryPair } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/types.js';
import { heapUsed, MiB, resources } from '../helpers/faulty-memory.js';
import { budget, count } from './scale.js';

/**
 * 1,000 reconnects of a Session against a switcher over memory transports, each forced by
 * destroying the live transport. Every time the session is admitted again and its listener is
 * served again (checked by a dial from a second session every 50 reconnects). Afterwards the
 * switcher's tables, the timers, the event listeners and the heap are back to their baseline.
 */

const RECONNECTS = count(1_000);
const PASSWORD = 'soak-reconnect';

function tally(xs: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

function timers(): number {
  return resources().Timeout ?? 0;
}

function memorySession(sw: Switcher, domain: string, current?: { t: MemoryTransport | null }) {
  let n = 0;
  return new Session<FlexStream>({
    connector: async () => {
      const [a, b] = memoryPair({ remoteAddresses: ['switcher', `10.7.${(n >> 8) & 255}.${n++ & 255}:1`] });
      sw.handle(b);
      if (current) current.t = a;
      return a as Transport;
    },
    makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
    password: PASSWORD,
    domain,
    // Each forced reconnect drops a connection right after its admission, which the session
    // backs off from (a storm guard): keep that back-off at a millisecond.
    backoffInitial: 1,
    backoffMax: 1,
    heartbeatInterval: 0,
  });
}

describe('soak: reconnects', () => {
  it(
    `${RECONNECTS.toLocaleString('en')} forced reconnects: admitted and listening each time, nothing left behind`,
    async () => {
      const sw = new Switcher({ password: PASSWORD });
      const refused: RefusalInfo[] = [];
      sw.on('refused', (r) => refused.push(r));
      const base = { timers: timers(), heap: 0 };
      const current: { t: MemoryTransport | null } = { t: null };
      const flaky = memorySession(sw, 'flaky', current);
      const steady = memorySession(sw, 'steady');
      try {
        let served = 0;
        flaky.listen(7).on('stream', (s: FlexStream) => {
          served++;
          s.on('error', () => {});
          s.end('pong');
        });
        await Promise.all([flaky.ready({ timeout: 5_000 }), steady.ready({ timeout: 5_000 })]);
        const probe = async (): Promise<void> => {
          const s = await steady.dial('flaky:7', { wait: true, timeout: 5_000 });
          let got = '';
          s.on('data', (c: Buffer) => {
            got += String(c);
          });
          s.end(); // a half-closed stream (14.2) closes once both sides ended
          await new Promise<void>((resolve, reject) => {
            s.once('close', () => resolve());
            s.once('error', reject);
          });
          expect(got).toBe('pong');
        };
        const bounce = async (): Promise<void> => {
          const again = new Promise<void>((resolve) => flaky.once('ready', () => resolve()));
          current.t?.destroy();
          await again;
        };
        // Warm-up, then the baseline.
        for (let i = 0; i < 20; i++) await bounce();
        await probe();
        base.heap = await heapUsed();
        const listeners = {
          ready: flaky.listenerCount('ready'),
          disconnect: flaky.listenerCount('disconnect'),
          swClient: sw.listenerCount('client'),
          swLeft: sw.listenerCount('clientLeft'),
        };
        const t0 = performance.now();
        for (let i = 1; i <= RECONNECTS; i++) {
          await bounce();
          if (i % 50 === 0) await probe();
        }
        const ms = performance.now() - t0;
        await probe();
        expect(flaky.connections).toBe(1 + 20 + RECONNECTS);
        expect(served).toBe(2 + Math.floor(RECONNECTS / 50));
        // Tables: the two sessions, nothing pending, no stream tracked.
        await expect.poll(() => sw.stats().clients).toBe(2);
        expect(sw.stats().pendingAdmissions).toBe(0);
        expect(sw.clients().every((c) => c.streams === 0 && c.queuedBytes === 0)).toBe(true);
        expect(flaky.node?.streamCount ?? 0).toBe(0);
        expect({
          ready: flaky.listenerCount('ready'),
          disconnect: flaky.listenerCount('disconnect'),
          swClient: sw.listenerCount('client'),
          swLeft: sw.listenerCount('clientLeft'),
        }).toEqual(listeners);
        const growth = (await heapUsed()) - base.heap;
        const replays = refused.filter((r) => r.reason === 'replay').length;
        console.log(
          `soak reconnects: ${RECONNECTS} in ${Math.round(ms)} ms, heap ${(growth / MiB).toFixed(2)} MiB, ` +
            `refusals ${JSON.stringify(tally(refused.map((r) => r.reason)))}`,
        );
        // Each admission leaves two replay-cache keys for 5 minutes (bounded by replayCacheSize):
        // measured ~0.9 KiB per admission; heap snapshots show no other growth.
        expect(growth).toBeLessThan(4 * MiB + (20 + RECONNECTS) * 1536);
        // Refusals, if any, are the same-millisecond "replays" of test/abuse/switcher.test.ts.
        expect(refused.length).toBe(replays);
      } finally {
        await flaky.close();
        await steady.close();
        await sw.close({ timeout: 500 });
      }
      await expect.poll(() => timers(), { timeout: 5_000 }).toBeLessThanOrEqual(base.timers);
      expect(sw.stats().clients).toBe(0);
    },
    budget(30_000),
  );
});
