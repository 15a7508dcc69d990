import { describe, expect, it } from 'vitest';
import { PortPool } from '../../../src/node/ports.js';

describe('port pool', () => {
  it('hands out numbers in order, then the least recently released first', () => {
    const pool = new PortPool(1, 3);
    expect([pool.take(), pool.take(), pool.take(), pool.take()]).toEqual([1, 2, 3, -1]);
    pool.release(1);
    pool.release(3);
    expect([pool.take(), pool.take(), pool.take()]).toEqual([1, 3, -1]);
    expect(pool.inUse).toBe(3);
  });

  it('gives a port back only after every other free one (a late ACK of its last dial meets no new one)', () => {
    const pool = new PortPool(1000, 1009);
    for (let i = 0; i < 10; i++) pool.take();
    for (let p = 1000; p <= 1009; p++) pool.release(p);
    // The port of a dial given up, back from its quarantine last.
    const given = pool.take();
    pool.release(given);
    const next: number[] = [];
    for (let i = 0; i < 9; i++) next.push(pool.take());
    expect(next).not.toContain(given);
    expect(pool.take()).toBe(given);
  });

  it('keeps a number skipped while busy for later takes', () => {
    const pool = new PortPool(1, 3);
    let busy = true;
    const skip = (n: number): boolean => busy && n === 2;
    // 2 is listened on while the sequential sweep passes it...
    expect([pool.take(skip), pool.take(skip), pool.take(skip)]).toEqual([1, 3, -1]);
    // ...and is free once the listener is gone: it was never handed out.
    busy = false;
    expect(pool.take(skip)).toBe(2);
    expect(pool.take(skip)).toBe(-1);
  });

  it('offers a skipped number in line behind those released before it was skipped', () => {
    const pool = new PortPool(1, 4);
    const busy = new Set([3]);
    const skip = (n: number): boolean => busy.has(n);
    expect([pool.take(skip), pool.take(skip)]).toEqual([1, 2]);
    pool.release(1);
    // 3 is listened on as the sweep passes it: in line behind 1.
    expect(pool.take(skip)).toBe(4);
    pool.release(2);
    expect(pool.take(skip)).toBe(1);
    // Still busy: passed over, and back in line behind 2.
    expect(pool.take(skip)).toBe(2);
    busy.clear();
    expect(pool.take(skip)).toBe(3);
    expect(pool.take(skip)).toBe(-1);
  });
});
