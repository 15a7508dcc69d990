import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Scheduler, type SchedulerSink, StreamQueue } from '../../src/scheduler.js';

/**
 * Model-based test of the scheduler: random pushes (zero-length frames, gathered payloads),
 * control frames, clears, a sink that refuses, drains and flushes, checked against a model after
 * every step.
 */

const STREAMS = 4;
const CTRL = 255;

interface ModelFrame {
  id: number;
  bytes: number; // header + payload
}

class Q extends StreamQueue {
  drains = 0;
  constructor(readonly k: number) {
    super();
  }
  override onDrain(): void {
    this.drains++;
  }
}

type Op =
  | { t: 'push'; k: number; size: number; split: number }
  | { t: 'ctl'; size: number }
  | { t: 'clear'; k: number }
  | { t: 'accept'; v: boolean }
  | { t: 'drain' }
  | { t: 'flush' }
  | { t: 'watch'; k: number; low: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      t: fc.constant('push' as const),
      k: fc.integer({ min: 0, max: STREAMS - 1 }),
      size: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 65_535 })),
      split: fc.integer({ min: 0, max: 3 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('ctl' as const), size: fc.integer({ min: 0, max: 40 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('clear' as const), k: fc.integer({ min: 0, max: STREAMS - 1 }) }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('accept' as const), v: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('drain' as const) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('flush' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('watch' as const),
      k: fc.integer({ min: 0, max: STREAMS - 1 }),
      low: fc.integer({ min: 0, max: 70_000 }),
    }),
  },
);

function run(ops: Op[], quantum: number, maxBatch: number, framing: 'stream' | 'message'): void {
  const ids = new WeakMap<Uint8Array, { k: number; id: number }>();
  const model: ModelFrame[][] = Array.from({ length: STREAMS }, () => []);
  const ctl: number[] = [];
  let accept = true;
  let nextId = 0;
  const sink: SchedulerSink = {
    framing,
    send(parts) {
      let bytes = 0;
      let lastStart = 0;
      let frames = 0;
      let sawData = false;
      for (const p of parts) {
        const tag = ids.get(p);
        if (tag !== undefined) {
          frames++;
          lastStart = bytes;
          if (tag.k === CTRL) {
            expect(sawData).toBe(false); // control first within a batch
            expect(ctl.shift()).toBe(tag.id);
          } else {
            sawData = true;
            // per-stream order; nothing cleared comes out
            const head = model[tag.k]!.shift();
            expect(head?.id).toBe(tag.id);
          }
        }
        bytes += p.length;
      }
      expect(frames).toBeGreaterThan(0);
      // a batch with data took every waiting control frame first
      if (sawData) expect(ctl.length).toBe(0);
      if (framing === 'message') expect(frames).toBe(1);
      else expect(lastStart).toBeLessThan(maxBatch);
      return accept;
    },
  };
  const s = new Scheduler(sink, {
    quantum,
    maxBatchBytes: maxBatch,
    maxControlQueue: 1 << 20,
    schedule: () => {},
  });
  const qs = Array.from({ length: STREAMS }, (_, k) => new Q(k));
  const header = (k: number, id: number): Uint8Array => {
    const h = new Uint8Array(11);
    ids.set(h, { k, id });
    return h;
  };
  for (const o of ops) {
    switch (o.t) {
      case 'push': {
        const id = nextId++;
        const q = qs[o.k]!;
        const payload = new Uint8Array(o.size);
        let rest: Uint8Array[] | null = null;
        let first = payload;
        if (o.split > 0 && o.size > o.split) {
          const cut = Math.floor(o.size / (o.split + 1));
          first = payload.subarray(0, cut);
          rest = [];
          for (let i = 1; i <= o.split; i++) {
            rest.push(payload.subarray(cut * i, i === o.split ? o.size : cut * (i + 1)));
          }
        }
        s.pushOrdered(q, header(o.k, id), first, rest);
        model[o.k]!.push({ id, bytes: 11 + o.size });
        break;
      }
      case 'ctl': {
        const id = nextId++;
        s.pushControl(header(CTRL, id), new Uint8Array(o.size));
        ctl.push(id);
        break;
      }
      case 'clear':
        s.clear(qs[o.k]!);
        model[o.k] = [];
        break;
      case 'accept':
        accept = o.v;
        break;
      case 'drain':
        s.drain();
        break;
      case 'flush': {
        const before = qs.map((q) => q.drains);
        const watched = qs.map((q) => q.needDrain);
        const had = qs.map((q) => q.bytes);
        s.flush();
        qs.forEach((q, k) => {
          // onDrain only once the queue is at its low mark, and at most once per watch
          if (q.drains > before[k]!) {
            expect(watched[k]).toBe(true);
            expect(q.drains).toBe(before[k]! + 1);
            expect(q.bytes).toBeLessThanOrEqual(q.lowWater);
            expect(q.needDrain).toBe(false);
          } else if (watched[k] && q.bytes < had[k]!) {
            // the writer took from a watched queue: it is told once it is down to its low mark
            expect(q.bytes).toBeGreaterThan(q.lowWater);
          }
        });
        if (!s.isBlocked) {
          expect(ctl.length).toBe(0);
          for (const m of model) expect(m.length).toBe(0);
        }
        break;
      }
      case 'watch':
        qs[o.k]!.needDrain = true;
        qs[o.k]!.lowWater = o.low;
        break;
    }
    qs.forEach((q, k) => {
      expect(q.bytes).toBe(model[k]!.reduce((n, f) => n + f.bytes, 0));
    });
  }
  accept = true;
  s.drain();
  s.flush();
  expect(ctl.length).toBe(0);
  for (const m of model) expect(m.length).toBe(0);
  for (const q of qs) expect(q.bytes).toBe(0);
}

