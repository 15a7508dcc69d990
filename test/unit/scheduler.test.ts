import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type QueuedFrame, Scheduler, type SchedulerSink, StreamQueue } from '../../src/scheduler.js';
import { Deque } from '../../src/util/deque.js';

const KIB = 1024;
afterEach(() => {
  vi.useRealTimers();
});

/** A sink that records what was written, frame by frame, and can refuse to take more. */
class RecordingSink implements SchedulerSink {
  readonly framing: 'stream' | 'message';
  /** One entry per frame: the owner tag found in the header's first byte. */
  readonly frames: { tag: number; bytes: number }[] = [];
  accept = true;
  sends = 0;
  constructor(framing: 'stream' | 'message' = 'stream') {
    this.framing = framing;
  }
  send(parts: readonly Uint8Array[]): boolean {
    this.sends++;
    for (const p of parts) {
      // headers carry the tag; payloads follow their header
      if (headers.has(p)) this.frames.push({ tag: p[0]!, bytes: 11 });
      else this.frames[this.frames.length - 1]!.bytes += p.length;
    }
    return this.accept;
  }
}

const headers = new WeakSet<Uint8Array>();

function header(tag: number): Uint8Array {
  const h = new Uint8Array(11);
  h[0] = tag;
  headers.add(h);
  return h;
}

function manual(sink: SchedulerSink, quantum: number, maxBatchBytes = 1 << 20): Scheduler {
  return new Scheduler(sink, { quantum, maxBatchBytes, maxControlQueue: 1024, schedule: () => {} });
}

function jain(xs: number[]): number {
  const sum = xs.reduce((a, b) => a + b, 0);
  const sq = xs.reduce((a, b) => a + b * b, 0);
  return sq === 0 ? 1 : (sum * sum) / (xs.length * sq);
}

