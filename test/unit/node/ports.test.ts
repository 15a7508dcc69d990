import { describe, expect, it } from 'vitest';
import { PortPool } from '../../../src/node/ports.js';

describe('port pool', () => {
  it('hands out numbers in order, then the most recently released first', () => {
    const pool = new PortPool(1, 3);
    expect([pool.take(), pool.take(), pool.take(), pool.take()]).toEqual([1, 2, 3, -1]);
    pool.release(1);
    pool.release(3);
    expect([pool.take(), pool.take(), pool.take()]).toEqual([3, 1, -1]);
    expect(pool.inUse).toBe(3);
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

  it('offers a skipped number only after those released', () => {
    const pool = new PortPool(1, 3);
    const skip = (n: number): boolean => n === 1;
    expect(pool.take(skip)).toBe(2);
    expect(pool.take(skip)).toBe(3);
    pool.release(2);
    expect(pool.take()).toBe(2);
    expect(pool.take()).toBe(1);
  });
});
