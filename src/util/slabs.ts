import { Deque } from './deque.js';
import { type TimerHandle, timeout } from './timers.js';

/**
 * Per-connection buffers that large writes are copied into (docs/manual.md, "Reusing a written
 * buffer"; docs/performance.md). A write's callback says the writer may fill its buffer again,
 * but the bytes wait in the stream, the scheduler and the socket's write queue long after the
 * stream took them. Copied here, the writer's buffer is no longer referenced and the callback can
 * come at once, with the writer still ahead of the socket: one copy per byte, and no allocation
 * per write, as each slab is reused once the transport has let go of every byte carved from it.
 *
 * Slabs are carved in order, a write across two slabs in two views. Each slab counts the bytes
 * carved from it that something still refers to (`held`): queued, in the scheduler or in the
 * transport. Bytes leave that count once the transport releases them (`sent` then `released`), or
 * when they are dropped unsent (`free`). A slab whose count falls to zero is free for carving.
 * None is allocated before a large write; all go once no write has needed one for IDLE_MS.
 */

/** Largest slab: a few 64 KiB frames each, few enough that looking one up is a short scan. */
export const SLAB_SIZE = 256 * 1024;
/** Slabs are dropped once none was carved for this long (ms) and nothing refers to them. */
export const IDLE_MS = 1000;

interface Slab {
  readonly buf: Uint8Array<ArrayBuffer>;
  /** Bytes carved from the start: the next carve starts here. */
  used: number;
  /** Bytes carved and not yet released or freed. */
  held: number;
}

/**
 * The slab pool that copies of small writes are carved from. Plumbing of the scheduler, free to change
 * (not tagged internal: Scheduler's published declaration names it).
 */
export class Slabs {
  readonly slabSize: number;
  readonly maxSlabs: number;
  /** Indexed for good: a send's record names slabs by index. Null: not allocated (or dropped). */
  private readonly slabs: (Slab | null)[] = [];
  /** Index of the slab being carved, or -1. */
  private cur = -1;
  /** Bytes held over all slabs. */
  private heldTotal = 0;
  /** Per send with slab bytes, oldest first: the count of slabs n, then n (index, bytes) pairs. */
  private readonly records = new Deque<number>(16);
  /** Per slab, bytes of the send being recorded (scratch). */
  private readonly tally: number[];
  private idleTimer: TimerHandle | null = null;
  /** Carves since the idle timer was armed: a carve keeps the slabs another IDLE_MS. */
  private carves = 0;
  private disposed = false;

  /**
   * `budget`: bytes of slabs at most, split evenly into slabs of at most `largest` (0: none, and
   * copy() always fails).
   */
  constructor(budget: number, largest = SLAB_SIZE) {
    this.maxSlabs = budget <= 0 ? 0 : Math.ceil(budget / largest);
    this.slabSize = this.maxSlabs === 0 ? 0 : Math.ceil(budget / this.maxSlabs);
    this.tally = new Array<number>(this.maxSlabs).fill(0);
  }

  /** Bytes of slabs allocated. */
  get allocated(): number {
    let n = 0;
    for (const s of this.slabs) if (s !== null) n += s.buf.length;
    return n;
  }

  /** Bytes carved and still referred to. */
  get held(): number {
    return this.heldTotal;
  }

  /**
   * Copies `chunk` into slab space and pushes the views of the copy onto `out` (one, or more when
   * it spans slabs). False, with nothing pushed, when the free space is short of it.
   */
  copy(chunk: Uint8Array, out: Deque<Uint8Array>): boolean {
    const n = chunk.length;
    if (this.disposed || n === 0 || !this.fits(n)) return false;
    let off = 0;
    while (off < n) {
      let s = this.cur >= 0 ? this.slabs[this.cur]! : null;
      if (s === null || s.used === s.buf.length) s = this.next();
      const take = Math.min(s.buf.length - s.used, n - off);
      const at = s.used;
      s.buf.set(off === 0 && take === n ? chunk : chunk.subarray(off, off + take), at);
      out.push(s.buf.subarray(at, at + take));
      s.used = at + take;
      s.held += take;
      off += take;
    }
    this.heldTotal += n;
    this.carves++;
    if (this.idleTimer === null) this.armIdle();
    return true;
  }

