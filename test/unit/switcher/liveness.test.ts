import { describe, expect, it } from 'vitest';
import { Liveness } from '../../../src/switcher/liveness.js';
import { Outbox, ReadGate } from '../../../src/switcher/outbox.js';
import { memoryPair } from '../../../src/transport/memory.js';

describe('Liveness (PROTOCOL.md 6.3)', () => {
  it('numbers pings 1, 2, ... and matches answers by id', async () => {
    const l = new Liveness();
    const sent: number[] = [];
    const a = l.start((id) => sent.push(id), 5_000);
    const b = l.start((id) => sent.push(id), 5_000);
    expect(sent).toEqual([1, 2]);
    expect(l.complete(7)).toBe(false);
    expect(l.complete(2)).toBe(true);
    expect(await b).toBe(true);
    expect(l.rtt).toBeGreaterThanOrEqual(0);
    // A second answer to the same id matches nothing (no closed-waiter panic as in Go, 12.2).
    expect(l.complete(2)).toBe(false);
    l.failAll();
    expect(await a).toBe(false);
    expect(l.pending).toBe(0);
  });

  it('takes the round trip of a late answer, which settles nothing more', async () => {
    // On a path slower than the wait, every answer came late: it matched nothing, so the rtt of
    // such a client was never measured, and its answers were counted as dropped frames.
    const rtts: number[] = [];
    const l = new Liveness((ms) => rtts.push(ms));
    const sent: number[] = [];
    expect(await l.start((id) => sent.push(id), 10)).toBe(false);
    expect(l.complete(sent[0])).toBe(true);
    expect(l.rtt).toBeGreaterThanOrEqual(9);
    expect(rtts).toEqual([l.rtt]);
    // Once.
    expect(l.complete(sent[0])).toBe(false);
    expect(rtts).toHaveLength(1);
    // A leave forgets it.
    expect(await l.start((id) => sent.push(id), 10)).toBe(false);
    l.failAll();
    expect(l.complete(sent[1])).toBe(false);
  });

  it('fails a ping nobody answers after the timeout, and wraps ids after 65535', async () => {
    const l = new Liveness();
    expect(await l.start(() => {}, 10)).toBe(false);
    const ids: number[] = [];
    for (let i = 0; i < 0xfffe; i++) void l.start((id) => ids.push(id), 60_000);
    void l.start((id) => ids.push(id), 60_000);
    expect(ids.slice(-2)).toEqual([0xffff, 1]);
    l.failAll();
  });
});

describe('ReadGate and Outbox', () => {
  it('pauses reading while any blocker holds it and resumes after the last', () => {
    const [t] = memoryPair();
    const calls: string[] = [];
    t.pauseReading = () => calls.push('pause');
    t.resumeReading = () => calls.push('resume');
    const g = new ReadGate(t);
    const k1 = {};
    const k2 = {};
    g.block(k1);
    g.block(k2);
    g.block(k1);
    g.unblock(k1);
    expect(g.paused).toBe(true);
    g.unblock(k2);
    g.unblock(k2);
    expect(calls).toEqual(['pause', 'resume']);
    g.block(k1);
    g.shutDown();
    g.block(k2);
    expect([g.paused, g.pauses]).toEqual([false, 2]);
    expect(calls).toEqual(['pause', 'resume', 'pause']);
  });

  it('releases the sources it paused when the destination closes', () => {
    const [dst] = memoryPair();
    const [src] = memoryPair();
    const source = { gate: new ReadGate(src) };
    const box = new Outbox<typeof source>(dst, {
      maxQueuePerSource: 100,
      maxQueuePerClient: 1_000,
      quantum: 1_000,
      maxBatchBytes: 1_000,
      maxControlQueue: 16,
      stallTimeout: 0,
    });
    box.forward(source, new Uint8Array(11), new Uint8Array(200));
    expect(source.gate.paused).toBe(true);
    expect(box.queuedBytes).toBe(211);
    box.close();
    expect(source.gate.paused).toBe(false);
    dst.destroy();
    src.destroy();
  });
});
