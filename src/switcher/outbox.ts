import { type Deferred, type QueuedFrame, Scheduler, type SchedulerSink, StreamQueue } from '../scheduler.js';
import type { Transport } from '../transport/types.js';
import { ownBytes } from '../util/bytes.js';
import { type TimerHandle, timeout } from '../util/timers.js';

/**
 * The frames waiting for one client, and the backpressure they exert on their sources.
 *
 * Switcher-made frames (replies, pings) use the scheduler's control queue. Frames forwarded from
 * other nodes use one ordered queue per source, as do the closes, resets and refusals the
 * switcher makes in a source's place (`sendAs`: behind that source's frames, and not counted as
 * dropped at a leave), so each source->destination pair keeps its order (PROTOCOL.md 7.5) and
 * sources share the destination's link by deficit round robin. When one
 * source's queue grows past `maxQueuePerSource`, or a source adds to a destination holding more
 * than `maxQueuePerClient`, that source's reading is paused until the backlog drains: the
 * switcher's memory stays bounded and nothing is dropped.
 *
 * A client that holds others back this way is paused itself while it does (a node that does not
 * read must not go on asking for answers that queue for it), and one that takes no byte for
 * `stallTimeout` meanwhile is reported stalled: its owner closes it, so one node that stops
 * reading cannot freeze the nodes that talk to it. A slow reader is not stalled, as long as its
 * progress shows within `stallTimeout`: progress is seen a write batch at a time, and over TCP
 * only as the kernel's send buffer frees a step of up to ~1.4 MB (docs/manual.md).
 */

/** Pauses a transport's reading while anything holds it. */
export class ReadGate {
  private readonly blockers = new Set<object>();
  private shut = false;
  /** Times reading was paused. */
  pauses = 0;

  constructor(private readonly transport: Transport) {}

  get paused(): boolean {
    return this.blockers.size > 0;
  }

  /** Paused by something other than `key` (a client's own pause: Outbox's, while it holds others back). */
  pausedBesides(key: object): boolean {
    return this.blockers.size > (this.blockers.has(key) ? 1 : 0);
  }

  block(key: object): void {
    if (this.shut || this.blockers.has(key)) return;
    if (this.blockers.size === 0) {
      this.pauses++;
      this.transport.pauseReading();
    }
    this.blockers.add(key);
  }

  unblock(key: object): void {
    if (!this.blockers.delete(key)) return;
    if (this.blockers.size === 0 && !this.shut) this.transport.resumeReading();
  }

  /** The client is leaving: forget every blocker and never pause again. */
  shutDown(): void {
    this.shut = true;
    this.blockers.clear();
  }
}

/**
 * Memory a waiting frame costs beyond its bytes (its header, queue entry and payload view: about
 * 300 bytes on Node.js 20). The queue bounds count it, so a flood of 11-byte frames stays within
 * them in memory too, not 27 times over.
 */
export const FRAME_COST = 256;

/** One source's frames towards this client; draining it lets the source read again. */
class SourceQueue extends StreamQueue {
  // The outbox itself, not a closure: a switcher keeps one queue per pair of nodes that talk, and
  // a closure (with its context) per queue cost ~100 bytes each (bench/scale.mjs).
  constructor(
    private readonly gate: ReadGate,
    private readonly box: { released(): void },
  ) {
    super();
    this.frameCost = FRAME_COST;
  }

  override onDrain(): void {
    this.gate.unblock(this);
    this.box.released();
  }
}

export interface OutboxLimits {
  maxQueuePerSource: number;
  maxQueuePerClient: number;
  quantum: number;
  maxBatchBytes: number;
  maxControlQueue: number;
  /** ms a client may hold other clients back without taking a byte; 0: never judged. */
  stallTimeout: number;
}

/** What the outbox needs of a source: the gate on its reading. */
export interface Source {
  readonly gate: ReadGate;
}

export class Outbox<S extends Source> implements Deferred {
  readonly scheduler: Scheduler;
  /** Bytes handed to the transport. */
  bytesOut = 0;
  /** Frames queued. */
  framesOut = 0;
  private readonly bySource = new Map<S, StreamQueue>();
  private readonly overTotal = new Set<S>();
  private pushed = 0;
  /** close() ran: nothing is queued any more, nor a queue made (one per source would stay). */
  private shut = false;
  /** Frames taken off a queue unsent (requeue): not waiting, though counted in framesOut. */
  private removed = 0;
  /** Queues created since the last sweep of empty ones. */
  private created = 0;
  /** Sources paused on this client's account: source queues over their bound, plus overTotal. */
  private holding = 0;
  private stallTimer: TimerHandle | undefined;
  /** bytesOut when the stall timer was armed: unchanged when it fires means no progress. */
  private stallMark = 0;
  /** Key of our own pause in our client's gate (the outbox itself keys the pauses of sources). */
  private readonly ownKey = {};
  /** A trim is deferred (trimSoon): 1, or 2 once it waited a turn for queued frames to go out. */
  private trimming = 0;