  /**
   * Records the slab bytes among `parts`, just handed to a transport that holds them until its
   * release: `released()` frees them, one call per recording, in the same order. False when there
   * were none (nothing recorded, so no `released()` is due).
   */
  sent(parts: readonly Uint8Array[]): boolean {
    if (this.heldTotal === 0) return false;
    const tally = this.tally;
    let n = 0;
    for (const p of parts) {
      const i = p.length === 0 ? -1 : this.indexOf(p);
      if (i < 0) continue;
      if (tally[i] === 0) n++;
      tally[i]! += p.length;
    }
    if (n === 0) return false;
    const r = this.records;
    r.push(n);
    for (let i = 0; i < tally.length; i++) {
      if (tally[i] === 0) continue;
      r.push(i);
      r.push(tally[i]!);
      tally[i] = 0;
    }
    return true;
  }

  /** The transport let go of the oldest recorded send's parts. */
  released(): void {
    const r = this.records;
    const n = r.shift();
    if (n === undefined) return;
    for (let k = 0; k < n; k++) this.release(r.shift()!, r.shift()!);
  }

  /** `view` (from `skip` on) was dropped unsent, or copied by the transport: frees its slab bytes. */
  free(view: Uint8Array, skip = 0): void {
    if (this.heldTotal === 0) return;
    const i = this.indexOf(view);
    if (i >= 0 && view.length > skip) this.release(i, view.length - skip);
  }

  /** `free` for each of `parts`. */
  freeAll(parts: readonly Uint8Array[]): void {
    for (const p of parts) this.free(p);
  }

  /** The connection closed: slabs are dropped (what a socket still holds keeps its own alive). */
  dispose(): void {
    this.disposed = true;
    this.dropAll();
    this.records.clear();
    this.heldTotal = 0;
  }

  private indexOf(view: Uint8Array): number {
    const ab = view.buffer;
    const slabs = this.slabs;
    for (let i = 0; i < slabs.length; i++) if (slabs[i]?.buf.buffer === ab) return i;
    return -1;
  }

  private release(i: number, bytes: number): void {
    const s = this.slabs[i];
    if (s === null || s === undefined) return;
    s.held -= bytes;
    this.heldTotal -= bytes;
    // Nothing refers to it: carving starts over at its front (the current slab stays current,
    // its bytes still warm in the cache).
    if (s.held === 0) s.used = 0;
  }

  /** Whether `n` bytes fit the current slab's rest, the free slabs and those not yet allocated. */
  private fits(n: number): boolean {
    let room = 0;
    for (let i = 0; i < this.maxSlabs; i++) {
      const s = this.slabs[i];
      if (s === null || s === undefined || s.held === 0) room += this.slabSize;
      else if (i === this.cur) room += s.buf.length - s.used;
      if (room >= n) return true;
    }
    return false;
  }

  /** The next slab to carve (fits() said there is one): a free one, else a new one. */
  private next(): Slab {
    const slabs = this.slabs;
    let empty = -1;
    for (let k = 1; k <= this.maxSlabs; k++) {
      const i = (this.cur + k) % this.maxSlabs;
      const s = slabs[i];
      if (s === null || s === undefined) {
        if (empty < 0) empty = i;
      } else if (s.held === 0 && i !== this.cur) {
        s.used = 0;
        this.cur = i;
        return s;
      }
    }
    const s: Slab = { buf: new Uint8Array(this.slabSize), used: 0, held: 0 };
    while (slabs.length <= empty) slabs.push(null);
    slabs[empty] = s;
    this.cur = empty;
    return s;
  }

  private armIdle(): void {
    this.carves = 0;
    this.idleTimer = timeout(() => {
      this.idleTimer = null;
      if (this.disposed) return;
      // Still in use (carved since, or bytes not yet released): look again later.
      if (this.carves > 0 || this.heldTotal > 0) this.armIdle();
      else this.dropAll();
    }, IDLE_MS);
  }

  private dropAll(): void {
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    this.slabs.length = 0;
    this.cur = -1;
  }
}

/**
 * What a node's scheduler watches of its sends (SchedulerOptions.watchReleases, .slabs): nothing
 * unless the node reuses written buffers (by default large writes leave zero-copy and nothing per
 * write or send watches them); slabs only with a budget, and only on a sink that says when it is
 * done with what it was given, or copies it (`sinkReleases`): a slab is reused once it is, so one
 * reused any sooner would send what came after.
 */
export function releaseWatch(
  o: { readonly reuseWrittenBuffers: boolean; readonly writeBuffer: number },
  sinkReleases: boolean,
): { watchReleases: boolean; slabs: Slabs | null } {
  const slabs = o.reuseWrittenBuffers && o.writeBuffer > 0 && sinkReleases ? new Slabs(o.writeBuffer) : null;
  return { watchReleases: o.reuseWrittenBuffers, slabs };
}
