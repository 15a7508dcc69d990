import { LimitError } from './errors.js';
import { checkSchedulerOptions } from './scheduler-options.js';
import { checkMethods } from './util/check.js';
import { Deque } from './util/deque.js';
import type { Slabs } from './util/slabs.js';
import { now } from './util/timers.js';
import { header, payloadLength } from './wire/frame.js';

/**
 * The per-connection writer (PROTOCOL.md 9, improved): control frames (opens, ACKs, pings,
 * resets) always go first; stream frames (data, FIN, close, close-ACK) keep their order per stream
 * and share the link by bytes with deficit round robin. Frames are coalesced into one vectored
 * write per batch on byte-stream transports. Pure: no timers; `schedule` and `clock` are injected.
 *
 * Its plumbing types (SchedulerSink, StreamQueue, ...) are named by published declarations
 * (Scheduler's constructor, StreamCore's base class), so none is tagged internal: the build strips
 * what is (tsconfig.build.json), which would leave those names dangling in the .d.ts. They are
 * kept out of the API reference by typedoc.json's intentionallyNotExported instead.
 */

/**
 * Where a Scheduler writes its batches: the connection under it. Plumbing of the scheduler, free to change.
 */
export interface SchedulerSink {
  readonly framing: 'stream' | 'message';
  /** Copy a batch of short frames into one buffer before `send` (stream framing only). */
  readonly coalesce?: boolean;
  /**
   * The sink keeps referring to a send's parts after `send` returns (a socket's write queue) and
   * calls that send's `onReleased` once it no longer does. Otherwise the parts count as released
   * once `send` returns (the sink wrote or copied them).
   */
  readonly releasesLater?: boolean;
  /** One unit: back-to-back bytes, or one message under message framing. False: wait for drain. */
  send(parts: readonly Uint8Array[], onReleased?: () => void): boolean;
  /**
   * True once the sink drops what it is given (a transport closing or closed: Transport.closed).
   * Nothing is handed to it then: stream frames stay queued, so no stream takes frames that never
   * left for sent (a stream released on FIN would report a clean end), until the owner closes.
   */
  readonly closed?: boolean;
  /** Told once, when a flush first finds the sink `closed`: its owner need not wait for the close. */
  lost?(): void;
}

/**
 * The options of `new Scheduler()`, checked against the node options of the same names.
 */
export interface SchedulerOptions {
  /** Bytes a stream may send per round-robin turn. */
  quantum: number;
  /** Largest number of bytes handed to the sink in one send (stream framing). */
  maxBatchBytes: number;
  /**
   * Control frames that may wait; beyond this `control()` throws LimitError. Infinity: no bound.
   * Each numeric option is checked (scheduler-options.ts, the node's ranges): ConfigError.
   */
  maxControlQueue: number;
  /** Runs a flush later; default queueMicrotask. Tests pass a function that records it. */
  schedule?: (fn: () => void) => void;
  /** Milliseconds, for the control-queue wait statistic and the sparse hold; default monotonic. */
  clock?: () => number;
  /**
   * The connection's slabs, which streams copy large writes into (util/slabs.ts): the scheduler
   * tells them when the sink has let go of their bytes, frees what it drops, and disposes of them
   * on close. Null: none (writes that are not copied wait for their release instead).
   */
  slabs?: Slabs | null;
  /**
   * Track which sends carry which queues' bytes and report their release (ReleaseWatch,
   * StreamQueue.onReleased): the node option reuseWrittenBuffers. False (its default): none of
   * that runs, frames are counted by nothing more and every send goes out without a callback.
   */
  watchReleases?: boolean;
}

/**
 * A queue's release state, kept by the scheduler under watchReleases only (Scheduler.watchOf):
 * not as fields of every queue, so that by default a stream weighs what it did before.
 */
export interface ReleaseWatch {
  /** Payload bytes of the queue's frames handed to the sink so far. */
  taken: number;
  /**
   * Set by the owner while it waits for the sink to let go of its bytes up to `heldTo` (a write's
   * callback that waits for them): each send with its frames then reports `onReleased(taken)`.
   */
  waiting: boolean;
  /** The owner's: while `waiting`, the end (in its payload bytes) of the write that waits. */
  heldTo: number;
}