  /**
   * `own` gates the client's own reading (paused while it holds others back);
   * `onStall` is told when it has held them back for `stallTimeout` without taking a byte;
   * `onForget` of each source whose empty queue the outbox let go of (sweep), so that the owner's
   * record of who feeds it follows the queues, and is as bounded as they are;
   * `stillIdle`, asked when a deferred trim runs (trimSoon), whether the client is idle still;
   * `onLost` when the writer first finds the transport closed under the client (SchedulerSink.lost).
   */
  constructor(
    private readonly transport: Transport,
    private readonly limits: OutboxLimits,
    private readonly own?: ReadGate,
    private readonly onStall?: (held: number) => void,
    private readonly onForget?: (source: S) => void,
    private readonly stillIdle?: () => boolean,
    onLost?: () => void,
  ) {
    const sink: SchedulerSink = {
      framing: transport.framing,
      coalesce: transport.coalesce,
      send: (parts) => this.write(parts),
      // A transport that closed under the client (its peer ended it, and our end waits to finish)
      // drops what it is sent: handed to it, other nodes' frames counted as written to the client
      // (bytesOut) and went uncounted among the frames lost at its leave.
      get closed() {
        return transport.closed;
      },
      lost: () => onLost?.(),
    };
    this.scheduler = new Scheduler(sink, {
      quantum: limits.quantum,
      maxBatchBytes: limits.maxBatchBytes,
      maxControlQueue: limits.maxControlQueue,
    });
  }

  /** Whether close() ran: the client left, or its transport was lost. */
  get closed(): boolean {
    return this.shut;
  }

  /** Bytes queued and not yet handed to the transport. */
  get queuedBytes(): number {
    return this.pushed - this.scheduler.bytesWritten;
  }

  /** What the queued frames cost in memory, as the bounds count it (FRAME_COST per frame). */
  private get queuedCost(): number {
    return this.queuedBytes + (this.framesOut - this.removed - this.scheduler.framesWritten) * FRAME_COST;
  }

  /**
   * Queues a switcher-made frame ahead of forwarded traffic; throws LimitError when too many wait.
   * One the scheduler drops (the client closed, or its transport lost) is not counted: counted,
   * it stayed in queuedBytes and framesOut (the client's stats) as if waiting to go out.
   */
  control(h: Uint8Array, payload?: Uint8Array): void {
    // A full queue goes to the transport before overflow is judged (Scheduler.pushControl).
    if (!this.scheduler.pushControl(h, payload)) return;
    this.pushed += h.length + (payload?.length ?? 0);
    this.framesOut++;
  }

  /** Queues a frame from `from` behind that source's earlier frames; false once closed (dropped). */
  forward(from: S, h: Uint8Array, payload: Uint8Array): boolean {
    if (this.shut) return false;
    if (this.scheduler.isBlocked) {
      // A writer that waits for a drain is not run again until it comes, and from a transport
      // closed meanwhile none will: its loss is found here (a flush reports it, SchedulerSink.lost),
      // before what it can never send pauses the sources feeding it.
      if (this.transport.closed) this.scheduler.flush();
      if (this.shut) return false;
      // A payload that must wait (the client is not taking more) is copied when small, or a
      // one-byte frame would keep a whole read buffer alive beyond every bound.
      payload = ownBytes(payload);
    }
    const q = this.queueOf(from);
    // Dropped by a closed scheduler: nothing waits, nothing to count (as control).
    if (!this.scheduler.pushOrdered(q, h, payload)) return false;
    this.queued(from, q, h.length + payload.length);
    return true;
  }

  /**
   * Queues a frame the switcher made in `from`'s place (a close, reset or refusal as if from it)
   * behind `from`'s earlier frames, which it must not overtake. Marked as its own: lost at this
   * client's leave, it is no forwarded frame dropped (Scheduler.close).
   */
  sendAs(from: S, h: Uint8Array, payload: Uint8Array): void {
    this.sendAllAs(from, [{ header: h, payload, rest: null, size: payload.length, own: true }]);
  }