describe('scheduler', () => {
  it('shares the link equally: 12 streams x 192 x 1 KiB', () => {
    const sink = new RecordingSink();
    const quantum = 4 * KIB;
    const s = manual(sink, quantum);
    const queues = Array.from({ length: 12 }, () => new StreamQueue());
    for (let i = 0; i < 192; i++) {
      queues.forEach((q, k) => {
        s.pushOrdered(q, header(k + 1), new Uint8Array(KIB));
      });
    }
    s.flush();
    const tags = sink.frames.map((f) => f.tag);
    expect(tags.length).toBe(12 * 192);
    const counts = new Array(12).fill(0);
    for (const t of tags) counts[t - 1]++;
    expect(new Set(counts)).toEqual(new Set([192]));
    // windowed Jain index: every window of 48 frames shares evenly
    const window = 48;
    let worst = 1;
    for (let i = 0; i + window <= tags.length; i += 12) {
      const c = new Array(12).fill(0);
      for (const t of tags.slice(i, i + window)) c[t - 1]++;
      worst = Math.min(worst, jain(c));
    }
    expect(worst).toBeGreaterThanOrEqual(0.95);
    // the longest run of one stream is bounded by the quantum
    let run = 1;
    let longest = 1;
    for (let i = 1; i < tags.length; i++) {
      run = tags[i] === tags[i - 1] ? run + 1 : 1;
      longest = Math.max(longest, run);
    }
    expect(longest).toBeLessThanOrEqual(quantum / KIB);
  });

  it('puts control frames ahead of every queued data frame', () => {
    const sink = new RecordingSink();
    sink.accept = false; // every send blocks until drain
    const s = manual(sink, 8 * KIB, 8 * KIB);
    const q = new StreamQueue();
    for (let i = 0; i < 64; i++) s.pushOrdered(q, header(1), new Uint8Array(4 * KIB));
    s.flush();
    const before = sink.frames.length;
    s.pushControl(header(99));
    s.drain();
    s.flush();
    expect(sink.frames[before]!.tag).toBe(99);
  });

  it('a saturating stream cannot starve a small one', () => {
    const sink = new RecordingSink();
    sink.accept = false;
    const quantum = 16 * KIB;
    const s = manual(sink, quantum, quantum);
    const bulk = new StreamQueue();
    for (let i = 0; i < 1000; i++) s.pushOrdered(bulk, header(1), new Uint8Array(16 * KIB));
    s.flush();
    const small = new StreamQueue();
    const mark = sink.frames.length;
    s.pushOrdered(small, header(2), new Uint8Array(10));
    for (let round = 0; round < 4 && !sink.frames.slice(mark).some((f) => f.tag === 2); round++) {
      s.drain();
      s.flush();
    }
    const after = sink.frames.slice(mark);
    const at = after.findIndex((f) => f.tag === 2);
    expect(at).toBeGreaterThanOrEqual(0);
    const bulkBytesBefore = after.slice(0, at).reduce((n, f) => n + f.bytes, 0);
    expect(bulkBytesBefore).toBeLessThanOrEqual(quantum + 11);
  });

  it('keeps per-stream order and loses nothing for random workloads', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 70_000 })), {
          maxLength: 200,
        }),
        fc.integer({ min: 1, max: 65_536 }),
        fc.constantFrom<'stream' | 'message'>('stream', 'message'),
        (ops, quantum, framing) => {
          const seen: number[][] = [[], [], [], [], [], []];
          const sink: SchedulerSink = {
            framing,
            send(parts) {
              for (const p of parts) if (headers.has(p)) seen[p[0]!]!.push((p[1]! << 8) | p[2]!);
              return true;
            },
          };
          const s = manual(sink, quantum, 64 * KIB);
          const qs = Array.from({ length: 6 }, () => new StreamQueue());
          const sent: number[][] = [[], [], [], [], [], []];
          ops.forEach(([k, size], seq) => {
            const h = header(k);
            h[1] = seq >> 8;
            h[2] = seq & 0xff;
            s.pushOrdered(qs[k]!, h, new Uint8Array(Math.min(size, 65_535)));
            sent[k]!.push(seq);
          });
          s.flush();
          expect(seen).toEqual(sent);
        },
      ),
      { numRuns: 200 },
    );
  });

  // Deficit round robin adds one quantum per visit, so with frames larger than the quantum
  // every ready stream used to be visited frame/quantum times before any could send: 64 KiB
  // frames and the smallest valid quantum (1) made 65,535 rounds over all streams per frame (with
  // 200 streams a flush blocked the event loop for about 0.2 s, and it grows with the streams).
  it('a frame larger than the quantum costs no empty rounds: quantum 1, 64 KiB frames', () => {
    /** Counts the scheduler's visits: each looks at the stream's next frame. */
    class Counting extends Deque<QueuedFrame> {
      peeks = 0;
      override peek(): QueuedFrame | undefined {
        this.peeks++;
        return super.peek();
      }
    }
    const sink = new RecordingSink();
    const s = manual(sink, 1);
    const queues: Counting[] = [];
    for (let k = 0; k < 50; k++) {
      const q = new StreamQueue();
      const items = new Counting(2);
      q.items = items;
      queues.push(items);
      s.pushOrdered(q, header(k + 1), new Uint8Array(65_535));
      s.pushOrdered(q, header(k + 1), new Uint8Array(65_535 - k));
    }
    s.flush();
    // The order deficit round robin gives: one frame each per round; in the second round the
    // streams with shorter frames reach them first.
    const tags = sink.frames.map((f) => f.tag);
    const first = Array.from({ length: 50 }, (_, k) => k + 1);
    expect(tags).toEqual([...first, ...first.slice().reverse()]);
    // At most a round over the streams per frame sent (there were 13 million visits).
    const visits = queues.reduce((n, q) => n + q.peeks, 0);
    expect(visits).toBeLessThan(100 * 50);
  });

  it('sends frames in the order of deficit round robin, whatever the quantum and frame sizes', () => {
    /** Plain DRR: one quantum per visit, a turn while the next frame fits, then the next stream. */
    function reference(ops: [number, number][], quantum: number): number[] {
      const queues = new Map<number, { seq: number; size: number }[]>();
      ops.forEach(([k, size], seq) => {
        if (!queues.has(k)) queues.set(k, []);
        queues.get(k)!.push({ seq, size });
      });
      const ready = [...queues.keys()];
      const deficit = new Map<number, number>(ready.map((k) => [k, 0]));
      const out: number[] = [];
      while (ready.length > 0) {
        const k = ready.shift()!;
        const q = queues.get(k)!;
        let d = deficit.get(k)! + quantum;
        while (q.length > 0 && q[0]!.size <= d) {
          d -= q[0]!.size;
          out.push(q.shift()!.seq);
        }
        deficit.set(k, q.length > 0 ? d : 0);
        if (q.length > 0) ready.push(k);
      }
      return out;
    }
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 65_535 })), {
          maxLength: 60,
        }),
        fc.integer({ min: 256, max: 70_000 }),
        fc.constantFrom<'stream' | 'message'>('stream', 'message'),
        fc.integer({ min: 1, max: 256 * KIB }),
        (ops, quantum, framing, maxBatch) => {
          const seen: number[] = [];
          const sink: SchedulerSink = {
            framing,
            send(parts) {
              for (const p of parts) if (headers.has(p)) seen.push((p[1]! << 8) | p[2]!);
              return true;
            },
          };
          const s = manual(sink, quantum, maxBatch);
          const qs = Array.from({ length: 6 }, () => new StreamQueue());
          ops.forEach(([k, size], seq) => {
            const h = header(k);
            h[1] = seq >> 8;
            h[2] = seq & 0xff;
            s.pushOrdered(qs[k]!, h, new Uint8Array(size));
          });
          s.flush();
          expect(seen).toEqual(reference(ops, quantum));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses control frames beyond its bound with a LimitError', () => {
    const sink = new RecordingSink();
    const s = new Scheduler(sink, {
      quantum: 1024,
      maxBatchBytes: 1024,
      maxControlQueue: 16,
      schedule: () => {},
    });
    // A sink that takes what it is given: a full queue goes to it before the bound is judged.
    for (let i = 0; i < 16; i++) s.pushControl(header(1));
    expect(s.pushControl(header(1))).toBe(true);
    expect(sink.frames).toHaveLength(16);
    expect(s.controlLength).toBe(1);
    // One that takes no more (its send said so, and no drain came): the bound holds.
    sink.accept = false;
    s.flush();
    expect(s.isBlocked).toBe(true);
    for (let i = 0; i < 16; i++) s.pushControl(header(1));
    expect(() => s.pushControl(header(1))).toThrow(expect.objectContaining({ code: 'FLEX_ERR_LIMIT' }));
  });
});