/**
 * The ordered frames of one stream. A stream's state object extends it (one object per stream
 * instead of two); the switcher's per-source queues do too.
 */
export class StreamQueue {
  /** Bytes waiting (headers included). */
  bytes = 0;
  /** @internal A write was refused for being over the high-water mark: report when it falls. */
  needDrain = false;
  /** @internal Bytes at or below which the write side is reported writable again. */
  lowWater = 0;
  /**
   * Counted in `bytes` for every queued frame on top of its own bytes: what a waiting frame costs
   * in memory beyond them (its objects). 0 for streams; the switcher's source queues set it.
   */
  frameCost = 0;
  /** @internal Created on the first frame: most idle streams never queue more than a few. */
  items: Deque<QueuedFrame> | null = null;
  /** @internal */ deficit = 0;
  /** @internal */ ready = false;
  /** @internal */ inTurn = false;

  /** Called once `bytes` falls to `lowWater` or below after `needDrain` was set. */
  onDrain(): void {}

  /**
   * While its ReleaseWatch is `waiting`: the sink has let go of every payload byte of this queue
   * up to `taken` (the count `taken` had when the send left); sends release in the order made.
   */
  onReleased(_taken: number): void {}

  /**
   * A queued payload had fewer bytes than when it was queued (its ArrayBuffer was transferred or
   * shrunk by the writer): that frame and every later one of this queue were dropped unsent.
   */
  onDetached(): void {}
}

/**
 * A frame waiting in a StreamQueue (what `takeAll` hands out and `pushAll` takes back).
 */
export interface QueuedFrame {
  header: Uint8Array;
  payload: Uint8Array;
  /** Further views of the same payload (a frame gathered from several writes), or null. */
  rest: Uint8Array[] | null;
  /** Payload bytes in all views. */
  size: number;
  /**
   * Made by the queue's owner, not passed on from elsewhere (the switcher's closes, resets and
   * refusals in a departed node's place): `close` does not count it among the dropped.
   */
  own?: true;
}

interface ControlItem {
  header: Uint8Array;
  payload: Uint8Array | null;
  at: number;
}

/**
 * A batch of short frames (opens, ACKs, requests and replies of many streams) of at most this many
 * bytes is copied into one buffer before it goes to a byte-stream transport. Each part costs the
 * transport a call and an iovec (on Node.js a corked socket's write() per part, ~0.7 µs), so 40
 * short parts cost more than copying them; long payloads keep travelling as views.
 */
const COPY_MAX = 16 * 1024;
/**
 * Slots (8 bytes each) an emptied control queue or ready list keeps: a larger ring goes back to a
 * small one at the end of a flush. Kept this size, a connection that bursts a few hundred frames
 * per flush does not grow its ring again every time.
 */
const KEEP_SLOTS = 1024;
/** A part longer than this (a payload) keeps its batch from being copied. */
const SHORT_PART = 1024;

function allShort(parts: readonly Uint8Array[]): boolean {
  for (const p of parts) if (p.length > SHORT_PART) return false;
  return true;
}

