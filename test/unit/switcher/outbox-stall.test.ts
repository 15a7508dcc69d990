import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Outbox, ReadGate } from '../../../src/switcher/outbox.js';
import type { Transport, TransportHandlers } from '../../../src/transport/types.js';

/**
 * A client that holds others back (their queues towards it over the bound, so their reading is
 * paused) is paused itself, and reported stalled once it has taken no byte for `stallTimeout`:
 * slow is not stalled. The transport here takes what it is given only when the test says so.
 */

class StuckTransport implements Transport {
  readonly framing = 'stream' as const;
  readonly remoteAddress = 'test';
  readonly bufferedAmount = 0;
  closed = false;
  paused = false;
  /** Whether the next send is taken in at once (true) or makes the writer wait (false). */
  open = false;
  sent = 0;
  attach(_h: TransportHandlers): void {}
  send(parts: readonly Uint8Array[]): boolean {
    for (const p of parts) this.sent += p.length;
    return this.open;
  }
  pauseReading(): void {
    this.paused = true;
  }
  resumeReading(): void {
    this.paused = false;
  }
  close(): void {}
  destroy(): void {}
}

const limits = {
  maxQueuePerSource: 1_000,
  maxQueuePerClient: 1_000_000,
  quantum: 64 * 1024,
  maxBatchBytes: 1_000,
  maxControlQueue: 16,
  stallTimeout: 1_000,
};

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function setUp() {
  const dst = new StuckTransport();
  const own = new ReadGate(dst);
  const src = new StuckTransport();
  const source = { gate: new ReadGate(src) };
  const stalls: number[] = [];
  const box = new Outbox<typeof source>(dst, limits, own, (held) => stalls.push(held));
  /** Queues frames from the source until the source is paused, as a flood would. */
  const flood = async (): Promise<void> => {
    for (let i = 0; i < 100 && !source.gate.paused; i++) {
      box.forward(source, new Uint8Array(11), new Uint8Array(500));
      await Promise.resolve(); // the scheduler flushes in a microtask
    }
  };
  return { dst, own, src, source, box, stalls, flood };
}

describe('outbox: clients that hold others back', () => {
  it('pauses the client itself and reports it stalled after stallTimeout without progress', async () => {
    const { src, dst, box, stalls, flood } = setUp();
    await flood();
    expect(src.paused).toBe(true);
    expect(box.held).toBe(1);
    // While it holds the source back, its own reading is paused too.
    expect(dst.paused).toBe(true);
    vi.advanceTimersByTime(999);
    expect(stalls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(stalls).toEqual([1]);
    box.close();
    expect(src.paused).toBe(false);
  });

  it('does not report a slow client that keeps taking bytes, and lets it read once it caught up', async () => {
    const { src, dst, box, source, stalls, flood } = setUp();
    await flood();
    for (let round = 0; round < 5; round++) {
      // The source keeps sending; within each stall period the client takes one batch.
      box.forward(source, new Uint8Array(11), new Uint8Array(500));
      box.forward(source, new Uint8Array(11), new Uint8Array(500));
      vi.advanceTimersByTime(400);
      const before = dst.sent;
      box.scheduler.drain();
      await Promise.resolve();
      expect(dst.sent).toBeGreaterThan(before);
      expect(box.held).toBe(1);
    }
    vi.advanceTimersByTime(400);
    expect(stalls).toEqual([]);
    dst.open = true;
    box.scheduler.drain();
    await Promise.resolve();
    expect(box.held).toBe(0);
    expect([src.paused, dst.paused]).toEqual([false, false]);
    vi.advanceTimersByTime(5_000);
    expect(stalls).toEqual([]);
  });

  it('a source that leaves no longer counts as held back', async () => {
    const { dst, box, source, stalls, flood } = setUp();
    await flood();
    expect(dst.paused).toBe(true);
    box.forget(source);
    expect(box.held).toBe(0);
    expect(dst.paused).toBe(false);
    vi.advanceTimersByTime(5_000);
    expect(stalls).toEqual([]);
  });
});