  /**
   * Queues `frames`, made by the switcher in `from`'s place and marked `own` (sendAs), in order
   * behind `from`'s earlier frames, with one push: a departed node's survivor gets a CloseStream
   * per stream, tens of thousands at once.
   */
  sendAllAs(from: S, frames: readonly QueuedFrame[]): void {
    if (frames.length === 0 || this.shut) return;
    const q = this.queueOf(from);
    // 0 bytes: a closed scheduler dropped them (every frame has a header), nothing to count.
    const bytes = this.scheduler.pushAll(q, frames);
    if (bytes > 0) this.queued(from, q, bytes, frames.length);
  }

  /** `n` frames of `bytes` joined `from`'s queue `q`: pause `from` if that put it over a bound. */
  private queued(from: S, q: StreamQueue, bytes: number, n = 1): void {
    const l = this.limits;
    this.pushed += bytes;
    this.framesOut += n;
    if (q.bytes > l.maxQueuePerSource && !q.needDrain) {
      q.needDrain = true;
      from.gate.block(q);
      this.hold();
    }
    if (this.queuedCost > l.maxQueuePerClient && !this.overTotal.has(from)) {
      this.overTotal.add(from);
      from.gate.block(this);
      this.hold();
    }
  }

  private queueOf(from: S): StreamQueue {
    let q = this.bySource.get(from);
    if (q === undefined) {
      // A queue per source ever seen would grow with every pair of nodes that once talked:
      // now and then forget the empty ones (amortised O(1) per new queue).
      if (++this.created > 64 && this.created * 2 > this.bySource.size) this.sweep();
      q = new SourceQueue(from.gate, this);
      q.lowWater = Math.floor(this.limits.maxQueuePerSource / 2);
      this.bySource.set(from, q);
    }
    return q;
  }

  /**
   * Rewrites what `source` has queued here (a source that left): `plan` gets its frames in order
   * and returns those to send, in the order they go, new ones included. Frames it leaves out are
   * dropped unsent; if that drains the queue enough, the wait it caused here ends. Returns how
   * many forwarded frames were dropped (not the switcher's own, QueuedFrame.own).
   */
  requeue(source: S, plan: (frames: readonly QueuedFrame[]) => QueuedFrame[]): number {
    if (this.shut) return 0;
    const q = this.queueOf(source);
    const old = this.scheduler.takeAll(q);
    const next = plan(old);
    // Usually nothing was queued (it had gone out): then every frame of `next` is new.
    const unsent = old.length === 0 ? null : new Set(old);
    for (const f of old) this.pushed -= f.header.length + f.size;
    let removed = old.length;
    for (const f of next) {
      this.pushed += f.header.length + f.size;
      if (unsent?.delete(f) === true) removed--;
      else this.framesOut++;
    }
    this.removed += removed;
    this.scheduler.pushAll(q, next);
    this.scheduler.settleDrain(q);
    // What `unsent` holds now was left out: the forwarded frames among it were dropped.
    let dropped = 0;
    if (unsent !== null) for (const f of unsent) if (f.own !== true) dropped++;
    return dropped;
  }

  /** Sources paused on this client's account now. */
  get held(): number {
    return this.holding;
  }

  /** Key of this client's own pause in its gate (while it holds others back). */
  get ownPause(): object {
    return this.ownKey;
  }

  /**
   * One more source paused on our account. The first pauses our own reading too, as TCP would: a
   * client whose answers cannot be delivered must not go on sending requests (pings, opens) that
   * make more of them. It also starts the stall clock.
   */
  private hold(): void {
    if (this.holding++ > 0) return;
    this.own?.block(this.ownKey);
    this.armStall();
  }

