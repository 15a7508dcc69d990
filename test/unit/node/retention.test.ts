import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Retention } from '../../../src/node/retention.js';

describe('retention of closed stream addresses', () => {
  let expired: [number, number][];
  let r: Retention;
  beforeEach(() => {
    vi.useFakeTimers();
    expired = [];
    r = new Retention(1_000, (key, port) => expired.push([key, port]));
  });
  afterEach(() => {
    r.stop();
    vi.useRealTimers();
  });

  it('keeps every entry at least the retention time and at most a quarter longer', async () => {
    r.add(1, 1001);
    await vi.advanceTimersByTimeAsync(100);
    r.add(2, -1);
    await vi.advanceTimersByTimeAsync(150);
    r.add(-1 - 1003, 1003);
    expect(r.size).toBe(3);
    expect(r.has(2)).toBe(true);
    // Nothing goes before 1 s after its own add...
    await vi.advanceTimersByTimeAsync(749);
    expect(expired).toEqual([]);
    // ...and each is gone within 1.25 s of it.
    await vi.advanceTimersByTimeAsync(1_250 - 749);
    expect(expired).toContainEqual([1, 1001]);
    await vi.advanceTimersByTimeAsync(100);
    expect(expired).toContainEqual([2, -1]);
    await vi.advanceTimersByTimeAsync(150);
    expect(expired).toEqual([
      [1, 1001],
      [2, -1],
      [-1004, 1003],
    ]);
    expect(r.size).toBe(0);
    expect(r.has(2)).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('gives an entry up at once on delete, with its port, and only once', async () => {
    r.add(7, 1007);
    r.delete(7);
    r.delete(7);
    expect(expired).toEqual([[7, 1007]]);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(expired).toEqual([[7, 1007]]);
  });

  it('keeps entries added by an expiry callback for a full period', async () => {
    const chained = new Retention(1_000, (key) => {
      expired.push([key, -1]);
      if (key === 1) chained.add(2, -1);
    });
    chained.add(1, -1);
    await vi.advanceTimersByTimeAsync(1_250);
    expect(expired).toEqual([[1, -1]]);
    expect(chained.has(2)).toBe(true);
    await vi.advanceTimersByTimeAsync(999);
    expect(chained.has(2)).toBe(true);
    await vi.advanceTimersByTimeAsync(251);
    expect(expired).toEqual([
      [1, -1],
      [2, -1],
    ]);
    chained.stop();
  });

  it('with a retention of 0 releases at once and runs no timer', () => {
    const now = new Retention(0, (key, port) => expired.push([key, port]));
    now.add(3, 1003);
    expect(expired).toEqual([[3, 1003]]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