function concat(parts: readonly Uint8Array[], bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const settled = Promise.resolve();

/**
 * Runs `fn` in a microtask through a settled promise rather than `queueMicrotask`, which Node.js
 * wraps in an AsyncResource per call (an object, a bound function and async-context bookkeeping,
 * about twice the cost, and more code for V8 to optimise in a fresh process). `fn` must not throw:
 * the promise's rejection would be unhandled (see `report`).
 */
function microtask(fn: () => void): void {
  void settled.then(fn);
}

/**
 * Throws `err` from a microtask of its own: an error of the application's code (a 'drain' handler
 * reached through onDrain or a deferred tail) surfaces as an uncaught exception, as an event
 * handler's throw does, never as a rejection an 'unhandledRejection' handler would swallow.
 */
function report(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}

/**
 * Work put off to the end of the current tick by `Scheduler.defer`.
 */
export interface Deferred {
  runDeferred(): void;
}

/**
 * The writer of one connection (docs/manual.md, section 4), as `node.scheduler`: control frames
 * first, then the streams' data by deficit round robin, batched into writes of up to
 * `maxBatchBytes`. `new Scheduler(sink, { quantum, maxBatchBytes, maxControlQueue })` throws a
 * ConfigError naming an option out of the node options' range. Its counters (`bytesWritten`,
 * `writes`, `framesWritten`, `maxControlWait`, `controlLength`, `isBlocked`) are for
 * applications to read; the rest is the node's, tagged internal and so left out of the published
 * types: an application's `node.scheduler.close()` or `clear()` dropped the node's frames unsent.
 */
export class Scheduler {
  private readonly sink: SchedulerSink;
  /** The options, checked; slabs and watchReleases live in their own fields. */
  private readonly opts: Required<Omit<SchedulerOptions, 'slabs' | 'watchReleases'>>;
  private readonly control = new Deque<ControlItem>(16);
  private readonly ready = new Deque<StreamQueue>(16);
  private scheduled = false;
  private blocked = false;
  /** flush() is running: a frame queued from inside it (a loopback's reply) does not flush again. */
  private flushing = false;
  private closed = false;
  /** The sink closed under us (SchedulerSink.closed): nothing more is handed to it. */
  private lost = false;
  private readonly flushFn = (): void => {
    try {
      this.flush();
    } catch (err) {
      report(err);
    }
  };
  private deferred: Deferred[] = [];
  private readonly runDeferredFn = (): void => this.runDeferred();
  /** @internal The connection's slabs (SchedulerOptions.slabs), or null. */
  readonly slabs: Slabs | null;
  /** @internal SchedulerOptions.watchReleases: the only test the default's hot path makes for all this. */
  readonly watchReleases: boolean;
  /** Sends of the current flush to a sink done with them on return: released when it ends. */
  private returned = 0;
  /** Per queue, its ReleaseWatch (watchReleases; null without): weakly, as streams come and go. */
  private readonly watches: WeakMap<StreamQueue, ReleaseWatch> | null;
  /** Waiting queues (ReleaseWatch.waiting) with frames in the batch being built. */
  private readonly watched: StreamQueue[] | null;
  /**
   * Per send that has something to release, oldest first: a flag number (1: the slabs recorded
   * it; 2: watched queues follow), then when 2 is set their count n and n (queue, taken) pairs.
   */
  private readonly unreleased: Deque<number | StreamQueue> | null;
  private readonly releasedFn: () => void;
  /** Longest time a control frame waited before it was handed to the sink, ms. */
  maxControlWait = 0;
  /** Total bytes handed to the sink. */
  bytesWritten = 0;
  /** Number of sink.send calls. */
  writes = 0;
  /** Frames handed to the sink. */
  framesWritten = 0;
  /** The stream that last started a short write from idle, and when (clock ms). */
  private sparse: StreamQueue | null = null;
  /** Queues that lost frames to a shrunk view in this flush (takeData), told once it ends. */
  private detached: StreamQueue[] | null = null;
  private sparseAt = -Infinity;

  constructor(sink: SchedulerSink, options: SchedulerOptions) {
    const o = checkSchedulerOptions(options);
    this.sink = checkMethods('new Scheduler() sink', 'a SchedulerSink', sink, ['send']);
    this.slabs = options.slabs ?? null;
    this.watchReleases = options.watchReleases === true;
    // Made only with watchReleases: by default a connection weighs what it did before.
    this.watches = this.watchReleases ? new WeakMap() : null;
    this.watched = this.watchReleases ? [] : null;
    this.unreleased = this.watchReleases ? new Deque<number | StreamQueue>(16) : null;
    this.releasedFn = this.watchReleases ? () => this.released() : noop;
    this.opts = {
      quantum: o.quantum,
      maxBatchBytes: o.maxBatchBytes,
      maxControlQueue: o.maxControlQueue,
      schedule: o.schedule ?? microtask,
      // Monotonic (util/timers): on the wall clock a step back (NTP, a resumed VM) made the sparse
      // hold last as long as the step, holding bulk streams to sharedInflight all that time.
      clock: o.clock ?? now,
    };
  }

  /** Control frames queued. */
  get controlLength(): number {
    return this.control.length;
  }

  /** True while the transport is over its high-water mark and the scheduler waits for its drain. */
  get isBlocked(): boolean {
    return this.blocked;
  }

  /**
   * Queues a control frame (header and optional payload), ahead of all stream data. Returns
   * false if it was dropped instead: the scheduler is closed, or its sink lost.
   * @internal
   */
  pushControl(header: Uint8Array, payload?: Uint8Array): boolean {
    // Lost: it would be dropped by the sink, and must not fill the queue until the owner closes.
    if (this.closed || this.lost) return false;
    if (this.control.length >= this.opts.maxControlQueue) {
      // The bound is on frames the sink leaves untaken, not on those one turn queues before the
      // writer's: a peer that batched more requests in one read than the bound (a Go node's pings,
      // opens or closes; a node's opens all refused at a switcher) was taken for one that does
      // not read, and dropped. The queue goes to the sink first, as it would at the turn's end.
      if (!this.blocked && !this.flushing) this.flush();
      if (this.closed || this.lost) return false;
    }
    if (this.control.length >= this.opts.maxControlQueue) {
      throw new LimitError(
        `more than ${this.opts.maxControlQueue} control frames queued: peer is not reading`,
      );
    }
    this.control.push({
      header,
      payload: payload !== undefined && payload.length > 0 ? payload : null,
      at: this.opts.clock(),
    });
    this.kick();
    return true;
  }

  /**
   * Builds the header of a control frame and queues it. A data-ACK carries no payload: its size
   * field is the credit (PROTOCOL.md 4.2).
   * @internal
   */
  pushControlFrame(
    cmd: number,
    dstIP: number,
    dstPort: number,
    srcIP: number,
    srcPort: number,
    payload: Uint8Array = EMPTY,
    size: number = payload.length,
  ): void {
    const h = header(cmd, dstIP, dstPort, srcIP, srcPort, size);
    this.pushControl(h, payloadLength(cmd, size) === 0 ? undefined : payload);
  }

  /**
   * Queues an ordered frame of a stream. A payload gathered from several buffers is passed as
   * `payload` plus `rest`, written back to back without copying. Returns false if it was dropped
   * instead (the scheduler is closed).
   * @internal
   */
  pushOrdered(
    q: StreamQueue,
    header: Uint8Array,
    payload: Uint8Array = EMPTY,
    rest: Uint8Array[] | null = null,
  ): boolean {
    if (this.closed) return false;
    let size = payload.length;
    if (rest !== null) for (const r of rest) size += r.length;
    if (q.items === null) q.items = new Deque<QueuedFrame>(2);
    q.items.push({ header, payload, rest, size });
    q.bytes += header.length + size + q.frameCost;
    if (!q.ready) {
      q.ready = true;
      this.ready.push(q);
    }
    this.kick();
    return true;
  }

  /**
   * Queues `frames` behind what `q` holds, as pushOrdered would one by one, but keeping the frame
   * objects (those takeAll handed out, or new ones whose `size` counts every view) and with one
   * kick: the survivor of a departed node gets a reset per stream, tens of thousands at once.
   * Returns the bytes of the frames queued (headers and payloads; 0 once closed).
   * @internal
   */
  pushAll(q: StreamQueue, frames: readonly QueuedFrame[]): number {
    if (this.closed || frames.length === 0) return 0;
    let items = q.items;
    // Sized at once: grown from 2 by doubling, a big batch was copied some 15 times.
    if (items === null || items.length === 0) items = q.items = new Deque<QueuedFrame>(frames.length);
    let bytes = 0;
    for (const f of frames) {
      items.push(f);
      bytes += f.header.length + f.size;
    }
    q.bytes += bytes + frames.length * q.frameCost;
    if (!q.ready) {
      q.ready = true;
      this.ready.push(q);
    }
    this.kick();
    return bytes;
  }

  /**
   * Runs `task.runDeferred()` in a microtask shared by every task deferred in this tick (streams
   * use it to send a short write's tail once the tick's other writes have joined it), in order.
   * @internal
   */
  defer(task: Deferred): void {
    if (this.deferred.push(task) === 1) microtask(this.runDeferredFn);
  }

  private runDeferred(): void {
    const tasks = this.deferred;
    this.deferred = [];
    // One that throws strands none of the others: each keeps its tail flagged as scheduled, and
    // would never be deferred again.
    for (const t of tasks) {
      try {
        t.runDeferred();
      } catch (err) {
        report(err);
      }
    }
  }

  /** @internal `q` began a short write with nothing queued: latency-sensitive traffic shares the link. */
  noteSparse(q: StreamQueue): void {
    this.sparse = q;
    this.sparseAt = this.opts.clock();
  }

  /** @internal Whether another stream than `q` wrote sparsely within the last `hold` ms. */
  sharedWithSparse(q: StreamQueue, hold: number): boolean {
    return this.sparse !== null && this.sparse !== q && this.opts.clock() - this.sparseAt < hold;
  }

  /**
   * Takes every frame off `q`, in order, for the caller to push back (pushAll) what it keeps in
   * the order it chooses. `q` stays where it is in the round robin.
   * @internal
   */
  takeAll(q: StreamQueue): QueuedFrame[] {
    const out = q.items === null ? [] : [...q.items];
    q.items?.clear();
    q.bytes = 0;
    return out;
  }

  /** @internal Drops everything queued for a stream (after a reset). */
  clear(q: StreamQueue): void {
    if (q.items !== null && this.slabs !== null) for (const f of q.items) freeFrame(this.slabs, f);
    q.items?.clear();
    q.bytes = 0;
    q.needDrain = false;
    // it stays in the ready list until the writer meets it empty and drops it
  }

  /** @internal The sink can take more. */
  drain(): void {
    if (!this.blocked || this.lost) return;
    this.blocked = false;
    this.kick();
  }

  /**
   * Drops every queued frame; later pushes are ignored. Returns how many of them were streams'
   * ordered frames not the owner's own (`QueuedFrame.own`; control frames are all its own:
   * replies, pings, credit).
   * @internal
   */
  close(): number {
    this.closed = true;
    let dropped = 0;
    this.control.clear();
    // What the sink still holds keeps its slab alive; nothing is carved from them again.
    this.slabs?.dispose();
    this.unreleased?.clear();
    if (this.watched !== null) this.watched.length = 0;
    for (const q of this.ready) {
      if (q.items === null) continue;
      for (const f of q.items) if (f.own !== true) dropped++;
      q.items.clear();
    }
    this.ready.clear();
    return dropped;
  }

  private kick(): void {
    if (this.scheduled || this.blocked || this.closed) return;
    this.scheduled = true;
    this.opts.schedule(this.flushFn);
  }

  /** @internal Writes as much as the sink accepts. Normally run by `schedule`; tests call it directly. */
  flush(): void {
    this.scheduled = false;
    // Read once per flush, not per frame: a sink can close only between flushes (its send does not
    // close it; a failure or the peer's end comes as an event).
    if (this.sink.closed === true) {
      const first = !this.lost;
      this.lost = true;
      this.blocked = true;
      this.control.clear();
      if (first) this.sink.lost?.();
      return;
    }
    this.flushing = true;
    const message = this.sink.framing === 'message';
    const copy = !message && this.sink.coalesce === true;
    const drained: StreamQueue[] = [];
    while (!this.blocked && !this.closed && (this.control.length > 0 || this.ready.length > 0)) {
      const parts: Uint8Array[] = [];
      let bytes = 0;
      const limit = message ? 1 : this.opts.maxBatchBytes;
      const t = this.opts.clock();
      while (this.control.length > 0 && (bytes < limit || bytes === 0)) {
        const c = this.control.shift()!;
        this.framesWritten++;
        const wait = t - c.at;
        if (wait > this.maxControlWait) this.maxControlWait = wait;
        parts.push(c.header);
        bytes += c.header.length;
        if (c.payload !== null) {
          parts.push(c.payload);
          bytes += c.payload.length;
        }
        if (message) break;
      }
      // Data fills the rest of the batch behind the control frames: one write, not two. Under
      // message framing a message holds one frame.
      if (parts.length === 0 || (!message && bytes < limit)) {
        bytes += this.takeData(parts, limit - bytes, message, drained);
      }
      if (parts.length === 0) break;
      this.bytesWritten += bytes;
      this.writes++;
      const joined = copy && parts.length > 1 && bytes <= COPY_MAX && allShort(parts);
      const batch = joined ? [concat(parts, bytes)] : parts;
      const ok = this.watchReleases ? this.sendWatched(parts, batch, joined) : this.sink.send(batch);
      if (!ok) this.blocked = true;
    }
    // A queue that lost frames hears it before its drain: frames it sent ahead of the shrunk one
    // in this flush put it among the drained, and onDrain alone would take the emptied queue for
    // one that had all left (a stream released on FIN then ended cleanly, its last data unsent).
    const detached = this.detached;
    if (detached !== null) {
      this.detached = null;
      for (const q of detached) {
        try {
          q.onDetached();
        } catch (err) {
          report(err);
        }
      }
    }
    for (const q of drained) this.settleDrain(q);
    if (this.returned !== 0) this.releaseReturned();
    // A burst (a read's worth of replies, up to maxControlQueue; many streams writing at once)
    // grew these rings, which never shrink by themselves: emptied, an idle connection kept the
    // peak's slots for good (512 KiB at the node's default bound). Two tests per flush.
    this.control.trim(KEEP_SLOTS);
    this.ready.trim(KEEP_SLOTS);
    this.flushing = false;
  }

  /** `sink.send` with the send's release recorded (watchReleases). */
  private sendWatched(parts: Uint8Array[], batch: readonly Uint8Array[], joined: boolean): boolean {
    // Slab bytes copied (joined) or given to a sink that copies are free at once; those a
    // socket holds, and watched queues' bytes, wait for the send's release.
    const later = this.sink.releasesLater === true;
    const slabs = this.slabs;
    const held = slabs !== null && later && !joined;
    let flag = held && slabs.sent(parts) ? 1 : 0;
    if (this.watched!.length > 0) flag |= this.recordWatched(flag);
    else if (flag !== 0) this.unreleased!.push(flag);
    let ok: boolean;
    if (flag !== 0 && later) {
      ok = this.sink.send(batch, this.releasedFn);
    } else {
      ok = this.sink.send(batch);
      if (flag !== 0) this.returned++;
    }
    if (slabs !== null && !held) slabs.freeAll(parts);
    return ok;
  }

  /** Releases the sends of this flush whose sink was done with them on return. */
  private releaseReturned(): void {
    for (; this.returned > 0; this.returned--) this.released();
  }

  /**
   * `q`'s release state, made on first use. Only under watchReleases (throws without: a caller
   * that asks by default is a bug, and would cost the default what the option should).
   * @internal
   */
  watchOf(q: StreamQueue): ReleaseWatch {
    const m = this.watches!;
    let w = m.get(q);
    if (w === undefined) {
      w = { taken: 0, waiting: false, heldTo: 0 };
      m.set(q, w);
    }
    return w;
  }

  /** @internal Whether `q` waits for a release: false by default (one boolean test), without a lookup. */
  waiting(q: StreamQueue): boolean {
    return this.watchReleases && this.watches!.get(q)?.waiting === true;
  }

  /** Pushes a send's record with the watched queues of its batch (flag 2); resets the batch's list. */
  private recordWatched(flag: number): number {
    const u = this.unreleased!;
    const w = this.watched!;
    u.push(flag | 2);
    u.push(w.length);
    for (const q of w) {
      u.push(q);
      u.push(this.watchOf(q).taken);
    }
    w.length = 0;
    return 2;
  }

  /** The sink let go of the oldest recorded send's parts. */
  private released(): void {
    const u = this.unreleased!;
    const flag = u.shift() as number | undefined;
    if (flag === undefined) return;
    if ((flag & 1) !== 0) this.slabs?.released();
    if ((flag & 2) === 0) return;
    const n = u.shift() as number;
    for (let k = 0; k < n; k++) {
      const q = u.shift() as StreamQueue;
      const taken = u.shift() as number;
      // One whose handler throws leaves the others theirs: a missed release stalls its writer.
      try {
        q.onReleased(taken);
      } catch (err) {
        report(err);
      }
    }
  }

  /** @internal Calls `q.onDrain()` once if `q` waited for drain and is at its low-water mark now. */
  settleDrain(q: StreamQueue): void {
    if (!q.needDrain || q.bytes > q.lowWater) return;
    q.needDrain = false;
    // One whose handler throws leaves the others theirs: a missed onDrain stalls its writer.
    try {
      q.onDrain();
    } catch (err) {
      report(err);
    }
  }

  /**
   * Deficit round robin over ready streams until `limit` bytes are taken. Payload bytes count
   * against the quantum; a stream whose next frame exceeds its deficit yields its turn.
   */
  private takeData(parts: Uint8Array[], limit: number, message: boolean, drained: StreamQueue[]): number {
    let bytes = 0;
    const quantum = this.opts.quantum;
    /** Streams sent to the back in a row without taking a frame. */
    let idle = 0;
    while (this.ready.length > 0 && bytes < limit) {
      const q = this.ready.peek()!;
      if (!q.inTurn) {
        q.inTurn = true;
        q.deficit += quantum;
      }
      let took = false;
      const watch = this.watchReleases ? this.watchOf(q) : null;
      // A queue is only ever in the ready list after a push, which created its items.
      const items = q.items!;
      while (items.length > 0 && bytes < limit) {
        const f = items.peek()!;
        if (f.size > q.deficit) break;
        items.shift();
        const start = parts.length;
        parts.push(f.header);
        let got = f.payload.length;
        if (got > 0) parts.push(f.payload);
        if (f.rest !== null) {
          for (const r of f.rest) {
            parts.push(r);
            got += r.length;
          }
        }
        if (got !== f.size) {
          // A view shrank since it was queued: the writer transferred (detached) its buffer. Sent,
          // the frame would carry fewer bytes than its header says and derail the whole
          // connection; this stream alone loses it and what it queued after it (onDetached).
          parts.length = start;
          if (this.slabs !== null) {
            freeFrame(this.slabs, f);
            for (const g of items) freeFrame(this.slabs, g);
          }
          items.clear();
          q.bytes = 0;
          if (this.detached === null) this.detached = [q];
          else if (!this.detached.includes(q)) this.detached.push(q);
          break;
        }
        const size = f.header.length + f.size;
        bytes += size;
        q.deficit -= f.size;
        if (watch !== null) {
          watch.taken += f.size;
          const w = this.watched!;
          if (watch.waiting && !w.includes(q)) w.push(q);
        }
        this.framesWritten++;
        q.bytes -= size + q.frameCost;
        took = true;
        if (message) break;
      }
      if (took && q.needDrain && !drained.includes(q)) drained.push(q);
      if (items.length === 0) {
        // Emptied: an idle stream keeps no queue (the next push makes a new one).
        q.items = null;
        this.ready.shift();
        q.ready = false;
        q.inTurn = false;
        q.deficit = 0;
      } else if (items.peek()!.size > q.deficit) {
        this.ready.shift();
        q.inTurn = false;
        this.ready.push(q);
        // A whole round in which no stream could send: skip the further empty rounds at once.
        if (took) idle = 0;
        else if (++idle >= this.ready.length) {
          this.skipEmptyRounds(quantum);
          idle = 0;
        }
      }
      if (took) idle = 0;
      if (message && took) break;
    }
    return bytes;
  }

  /**
   * Every ready stream's next frame exceeds its deficit (each has just yielded its turn). Adds the
   * quanta of the rounds in which none could send yet, as those rounds would have one visit at a
   * time: frames larger than the quantum cost frame/quantum rounds over all streams otherwise
   * (65,535 with a quantum of 1). The order frames leave in stays that of plain round robin.
   */
  private skipEmptyRounds(quantum: number): void {
    let rounds = Number.POSITIVE_INFINITY;
    for (const q of this.ready) {
      const need = Math.ceil((q.items!.peek()!.size - q.deficit) / quantum) - 1;
      if (need < rounds) rounds = need;
    }
    if (rounds <= 0) return;
    const add = rounds * quantum;
    for (const q of this.ready) q.deficit += add;
  }
}

function noop(): void {}

/** Frees the slab bytes of a frame dropped unsent. */
function freeFrame(slabs: Slabs, f: QueuedFrame): void {
  slabs.free(f.payload);
  if (f.rest !== null) slabs.freeAll(f.rest);
}

const EMPTY = new Uint8Array(0);
