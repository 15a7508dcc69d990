import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { ChunkQueue, HandlerSlot, Inbox } from '../../../src/transport/inbox.js';
import { Probe, settleTurns } from './probe.js';

describe('ChunkQueue', () => {
  it('cuts inside one chunk without copying and joins across chunks', () => {
    const q = new ChunkQueue();
    const first = Uint8Array.of(1, 2, 3, 4);
    q.push(first);
    q.push(Uint8Array.of(5, 6));
    q.push(Uint8Array.of(7));
    const a = q.take(2);
    expect([...a]).toEqual([1, 2]);
    expect(a.buffer).toBe(first.buffer);
    expect([...q.take(3)]).toEqual([3, 4, 5]);
    expect(q.bytes).toBe(2);
    expect([...q.take(10)]).toEqual([6, 7]);
    expect(q.length).toBe(0);
    expect(q.bytes).toBe(0);
  });

  it('stays correct across many pushes and shifts (compaction)', () => {
    const q = new ChunkQueue();
    for (let i = 0; i < 5000; i++) q.push(Uint8Array.of(i & 0xff));
    for (let i = 0; i < 4000; i++) expect(q.shift()[0]).toBe(i & 0xff);
    expect(q.length).toBe(1000);
    expect(q.take(1000).length).toBe(1000);
  });
});

describe('HandlerSlot and Inbox', () => {
  it('holds a close that happened before attach and reports it once', async () => {
    const slot = new HandlerSlot();
    const err = new Error('early');
    slot.close(err);
    slot.close(new Error('second'));
    const p = new Probe();
    slot.attach(p);
    expect(() => slot.attach(new Probe())).toThrow(ConfigError);
    await p.closed();
    expect(p.closes).toEqual([err]);
  });

  it('delivers synchronously when it can, queues while paused, and ends after the queue', async () => {
    const slot = new HandlerSlot();
    let ended = 0;
    const inbox = new Inbox(slot, { ended: () => ended++ });
    inbox.push(Uint8Array.of(1));
    const p = new Probe();
    slot.attach(p);
    inbox.kick();
    await p.until(() => p.bytes === 1, 'held data');
    inbox.push(Uint8Array.of(2));
    expect(p.bytes).toBe(2);
    inbox.pause();
    inbox.push(Uint8Array.of(3));
    inbox.end();
    await settleTurns();
    expect(p.bytes).toBe(2);
    inbox.resume();
    await p.until(() => p.bytes === 3, 'data after resume');
    await settleTurns();
    expect(ended).toBe(1);
    inbox.push(Uint8Array.of(4));
    await settleTurns();
    expect(p.bytes).toBe(3);
  });

  it('yields to the event loop after a large backlog instead of delivering it in one turn', async () => {
    const slot = new HandlerSlot();
    const inbox = new Inbox(slot, { async: true, ended: () => {} });
    const p = new Probe();
    slot.attach(p);
    for (let i = 0; i < 64; i++) inbox.push(new Uint8Array(64 * 1024));
    let timerRan = false;
    setTimeout(() => {
      timerRan = true;
    }, 0);
    await p.until(() => p.bytes === 64 * 64 * 1024, 'backlog');
    expect(timerRan).toBe(true);
  });
});