describe('scheduler model', () => {
  it('keeps order, bounds batches, puts control first and accounts bytes for random workloads', () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 120 }),
        fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 200_000 })),
        fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 300_000 })),
        fc.constantFrom<'stream' | 'message'>('stream', 'message'),
        (ops, quantum, maxBatch, framing) => run(ops, quantum, maxBatch, framing),
      ),
      { numRuns: 300 },
    );
  });
});

describe('scheduler fairness', () => {
  it('serves backlogged streams within a quantum and a frame of each other', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 40 }), {
          minLength: 2,
          maxLength: 5,
        }),
        fc.integer({ min: 1, max: 70_000 }),
        fc.integer({ min: 1, max: 300_000 }),
        fc.array(fc.boolean(), { maxLength: 50 }),
        fc.constantFrom<'stream' | 'message'>('stream', 'message'),
        (work, quantum, maxBatch, accepts, framing) => {
          const owner = new WeakMap<Uint8Array, number>();
          const served = work.map(() => 0);
          const left = work.map((w) => w.length);
          const maxFrame = Math.max(...work.flat());
          let worst = 0;
          let cur = -1;
          let i = 0;
          const sink: SchedulerSink = {
            framing,
            send(parts) {
              for (const p of parts) {
                const k = owner.get(p);
                if (k !== undefined) {
                  cur = k;
                  left[k]!--;
                } else if (cur >= 0) {
                  served[cur]! += p.length;
                }
                // compare streams still backlogged
                const live = served.filter((_, j) => left[j]! > 0);
                if (live.length > 1) worst = Math.max(worst, Math.max(...live) - Math.min(...live));
              }
              return accepts[i++] ?? true;
            },
          };
          const s = new Scheduler(sink, {
            quantum,
            maxBatchBytes: maxBatch,
            maxControlQueue: 16,
            schedule: () => {},
          });
          work.forEach((sizes, k) => {
            const q = new StreamQueue();
            for (const n of sizes) {
              const h = new Uint8Array(11);
              owner.set(h, k);
              s.pushOrdered(q, h, new Uint8Array(n));
            }
          });
          for (let round = 0; round < 1000 && left.some((n) => n > 0); round++) {
            s.drain();
            s.flush();
          }
          expect(left.every((n) => n === 0)).toBe(true);
          expect(worst).toBeLessThanOrEqual(quantum + maxFrame);
        },
      ),
      { numRuns: 300 },
    );
  });
});