  /** A source paused on our account may read again; with none left, so may we. @internal */
  released(): void {
    if (this.holding === 0 || --this.holding > 0) return;
    this.own?.unblock(this.ownKey);
    if (this.stallTimer !== undefined) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  /**
   * Reports a client that took no byte for `stallTimeout` while holding others back. A slow one
   * whose progress shows within that time is not stalled (the file comment says how it shows).
   */
  private armStall(): void {
    const ms = this.limits.stallTimeout;
    if (ms === 0) return;
    this.stallMark = this.bytesOut;
    this.stallTimer = timeout(() => {
      this.stallTimer = undefined;
      if (this.holding === 0) return;
      if (this.bytesOut !== this.stallMark) this.armStall();
      else this.onStall?.(this.holding);
    }, ms);
  }

  /**
   * The client has nothing in flight any more (no stream, dial or close): once what is queued has
   * gone out, forget every empty queue. Left to the sweep, those of the few nodes it talked to
   * stayed until 64 new ones came, ~160 B a pair with nothing to carry (most of what the switcher
   * kept once the streams of bench/scale.mjs closed). Idle clients only, so a busy pair keeps its
   * queue between frames: the client is asked again when the trim runs (stillIdle).
   */
  trimSoon(): void {
    if (this.trimming !== 0) return;
    this.trimming = 1;
    this.scheduler.defer(this);
  }

  /** The deferred trim (Scheduler.defer). Published: Outbox implements Deferred in the .d.ts too. */
  runDeferred(): void {
    // The client may be busy again by now: a frame read after the one that left it idle (a close
    // and a new open in one chunk) put something in flight, whose answers come through these
    // queues. Trimmed, the next frame made one anew. Its next idle moment defers a trim again.
    if (this.stillIdle?.() === false) {
      this.trimming = 0;
      return;
    }
    // The frame that left the client idle (a close, its ACK) may wait for a flush scheduled after
    // this task: look once more after it. A queue that still waits then is left to the sweep.
    if (this.trimming === 1 && this.queuedBytes > 0 && !this.scheduler.isBlocked) {
      this.trimming = 2;
      this.scheduler.defer(this);
      return;
    }
    this.trimming = 0;
    this.sweep();
  }

  /**
   * Forgets the queues of sources with nothing waiting and nothing paused. A source paused on our
   * total keeps its queue though empty: its owner finds us through it at its leave (forget), which
   * releases the pause, as onForget has told it to stop looking.
   */
  private sweep(): void {
    this.created = 0;
    for (const [src, q] of this.bySource) {
      if (q.bytes !== 0 || q.needDrain || this.overTotal.has(src)) continue;
      this.bySource.delete(src);
      this.onForget?.(src);
    }
  }

  /**
   * The client is closed as the switcher shuts down: hands the transport all that is queued, past
   * its high-water mark, before it is closed. A closed transport takes nothing more, so what a
   * backed-up client had queued here was lost at its close, with the resets of the shutdown
   * queued ahead of it: its streams failed with the bare end of the connection, as after a crash.
   * Nothing more is queued for a closing client, and its transport's close bounds how long it may
   * take to read it.
   */
  flushAll(): void {
    const s = this.scheduler;
    s.flush();
    while (s.isBlocked) {
      const before = s.framesWritten;
      // Lifts the wait for the transport's drain; the flush it schedules finds nothing left.
      s.drain();
      s.flush();
      if (s.framesWritten === before) return;
    }
  }

  /** Sources with a queue here (for tests and stats). */
  get sources(): number {
    return this.bySource.size;
  }

  /** A source left: its frames already queued still go out, but it is no longer paused for them. */
  forget(source: S): void {
    const q = this.bySource.get(source);
    // Its queued frames still drain, but must not wake the departed source's reading.
    if (q?.needDrain) {
      q.needDrain = false;
      this.released();
    }
    this.bySource.delete(source);
    if (this.overTotal.delete(source)) this.released();
  }

  /**
   * This client is leaving: nothing more is queued for it, so no source waits on what is (it
   * still goes out if the client takes it). Else a client that stopped reading and was kicked
   * kept its sources paused, with all their other streams, until its close timed out.
   */
  releaseSources(): void {
    for (const [src, q] of this.bySource) {
      if (!q.needDrain) continue;
      q.needDrain = false;
      src.gate.unblock(q);
    }
    for (const src of this.overTotal) src.gate.unblock(this);
    this.overTotal.clear();
    if (this.holding > 0) this.own?.unblock(this.ownKey);
    this.holding = 0;
    if (this.stallTimer !== undefined) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  /**
   * This client left: drop what is queued and release every source it paused. Returns how many
   * forwarded frames were dropped (Scheduler.close counts the sources' queues but not the
   * switcher's own frames: its replies and pings, nor the closes, resets and refusals it queued
   * in a source's place, `sendAs`; a refusal's request was counted as dropped when it was refused).
   */
  close(): number {
    this.shut = true;
    const dropped = this.scheduler.close();
    // Nothing waits any more: queuedBytes (the client's stats at its leave) says so.
    this.pushed = this.scheduler.bytesWritten;
    for (const [src, q] of this.bySource) src.gate.unblock(q);
    for (const src of this.overTotal) src.gate.unblock(this);
    this.bySource.clear();
    this.overTotal.clear();
    if (this.holding > 0) this.own?.unblock(this.ownKey);
    this.holding = 0;
    if (this.stallTimer !== undefined) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    return dropped;
  }

  private write(parts: readonly Uint8Array[]): boolean {
    for (const p of parts) this.bytesOut += p.length;
    const ok = this.transport.send(parts);
    if (this.overTotal.size > 0 && this.queuedCost <= this.limits.maxQueuePerClient / 2) {
      const waiting = [...this.overTotal];
      this.overTotal.clear();
      for (const s of waiting) {
        s.gate.unblock(this);
        this.released();
      }
    }
    return ok;
  }
}
