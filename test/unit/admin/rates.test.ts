import { describe, expect, it } from 'vitest';
import { Rate, RateBook, Series, shareTimes } from '../../../src/admin/rates.js';

describe('admin rates', () => {
  it('computes bytes/s from the two newest samples', () => {
    const r = new Rate(10);
    r.sample(0, 1000, 0, 0);
    expect(r.rateIn).toBe(0);
    r.sample(500, 1500, 1000, 500);
    expect(r.rateIn).toBe(2000);
    expect(r.rateOut).toBe(1000);
    r.sample(1500, 2500, 1000, 1500);
    expect(r.rateIn).toBe(0);
    expect(r.rateOut).toBe(1000);
    expect(r.history()).toEqual({ t: [1500, 2500], in: [2000, 0], out: [1000, 1000] });
  });

  it('restarts instead of going negative when a counter resets', () => {
    const r = new Rate(4);
    r.sample(0, 0, 5000, 5000);
    r.sample(1000, 1000, 100, 6000);
    expect(r.rateIn).toBe(0);
    expect(r.rateOut).toBe(1000);
  });

  it('keeps a bounded ring, oldest first', () => {
    const s = new Series(3);
    for (let i = 1; i <= 5; i++) s.push(i, i * 10, i * 100);
    expect(s.toJSON()).toEqual({ t: [3, 4, 5], in: [30, 40, 50], out: [300, 400, 500] });
  });

  it('forgets things a round did not sample', () => {
    const book = new RateBook<string>(4);
    book.begin();
    book.sample('a', 0, 0, 0, 0);
    book.sample('b', 0, 0, 0, 0);
    book.end();
    book.begin();
    book.sample('b', 10, 10, 10, 10);
    book.end();
    expect(book.size).toBe(1);
    expect(book.get('a')).toBeUndefined();
  });

  it('forgets what a round missed even when another key was sampled twice in it', () => {
    const book = new RateBook<string>(4);
    book.begin();
    book.sample('a', 0, 0, 0, 0);
    book.sample('b', 0, 0, 0, 0);
    book.end();
    book.begin();
    book.sample('a', 10, 10, 10, 10);
    book.sample('a', 20, 20, 20, 20);
    book.end();
    expect(book.get('b')).toBeUndefined();
    expect(book.size).toBe(1);
  });

  it('shares the sample times of item histories, keeping them for an item that does not line up', () => {
    const shared = shareTimes({
      a: { t: [1, 2, 3], in: [10, 20, 30], out: [1, 2, 3] },
      b: { t: [2, 3], in: [5, 6], out: [7, 8] },
      c: { t: [], in: [], out: [] },
      odd: { t: [2.5], in: [9], out: [9] },
    });
    expect(shared.itemTimes).toEqual([1, 2, 3]);
    expect(shared.itemHistory).toEqual({
      a: { in: [10, 20, 30], out: [1, 2, 3] },
      b: { in: [5, 6], out: [7, 8] },
      c: { in: [], out: [] },
      odd: { t: [2.5], in: [9], out: [9] },
    });
    expect(shareTimes({})).toEqual({ itemTimes: [], itemHistory: {} });
  });

  it('keeps histories for the first historyItems keys of a round only, and starts one for a key that moves up', () => {
    const book = new RateBook<string>(4, 2);
    const round = (keys: string[], t: number) => {
      book.begin();
      for (const k of keys) book.sample(k, t, t, t, t);
      book.end();
    };
    round(['a', 'b', 'c', 'd'], 0);
    round(['a', 'b', 'c', 'd'], 1000);
    round(['a', 'b', 'c', 'd'], 2000);
    // Every key is rated; only the first two keep a history (10,000 clients kept 10,000).
    expect(book.get('d')!.rateIn).toBe(1000);
    expect(['a', 'b', 'c', 'd'].map((k) => book.get(k)!.series?.size ?? null)).toEqual([2, 2, null, null]);
    expect(book.get('c')!.history()).toEqual({ t: [], in: [], out: [] });
    // 'a' left: 'c' is now second, and its history starts with this round.
    round(['b', 'c', 'd'], 3000);
    expect(book.get('a')).toBeUndefined();
    expect(book.get('c')!.history()).toEqual({ t: [3000], in: [1000], out: [1000] });
    expect(book.get('d')!.series).toBeNull();
  });

  it('stores a point in 16 bytes and reads rates back to the 7 digits of a 32-bit float', () => {
    const s = new Series(60);
    // One buffer behind both arrays: 60 points, 960 bytes (three 64-bit arrays took 1,440).
    const views = Object.values(s).filter((v) => ArrayBuffer.isView(v)) as ArrayBufferView[];
    expect(new Set(views.map((v) => v.buffer)).size).toBe(1);
    expect(views[0].buffer.byteLength).toBe(960);
    s.push(1_700_000_000_123, 1_234_567.89, 0.1);
    const j = s.toJSON();
    expect(j.t).toEqual([1_700_000_000_123]);
    expect(j.in[0]).toBeCloseTo(1_234_567.9, -1);
    expect(j.out).toEqual([0.1]);
  });
});
