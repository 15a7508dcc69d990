import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, ConnectionClosedError } from '../../../src/errors.js';
import {
  type MemoryPairOptions,
  type MemoryTransport,
  memoryPair,
  seededRandom,
} from '../../../src/transport/memory.js';
import { transportContract } from './contract.js';
import { attachProbe, type Probe, quietPeriod, settleTurns } from './probe.js';

function memoryHarness(options: MemoryPairOptions) {
  return async () => ({
    pair: async () => memoryPair(options),
    dispose: async () => {},
  });
}

transportContract('memory, stream', 'stream', memoryHarness({}));
transportContract(
  'memory, stream re-chunked at random with latency',
  'stream',
  memoryHarness({ maxChunk: 5000, rng: seededRandom(7), latency: 1 }),
);
transportContract('memory, stream in fixed 1500-byte chunks', 'stream', memoryHarness({ maxChunk: 1500 }));
transportContract('memory, message', 'message', memoryHarness({ framing: 'message' }));
transportContract(
  'memory, message with latency',
  'message',
  memoryHarness({ framing: 'message', latency: 2 }),
);

describe('memoryPair', () => {
  let ends: MemoryTransport[] = [];
  let probes: Probe[] = [];

  afterEach(async () => {
    for (const t of ends) t.destroy();
    await settleTurns();
    ends = [];
    probes = [];
  });

  function pair(options: MemoryPairOptions = {}): [MemoryTransport, MemoryTransport, Probe, Probe] {
    const [a, b] = memoryPair(options);
    ends.push(a, b);
    const pa = attachProbe(a);
    const pb = attachProbe(b);
    probes.push(pa, pb);
    return [a, b, pa, pb];
  }

  it('rejects bad options at once', () => {
    expect(() => memoryPair({ maxChunk: 0 })).toThrow(ConfigError);
    expect(() => memoryPair({ framing: 'message', maxChunk: 10 })).toThrow(ConfigError);
    expect(() => memoryPair({ rng: Math.random })).toThrow(ConfigError);
    expect(() => memoryPair({ latency: -1 })).toThrow(ConfigError);
    expect(() => memoryPair({ highWaterMark: 10, lowWaterMark: 20 })).toThrow(ConfigError);
    expect(() => memoryPair({ framing: 'datagram' as 'stream' })).toThrow(ConfigError);
    // An rng that is no function was taken, and threw a TypeError at the first delivery, an
    // uncaught exception; remoteAddresses that are no pair threw a TypeError at the call.
    expect(() => memoryPair({ maxChunk: 4, rng: 5 as never })).toThrow(
      new ConfigError('option rng must be a function, got 5'),
    );
    expect(() => memoryPair({ remoteAddresses: 5 as never })).toThrow(
      new ConfigError('option remoteAddresses must be two strings, got 5'),
    );
    expect(() => memoryPair({ remoteAddresses: ['a'] as never })).toThrow(ConfigError);
    expect(() => memoryPair({ remoteAddresses: ['a', 2] as never })).toThrow(ConfigError);
    expect(memoryPair({ remoteAddresses: ['a', 'b'] }).map((t) => t.remoteAddress)).toEqual(['a', 'b']);
  });

  it('never delivers from inside send', async () => {
    const [a, , , pb] = pair();
    a.send([new Uint8Array([1, 2, 3])]);
    expect(pb.bytes).toBe(0);
    await pb.until(() => pb.bytes === 3, 'async delivery');
  });

  it('cuts and joins sends into pieces of at most maxChunk bytes', async () => {
    const [a, , , pb] = pair({ maxChunk: 4 });
    const seen: number[] = [];
    pb.onData = (c) => seen.push(...c);
    a.send([Uint8Array.of(1, 2, 3)]);
    a.send([Uint8Array.of(4, 5), Uint8Array.of(6)]);
    a.send([Uint8Array.of(7, 8, 9, 10, 11)]);
    await pb.until(() => pb.bytes === 11, 'all bytes');
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    // 4 + 4 + 3: the first piece joins two sends.
    expect(pb.sizes).toEqual([4, 4, 3]);
  });

  it('draws piece sizes from the injected rng, reproducibly', async () => {
    const run = async (): Promise<number[]> => {
      const [a, , , pb] = pair({ maxChunk: 100, rng: seededRandom(42) });
      a.send([new Uint8Array(5000)]);
      await pb.until(() => pb.bytes === 5000, 'all bytes');
      return pb.sizes;
    };
    const first = await run();
    const second = await run();
    expect(first).toEqual(second);
    expect(new Set(first).size).toBeGreaterThan(5);
    expect(Math.max(...first)).toBeLessThanOrEqual(100);
  });

  it('keeps order under latency', async () => {
    const [a, , , pb] = pair({ framing: 'message', latency: 5 });
    const got: number[] = [];
    pb.onData = (c) => got.push(c[0]);
    for (let i = 0; i < 50; i++) a.send([Uint8Array.of(i)]);
    await pb.until(() => got.length === 50, 'all messages');
    expect(got).toEqual([...Array(50).keys()]);
  });

  it('delivers copies, so a sender reusing its buffer cannot corrupt what was sent', async () => {
    const [a, , , pb] = pair();
    const buf = Uint8Array.of(1, 2, 3);
    let got: number[] = [];
    pb.onData = (c) => {
      got = [...c];
    };
    a.send([buf]);
    buf.fill(9);
    await pb.until(() => pb.bytes === 3, 'data');
    expect(got).toEqual([1, 2, 3]);
  });

  it('counts in-flight bytes against the high-water mark until the peer consumes them', async () => {
    const [a, b, pa, pb] = pair({ highWaterMark: 1000, lowWaterMark: 100 });
    b.pauseReading();
    expect(a.send([new Uint8Array(1000)])).toBe(true);
    expect(a.send([new Uint8Array(1)])).toBe(false);
    expect(a.bufferedAmount).toBe(1001);
    await quietPeriod(20);
    expect(pa.drains).toBe(0);
    b.resumeReading();
    await pa.until(() => pa.drains === 1, 'drain');
    expect(a.bufferedAmount).toBe(0);
    expect(pb.bytes).toBe(1001);
  });

  it('gives the peer a ConnectionClosedError when destroyed', async () => {
    const [a, , pa, pb] = pair();
    a.destroy(new Error('local'));
    await Promise.all([pa.closed(), pb.closed()]);
    expect(pb.closes[0]).toBeInstanceOf(ConnectionClosedError);
  });

  it('blackhole stops delivery both ways without closing either end', async () => {
    const [a, b, pa, pb] = pair({ highWaterMark: 1000 });
    a.send([new Uint8Array(10)]);
    a.blackhole();
    b.send([new Uint8Array(10)]);
    a.send([new Uint8Array(10)]);
    await quietPeriod();
    expect(pa.bytes + pb.bytes).toBe(0);
    expect(a.closed || b.closed).toBe(false);
    // Like a dead TCP path: what is sent stays in flight, so pressure builds.
    expect(a.send([new Uint8Array(2000)])).toBe(false);
    // Destroying one end tells the other nothing.
    b.destroy();
    await pb.closed();
    await quietPeriod();
    expect(pa.closes.length).toBe(0);
    a.destroy();
    await pa.closed();
  });

  it('a graceful close over a blackhole gives up after closeTimeout', async () => {
    const [a, , pa, pb] = pair({ closeTimeout: 20 });
    a.blackhole();
    a.close();
    await pa.closed();
    expect(pa.closes).toEqual([undefined]);
    expect(pb.closes.length).toBe(0);
  });

  // Found by the transport hunt: the grace timer destroyed the end without an error, so what the
  // peer's paused reader never took was dropped behind a clean end (TCP reports it, tcp.ts giveUp).
  it('reports a close that timed out with bytes undelivered as a failure, not a clean end', async () => {
    const [a, b, pa, pb] = pair({ closeTimeout: 20 });
    b.pauseReading();
    a.send([new Uint8Array(100)]);
    a.close();
    await Promise.all([pa.closed(), pb.closed()]);
    expect(pa.closes[0]).toBeInstanceOf(ConnectionClosedError);
    expect(pa.closes[0]?.message).toMatch(/did not finish within 20 ms: 100 bytes unsent were dropped/);
    expect(pb.closes[0]).toBeInstanceOf(ConnectionClosedError);
    expect(pb.bytes).toBe(0);
  });

  it('holds the end behind data a paused reader has not taken yet', async () => {
    const [a, b, , pb] = pair();
    b.pauseReading();
    a.send([new Uint8Array(100)]);
    a.close();
    await quietPeriod();
    expect(pb.closes.length).toBe(0);
    b.resumeReading();
    await pb.closed();
    expect(pb.bytes).toBe(100);
  });
});

describe('seededRandom()', () => {
  it('refuses a seed that is no finite number instead of using the default', () => {
    for (const bad of [{}, 'abc', '7', Number.NaN, Number.POSITIVE_INFINITY, null, undefined]) {
      expect(() => seededRandom(bad as number), String(bad)).toThrow(ConfigError);
    }
    expect(() => seededRandom({} as number)).toThrow(
      'seededRandom() seed must be a finite number, got [object Object]',
    );
    // Numbers keep their sequences: the same seed gives the same numbers, another seed others.
    const a = seededRandom(7);
    const b = seededRandom(7);
    const first = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(first);
    expect(seededRandom(8)()).not.toBe(first[0]);
  });
});
