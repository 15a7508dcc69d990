import { afterEach, describe, expect, it, vi } from 'vitest';
import { Deque } from '../../../src/util/deque.js';
import { IDLE_MS, Slabs } from '../../../src/util/slabs.js';

const KIB = 1024;

afterEach(() => {
  vi.useRealTimers();
});

function bytes(n: number, v: number): Uint8Array {
  return new Uint8Array(n).fill(v);
}

function views(out: Deque<Uint8Array>): Uint8Array[] {
  const all = [...out];
  out.clear();
  return all;
}

describe('Slabs', () => {
  it('allocates nothing before the first copy', () => {
    const s = new Slabs(256 * KIB, 64 * KIB);
    expect(s.allocated).toBe(0);
    expect(s.maxSlabs).toBe(4);
  });

  it('copies a chunk into slab space: the copy does not follow later changes to the chunk', () => {
    const s = new Slabs(256 * KIB, 64 * KIB);
    const out = new Deque<Uint8Array>();
    const chunk = bytes(16 * KIB, 1);
    expect(s.copy(chunk, out)).toBe(true);
    chunk.fill(2);
    const [v] = views(out);
    expect(v!.length).toBe(16 * KIB);
    expect(v!.every((b) => b === 1)).toBe(true);
    expect(v!.buffer).not.toBe(chunk.buffer);
    expect(s.held).toBe(16 * KIB);
    expect(s.allocated).toBe(64 * KIB);
  });

  it('splits a chunk across slabs, in order', () => {
    const s = new Slabs(128 * KIB, 64 * KIB);
    const out = new Deque<Uint8Array>();
    expect(s.copy(bytes(48 * KIB, 1), out)).toBe(true);
    const chunk = new Uint8Array(32 * KIB);
    for (let i = 0; i < chunk.length; i++) chunk[i] = i & 0xff;
    expect(s.copy(chunk, out)).toBe(true);
    const [, a, b] = views(out);
    expect(a!.length).toBe(16 * KIB);
    expect(b!.length).toBe(16 * KIB);
    expect(a!.buffer).not.toBe(b!.buffer);
    const joined = new Uint8Array(32 * KIB);
    joined.set(a!, 0);
    joined.set(b!, 16 * KIB);
    expect(joined).toEqual(chunk);
  });

  it('is bounded: a chunk that does not fit the free space is refused, nothing taken', () => {
    const s = new Slabs(128 * KIB, 64 * KIB);
    const out = new Deque<Uint8Array>();
    expect(s.copy(bytes(100 * KIB, 1), out)).toBe(true);
    expect(s.copy(bytes(32 * KIB, 2), out)).toBe(false);
    expect(s.copy(bytes(28 * KIB, 2), out)).toBe(true);
    expect(s.copy(bytes(16 * KIB, 3), out)).toBe(false);
    expect(s.allocated).toBe(128 * KIB);
    expect(s.held).toBe(128 * KIB);
    // Larger than the whole budget: never.
    expect(new Slabs(64 * KIB).copy(bytes(65 * KIB, 1), out)).toBe(false);
  });

  it('reuses a slab once the transport has released every byte carved from it', () => {
    const s = new Slabs(128 * KIB, 64 * KIB);
    const out = new Deque<Uint8Array>();
    s.copy(bytes(64 * KIB, 1), out);
    s.copy(bytes(64 * KIB, 2), out);
    const [first, second] = views(out);
    // Sent in two sends: the first half of slab 0 and the rest (slab 0's second half, slab 1).
    expect(s.sent([first!.subarray(0, 32 * KIB)])).toBe(true);
    expect(s.sent([new Uint8Array(11), first!.subarray(32 * KIB), second!])).toBe(true);
    // A send without slab bytes records nothing.
    expect(s.sent([new Uint8Array(11), bytes(20, 0)])).toBe(false);
    expect(s.copy(bytes(16 * KIB, 3), out)).toBe(false);
    s.released();
    // Half of slab 0 released: still held in part, so not reused.
    expect(s.copy(bytes(16 * KIB, 3), out)).toBe(false);
    s.released();
    expect(s.held).toBe(0);
    expect(s.copy(bytes(16 * KIB, 3), out)).toBe(true);
    const [again] = views(out);
    // Same memory, no new allocation.
    expect([first!.buffer, second!.buffer]).toContain(again!.buffer);
    expect(s.allocated).toBe(128 * KIB);
  });

  it('frees what is dropped unsent, from an offset for a view partly sent', () => {
    const s = new Slabs(64 * KIB, 64 * KIB);
    const out = new Deque<Uint8Array>();
    s.copy(bytes(64 * KIB, 1), out);
    const [v] = views(out);
    s.sent([v!.subarray(0, 10 * KIB)]);
    s.free(v!, 10 * KIB);
    expect(s.held).toBe(10 * KIB);
    s.free(bytes(100, 0));
    expect(s.held).toBe(10 * KIB);
    s.released();
    expect(s.held).toBe(0);
  });

  it('drops its slabs once idle, and allocates again on the next copy', () => {
    vi.useFakeTimers();
    const s = new Slabs(128 * KIB, 64 * KIB);
    const out = new Deque<Uint8Array>();
    s.copy(bytes(32 * KIB, 1), out);
    const [v] = views(out);
    vi.advanceTimersByTime(IDLE_MS * 3);
    // Still held: kept.
    expect(s.allocated).toBe(64 * KIB);
    s.free(v!);
    s.copy(bytes(32 * KIB, 1), out);
    s.freeAll(views(out));
    vi.advanceTimersByTime(IDLE_MS);
    // Carved within the last period: kept one more.
    expect(s.allocated).toBe(64 * KIB);
    vi.advanceTimersByTime(IDLE_MS);
    expect(s.allocated).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(s.copy(bytes(32 * KIB, 1), out)).toBe(true);
    expect(s.allocated).toBe(64 * KIB);
  });

  it('splits its budget evenly: it never holds more than the budget', () => {
    const s = new Slabs(300 * KIB);
    expect(s.maxSlabs).toBe(2);
    expect(s.slabSize).toBe(150 * KIB);
    const out = new Deque<Uint8Array>();
    expect(s.copy(bytes(300 * KIB, 1), out)).toBe(true);
    expect(s.copy(bytes(1, 1), out)).toBe(false);
    expect(s.allocated).toBe(300 * KIB);
    expect(new Slabs(2 * 1024 * KIB).slabSize).toBe(256 * KIB);
  });

  it('copies nothing after dispose, and a budget of 0 never copies', () => {
    const s = new Slabs(64 * KIB);
    const out = new Deque<Uint8Array>();
    s.copy(bytes(16 * KIB, 1), out);
    s.dispose();
    expect(s.allocated).toBe(0);
    expect(s.copy(bytes(16 * KIB, 1), out)).toBe(false);
    expect(new Slabs(0).copy(bytes(16 * KIB, 1), out)).toBe(false);
  });
});