describe('scheduler: sparse traffic (sharedInflight)', () => {
  it('tells other streams that a short writer shares the link, for `hold` ms on its clock', () => {
    let now = 1_000;
    const s = new Scheduler(new RecordingSink(), {
      quantum: KIB,
      maxBatchBytes: 1 << 20,
      maxControlQueue: 16,
      schedule: () => {},
      clock: () => now,
    });
    const ping = new StreamQueue();
    const bulk = new StreamQueue();
    const other = new StreamQueue();
    expect(s.sharedWithSparse(bulk, 200)).toBe(false);
    s.noteSparse(ping);
    expect(s.sharedWithSparse(bulk, 200)).toBe(true);
    expect(s.sharedWithSparse(other, 200)).toBe(true);
    // The short writer itself is never held back by its own writes.
    expect(s.sharedWithSparse(ping, 200)).toBe(false);
    now += 199;
    expect(s.sharedWithSparse(bulk, 200)).toBe(true);
    now += 1;
    expect(s.sharedWithSparse(bulk, 200)).toBe(false);
    // A later short write by another stream renews the hold and moves the exemption.
    s.noteSparse(other);
    expect(s.sharedWithSparse(ping, 200)).toBe(true);
    expect(s.sharedWithSparse(other, 200)).toBe(false);
  });

  it('times the hold with the monotonic clock by default: a wall-clock step back does not extend it', () => {
    // An NTP step or a resumed VM sets Date.now() back; performance runs on. Timed by the wall
    // clock, the hold lasted as long as the step, bulk streams held to sharedInflight all along.
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    const s = manual(new RecordingSink(), KIB);
    const ping = new StreamQueue();
    const bulk = new StreamQueue();
    s.noteSparse(ping);
    vi.setSystemTime(Date.now() - 3_600_000);
    vi.advanceTimersByTime(200);
    expect(s.sharedWithSparse(bulk, 200)).toBe(false);
  });
});

