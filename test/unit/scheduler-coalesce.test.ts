import { describe, expect, it } from 'vitest';
import { Scheduler, type SchedulerSink, StreamQueue } from '../../src/scheduler.js';

/** Records each send's parts; `coalesce` and `framing` as given. */
function sink(coalesce: boolean | undefined, framing: 'stream' | 'message' = 'stream') {
  const sends: Uint8Array[][] = [];
  const s: SchedulerSink & { sends: Uint8Array[][] } = {
    framing,
    coalesce,
    sends,
    send(parts) {
      sends.push([...parts]);
      return true;
    },
  };
  return s;
}

function manual(s: SchedulerSink, maxBatchBytes = 256 * 1024): Scheduler {
  return new Scheduler(s, { quantum: 64 * 1024, maxBatchBytes, maxControlQueue: 1024, schedule: () => {} });
}

/** An 11-byte stand-in header whose bytes say which frame it starts. */
function hdr(tag: number): Uint8Array {
  return new Uint8Array(11).fill(tag);
}

function bytesOf(parts: readonly Uint8Array[]): number[] {
  return parts.flatMap((p) => [...p]);
}

describe('scheduler: short batches copied into one part', () => {
  it('joins control frames and short frames of several streams into one buffer, in order', () => {
    const out = sink(true);
    const s = manual(out);
    const a = new StreamQueue();
    const b = new StreamQueue();
    s.pushOrdered(a, hdr(1), new Uint8Array(16).fill(0xa1));
    s.pushOrdered(b, hdr(2), new Uint8Array(5).fill(0xb2));
    s.pushControl(hdr(3), new Uint8Array(4).fill(0xc3));
    s.pushOrdered(a, hdr(4));
    s.flush();
    expect(out.sends).toHaveLength(1);
    const [parts] = out.sends;
    expect(parts).toHaveLength(1);
    // control first, then the streams in round-robin order, each stream's frames in order
    const want = [
      ...hdr(3),
      ...new Uint8Array(4).fill(0xc3),
      ...hdr(1),
      ...new Uint8Array(16).fill(0xa1),
      ...hdr(4),
      ...hdr(2),
      ...new Uint8Array(5).fill(0xb2),
    ];
    expect([...parts![0]!]).toEqual(want);
  });

  it('sends control frames and data in one write, not one each', () => {
    for (const coalesce of [true, false]) {
      const out = sink(coalesce);
      const s = manual(out);
      s.pushControl(hdr(1));
      s.pushOrdered(new StreamQueue(), hdr(2), new Uint8Array(3));
      s.flush();
      expect(out.sends).toHaveLength(1);
      expect(bytesOf(out.sends[0]!)).toHaveLength(11 + 11 + 3);
    }
  });

  it('keeps a long payload as the caller\u2019s view, and the batch as parts', () => {
    const out = sink(true);
    const s = manual(out);
    const big = new Uint8Array(4096).fill(9);
    s.pushOrdered(new StreamQueue(), hdr(1), new Uint8Array(8));
    s.pushOrdered(new StreamQueue(), hdr(2), big);
    s.flush();
    expect(out.sends).toHaveLength(1);
    expect(out.sends[0]!.length).toBeGreaterThan(1);
    expect(out.sends[0]!.includes(big)).toBe(true);
  });

  it('leaves a batch over 16 KiB of short frames as parts', () => {
    const out = sink(true);
    const s = manual(out);
    const q = new StreamQueue();
    // 20 frames of 11 + 1000 bytes: ~20 KiB, each part short
    for (let i = 0; i < 20; i++) s.pushOrdered(q, hdr(i), new Uint8Array(1000));
    s.flush();
    expect(out.sends).toHaveLength(1);
    expect(out.sends[0]).toHaveLength(40);
  });

  it('copies nothing for a sink that did not ask, nor under message framing', () => {
    for (const out of [sink(undefined), sink(false), sink(true, 'message')]) {
      const s = manual(out);
      const q = new StreamQueue();
      const h = hdr(1);
      const p = new Uint8Array(7);
      s.pushOrdered(q, h, p);
      s.flush();
      expect(out.sends).toEqual([[h, p]]);
      expect(out.sends[0]![0]).toBe(h);
    }
  });
});
