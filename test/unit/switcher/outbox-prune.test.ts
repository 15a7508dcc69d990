import { describe, expect, it } from 'vitest';
import { switcherDefaults } from '../../../src/switcher/config.js';
import { Outbox, ReadGate } from '../../../src/switcher/outbox.js';
import { memoryPair } from '../../../src/transport/memory.js';
import type { Transport } from '../../../src/transport/types.js';

/**
 * A transport that takes nothing until `open()`: whatever is forwarded to it before waits in the
 * outbox. Every batch it is sent goes to `onSend`.
 */
function gatedTransport(onSend: (parts: readonly Uint8Array[]) => void): { t: Transport; open(): void } {
  let full = true;
  const t: Transport = {
    framing: 'stream',
    remoteAddress: 'test',
    bufferedAmount: 0,
    closed: false,
    attach: () => {},
    send: (parts) => {
      onSend(parts);
      return !full;
    },
    pauseReading: () => {},
    resumeReading: () => {},
    close: () => {},
    destroy: () => {},
  };
  return {
    t,
    open: () => {
      full = false;
    },
  };
}

describe('switcher outbox', () => {
  it('forgets the queues of sources that have nothing waiting, so memory follows live pairs only', async () => {
    const [a, b] = memoryPair();
    b.attach({ data: () => {}, drain: () => {}, close: () => {} });
    const outbox = new Outbox(a, switcherDefaults);
    const h = new Uint8Array(11);
    for (let round = 0; round < 5; round++) {
      // 200 new sources each round, one frame each, all written out before the next round
      for (let i = 0; i < 200; i++) outbox.forward({ gate: new ReadGate(a) }, h, new Uint8Array(10));
      outbox.scheduler.flush();
      expect(outbox.queuedBytes).toBe(0);
    }
    // without pruning this would be 1,000
    expect(outbox.sources).toBeLessThanOrEqual(400);
    outbox.close();
    a.destroy();
  });

  it('copies a small payload that must wait, even a Node.js Buffer view (whose slice() is no copy)', () => {
    const written: Uint8Array[][] = [];
    const { t, open } = gatedTransport((parts) => written.push([...parts]));
    const outbox = new Outbox(t, switcherDefaults);
    const src = { gate: new ReadGate(t) };
    outbox.forward(src, new Uint8Array(11), new Uint8Array(10));
    outbox.scheduler.flush(); // the link is full from now on
    expect(outbox.scheduler.isBlocked).toBe(true);
    // What a TCP read hands the decoder: a 64 kB Buffer; the frame's payload is one byte of it.
    const read = Buffer.alloc(64 * 1024, 7);
    outbox.forward(src, new Uint8Array(11), read.subarray(100, 101));
    open();
    outbox.scheduler.drain();
    outbox.scheduler.flush();
    const payload = written[1]![1]!;
    expect([...payload]).toEqual([7]);
    expect(payload.buffer.byteLength).toBeLessThan(1024);
    outbox.close();
  });

  it('requeue drops and reorders what a source has queued, and the counts follow', () => {
    const written: number[] = [];
    const { t, open } = gatedTransport((parts) => {
      for (const p of parts) if (p.length === 11) written.push(p[0]!);
    });
    const outbox = new Outbox(t, { ...switcherDefaults, maxQueuePerSource: 100 });
    const src = { gate: new ReadGate(t) };
    const h = (cmd: number): Uint8Array => new Uint8Array(11).fill(cmd, 0, 1);
    outbox.forward(src, h(1), new Uint8Array(0));
    outbox.scheduler.flush(); // the link is full from now on
    for (const cmd of [2, 3, 4]) outbox.forward(src, h(cmd), new Uint8Array(50));
    expect(src.gate.paused).toBe(true);
    expect(outbox.queuedBytes).toBe(3 * 61);
    // Drop 3, put a new frame 9 ahead of the rest.
    outbox.requeue(src, (frames) => {
      expect(frames.map((f) => f.header[0])).toEqual([2, 3, 4]);
      const nine = { header: h(9), payload: new Uint8Array(0), rest: null, size: 0 };
      return [nine, frames[0]!, frames[2]!];
    });
    expect(outbox.queuedBytes).toBe(11 + 2 * 61);
    expect(outbox.framesOut).toBe(5);
    // Still above the low-water mark (each frame counts 256 bytes more): held until they go.
    expect(outbox.held).toBe(1);
    open();
    outbox.scheduler.drain();
    outbox.scheduler.flush();
    expect(written).toEqual([1, 9, 2, 4]);
    expect(outbox.queuedBytes).toBe(0);
    expect(outbox.held).toBe(0);
    outbox.close();
  });

  it('keeps the emptied queue of a source paused on its total, through which that source is released', async () => {
    const { t } = gatedTransport(() => {});
    const forgotten: object[] = [];
    const limits = { ...switcherDefaults, maxQueuePerClient: 2000 };
    const outbox = new Outbox<{ gate: ReadGate }>(t, limits, undefined, undefined, (s) => forgotten.push(s));
    const [a, b] = [{ gate: new ReadGate(t) }, { gate: new ReadGate(t) }];
    const h = new Uint8Array(11);
    outbox.forward(b, h, new Uint8Array(10));
    outbox.scheduler.flush(); // the link is full from now on
    // Each frame counts 21 bytes and FRAME_COST: both sources go over the total of 2,000.
    for (let i = 0; i < 8; i++) outbox.forward(a, h, new Uint8Array(10));
    for (let i = 0; i < 8; i++) outbox.forward(b, h, new Uint8Array(10));
    expect([a.gate.paused, b.gate.paused, outbox.held]).toEqual([true, true, 2]);
    // a's frames are dropped (as at a leave's requeue): its queue is empty, b's still over half.
    outbox.requeue(a, () => []);
    outbox.trimSoon();
    await new Promise<void>((r) => setImmediate(r));
    // Forgotten, a's owner would no longer call forget(a) at its leave, and the pause it counts
    // stayed until the client wrote enough of b's frames.
    expect(forgotten).toEqual([]);
    outbox.forget(a);
    expect(outbox.held).toBe(1);
    outbox.close();
  });
});