describe('scheduler: an application handler that throws', () => {
  // A stream's onDrain and deferred tail reach application code ('drain' handlers, write
  // callbacks). A throw there must strand no other stream, and must surface as an uncaught
  // exception (as from queueMicrotask), not as the rejection of the settled promise's then, which an
  // 'unhandledRejection' handler would swallow without a word.
  async function capturingRethrows(run: () => void): Promise<(() => void)[]> {
    const rethrown: (() => void)[] = [];
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((fn) => {
      rethrown.push(fn);
    });
    try {
      run();
      for (let i = 0; i < 5; i++) await Promise.resolve();
    } finally {
      spy.mockRestore();
    }
    return rethrown;
  }

  it('a deferred task that throws leaves the others of its tick to run', async () => {
    const s = new Scheduler(new RecordingSink(), {
      quantum: 4 * KIB,
      maxBatchBytes: 1 << 20,
      maxControlQueue: 16,
    });
    const ran: string[] = [];
    const rethrown = await capturingRethrows(() => {
      s.defer({
        runDeferred: () => {
          ran.push('a');
          throw new Error('boom');
        },
      });
      s.defer({ runDeferred: () => ran.push('b') });
    });
    expect(ran).toEqual(['a', 'b']);
    expect(rethrown).toHaveLength(1);
    expect(rethrown[0]).toThrow('boom');
  });

  it('an onDrain that throws leaves the other drained streams their onDrain', async () => {
    const s = new Scheduler(new RecordingSink(), {
      quantum: 4 * KIB,
      maxBatchBytes: 1 << 20,
      maxControlQueue: 16,
    });
    const drained: string[] = [];
    const q1 = new StreamQueue();
    const q2 = new StreamQueue();
    q1.onDrain = () => {
      drained.push('q1');
      throw new Error('drain handler');
    };
    q2.onDrain = () => drained.push('q2');
    const rethrown = await capturingRethrows(() => {
      for (const [i, q] of [q1, q2].entries()) {
        s.pushOrdered(q, header(i + 1), new Uint8Array(KIB));
        q.needDrain = true;
      }
    });
    expect(drained).toEqual(['q1', 'q2']);
    expect(rethrown).toHaveLength(1);
    expect(rethrown[0]).toThrow('drain handler');
  });
  it('pushAll queues a batch behind what the queue holds, once, keeping order and byte counts', () => {
    const sink = new RecordingSink();
    let kicks = 0;
    const s = new Scheduler(sink, {
      quantum: 64 * KIB,
      maxBatchBytes: 1 << 20,
      maxControlQueue: 1024,
      schedule: () => kicks++,
    });
    const q = new StreamQueue();
    q.frameCost = 7;
    s.pushOrdered(q, header(1), new Uint8Array(5));
    const batch = Array.from({ length: 1000 }, (_, i) => {
      const payload = new Uint8Array(i % 3);
      return { header: header(2 + (i % 200)), payload, rest: null, size: payload.length };
    });
    s.pushAll(q, batch);
    expect(kicks).toBe(1);
    const payloads = batch.reduce((n, f) => n + f.size, 0);
    expect(q.bytes).toBe(11 + 5 + 7 + 1000 * (11 + 7) + payloads);
    s.flush();
    expect(sink.frames.map((f) => f.tag)).toEqual([1, ...batch.map((f) => f.header[0])]);
    expect(q.bytes).toBe(0);
    expect(s.framesWritten).toBe(1001);
  });
});

describe('scheduler: the slots a burst leaves', () => {
  // push and shift never shrink a Deque: a burst of control frames (a read's worth of replies, up
  // to maxControlQueue) left the connection holding its peak's slots, 8 bytes each (512 KiB at
  // the node's default bound of 65,536), empty for as long as it lived; so did the ready list
  // after many streams wrote at once.
  const slots = (s: Scheduler, which: 'control' | 'ready') =>
    (s as unknown as Record<typeof which, Deque<unknown>>)[which].capacity;

  it('lets the control queue go back to a small ring once a flush empties it', () => {
    const sink = new RecordingSink();
    const s = new Scheduler(sink, {
      quantum: KIB,
      maxBatchBytes: 64 * KIB,
      maxControlQueue: 65_536,
      schedule: () => {},
    });
    for (let i = 0; i < 65_536; i++) s.pushControl(header(1));
    // Still waiting behind a full transport: the slots are in use.
    sink.accept = false;
    s.flush();
    expect(s.controlLength).toBeGreaterThan(0);
    expect(slots(s, 'control')).toBe(65_536);
    sink.accept = true;
    s.drain();
    s.flush();
    expect(s.controlLength).toBe(0);
    expect(sink.frames.length).toBe(65_536);
    expect(slots(s, 'control')).toBeLessThanOrEqual(16);
    // and it grows again as it did
    for (let i = 0; i < 100; i++) s.pushControl(header(2));
    s.flush();
    expect(sink.frames.length).toBe(65_636);
  });

  it('lets the ready list go once many streams have sent', () => {
    const sink = new RecordingSink();
    const s = manual(sink, KIB);
    const queues = Array.from({ length: 5_000 }, () => new StreamQueue());
    for (const q of queues) s.pushOrdered(q, header(3), new Uint8Array(10));
    s.flush();
    expect(sink.frames.length).toBe(5_000);
    expect(slots(s, 'ready')).toBeLessThanOrEqual(16);
  });

  it('keeps a small ring as it is', () => {
    const s = manual(new RecordingSink(), KIB);
    for (let i = 0; i < 600; i++) s.pushControl(header(1));
    s.flush();
    // 1,024 slots (8 KiB) stay: a connection that bursts a few hundred frames per flush would
    // otherwise grow its ring again every time.
    expect(slots(s, 'control')).toBe(1_024);
  });
});
