import { describe, expect, it } from 'vitest';
import { Scheduler, type SchedulerSink, StreamQueue } from '../../src/scheduler.js';
import { Deque } from '../../src/util/deque.js';
import { Slabs } from '../../src/util/slabs.js';

const KIB = 1024;

/** A sink that holds what it is given until `pass()`, like a socket with a full kernel buffer. */
class HoldingSink implements SchedulerSink {
  readonly framing = 'stream';
  readonly releasesLater: boolean;
  readonly held: (() => void)[] = [];
  sends = 0;
  constructor(later = true) {
    this.releasesLater = later;
  }
  send(_parts: readonly Uint8Array[], onReleased?: () => void): boolean {
    this.sends++;
    if (onReleased !== undefined) this.held.push(onReleased);
    return true;
  }
  pass(n = this.held.length): void {
    for (const r of this.held.splice(0, n)) r();
  }
}

class Watched extends StreamQueue {
  readonly releases: number[] = [];
  override onReleased(taken: number): void {
    this.releases.push(taken);
  }
}

function setup(later = true) {
  const sink = new HoldingSink(later);
  const slabs = new Slabs(128 * KIB, 64 * KIB);
  const s = new Scheduler(sink, {
    quantum: 64 * KIB,
    // Each of these frames a send of its own (a batch takes frames until it passes this).
    maxBatchBytes: 16 * KIB,
    maxControlQueue: 16,
    schedule: () => {},
    slabs,
    watchReleases: true,
  });
  return { sink, slabs, s };
}

/** A frame's payload copied into the slabs: the first view, and the rest (a copy may span two). */
function slabbed(slabs: Slabs, n: number): [Uint8Array, Uint8Array[] | null] {
  const out = new Deque<Uint8Array>();
  expect(slabs.copy(new Uint8Array(n).fill(7), out)).toBe(true);
  const [first, ...rest] = out;
  return [first!, rest.length > 0 ? rest : null];
}

describe('Scheduler release tracking', () => {
  it('asks for no release and counts nothing without watchReleases (the default)', () => {
    const sink = new HoldingSink();
    const s = new Scheduler(sink, {
      quantum: 64 * KIB,
      maxBatchBytes: 16 * KIB,
      maxControlQueue: 16,
      schedule: () => {},
    });
    expect(s.watchReleases).toBe(false);
    const q = new Watched();
    s.pushOrdered(q, new Uint8Array(11), new Uint8Array(32 * KIB), null);
    s.flush();
    expect(sink.sends).toBe(1);
    expect(sink.held).toHaveLength(0);
    expect(q.releases).toEqual([]);
    // No release state is kept for any queue: asking for one is a bug by default.
    expect(s.waiting(q)).toBe(false);
    expect(() => s.watchOf(q)).toThrow(TypeError);
  });

  it('keeps slab bytes held until the sink releases the send that carried them', () => {
    const { sink, slabs, s } = setup();
    const q = new StreamQueue();
    s.pushOrdered(q, new Uint8Array(11), ...slabbed(slabs, 48 * KIB));
    // Spans both slabs.
    s.pushOrdered(q, new Uint8Array(11), ...slabbed(slabs, 48 * KIB));
    s.flush();
    expect(sink.sends).toBe(2);
    expect(slabs.held).toBe(96 * KIB);
    sink.pass(1);
    expect(slabs.held).toBe(48 * KIB);
    sink.pass(1);
    expect(slabs.held).toBe(0);
  });

  it('frees slab bytes at once for a sink that is done with them on return', () => {
    const { sink, slabs, s } = setup(false);
    s.pushOrdered(new StreamQueue(), new Uint8Array(11), ...slabbed(slabs, 32 * KIB));
    s.flush();
    expect(sink.held).toHaveLength(0);
    expect(slabs.held).toBe(0);
  });

  it('frees the slab bytes of frames a reset drops, and on close drops the slabs', () => {
    const { slabs, s } = setup();
    const q = new StreamQueue();
    const [v] = slabbed(slabs, 40 * KIB);
    s.pushOrdered(q, new Uint8Array(11), v.subarray(0, 20 * KIB), [v.subarray(20 * KIB)]);
    expect(slabs.held).toBe(40 * KIB);
    s.clear(q);
    expect(slabs.held).toBe(0);
    slabbed(slabs, 16 * KIB);
    s.close();
    expect(slabs.allocated).toBe(0);
  });

  it('tells a watched queue, in order, up to which payload byte the sink let go', () => {
    const { sink, s } = setup();
    const q = new Watched();
    const other = new Watched();
    s.watchOf(q).waiting = true;
    s.pushOrdered(q, new Uint8Array(11), new Uint8Array(40 * KIB));
    s.pushOrdered(other, new Uint8Array(11), new Uint8Array(10 * KIB));
    s.pushOrdered(q, new Uint8Array(11), new Uint8Array(30 * KIB));
    s.flush();
    // Two sends: q's first frame; other's frame and q's second (q yields its turn to other).
    // `other` is not watched: it hears nothing.
    expect(sink.sends).toBe(2);
    expect(sink.held).toHaveLength(2);
    expect(q.releases).toEqual([]);
    sink.pass(1);
    expect(q.releases).toEqual([40 * KIB]);
    sink.pass(1);
    expect(q.releases).toEqual([40 * KIB, 70 * KIB]);
    expect(other.releases).toEqual([]);
  });

  it('releases a watched queue when the flush ends for a sink that is done on return', () => {
    const { s } = setup(false);
    const q = new Watched();
    s.watchOf(q).waiting = true;
    s.pushOrdered(q, new Uint8Array(11), new Uint8Array(20 * KIB));
    s.flush();
    expect(q.releases).toEqual([20 * KIB]);
  });
});
