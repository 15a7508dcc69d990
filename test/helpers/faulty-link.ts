import { ConnectionClosedError } from '../../src/errors.js';
import type { Transport, TransportHandlers } from '../../src/transport/types.js';
import { concatBytes } from '../../src/util/bytes.js';

/**
 * An in-process connected pair of transports whose wire misbehaves on demand: latency and
 * jitter (order kept, like TCP), a bandwidth cap, re-chunking, a silent black hole (no FIN, no
 * RST), a reset after N more bytes (mid-frame if N says so), and a truncation (clean end after N
 * more bytes). It implements the Transport contract of src/transport/types.ts: handlers are never
 * called synchronously from send/close/destroy/resumeReading, close is reported exactly once, and
 * `send` returns false over the high-water mark until `drain`.
 */

export interface FaultyLinkOptions {
  framing?: 'stream' | 'message';
  /** One-way delay in ms. */
  latency?: number;
  /** Extra random delay in ms, 0..jitter, added per send; order is still kept. */
  jitter?: number;
  /** Bytes per second per direction; 0 or undefined: unlimited. */
  bandwidth?: number;
  /** Stream framing: deliver pieces of at most this many bytes. */
  maxChunk?: number;
  /** Bytes in flight (sent, not yet handed to the peer) above which `send` returns false. */
  highWaterMark?: number;
  /** Source of [0, 1) numbers for jitter and chunking. */
  rng?: () => number;
  /** What the first and the second end report as `remoteAddress`. */
  remoteAddresses?: readonly [string, string];
}

type Item = { kind: 'data'; bytes: Uint8Array; at: number } | { kind: 'eof'; at: number };

/** What happens when a direction's byte budget runs out. */
type Cut = { left: number; mode: 'reset' | 'truncate' };

let linkCount = 0;

/** One direction of the wire: from `src` to `dst`. */
class Pipe {
  readonly items: Item[] = [];
  /** Bytes sent into this pipe and not yet handed to the receiver's data handler. */
  inflight = 0;
  /** Bytes handed to the receiver in total. */
  delivered = 0;
  private txFree = 0;
  private lastAt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  cut: Cut | null = null;

  constructor(
    readonly link: FaultyLinkImpl,
    readonly dst: FaultyEnd,
  ) {}

  push(bytes: Uint8Array | null): void {
    const o = this.link.options;
    const t = performance.now();
    let depart = t;
    if (bytes !== null && o.bandwidth) {
      this.txFree = Math.max(this.txFree, t) + (bytes.length / o.bandwidth) * 1000;
      depart = this.txFree;
    }
    const jitter = o.jitter ? this.link.rng() * o.jitter : 0;
    const at = Math.max(this.lastAt, depart + (o.latency ?? 0) + jitter);
    this.lastAt = at;
    if (bytes === null) this.items.push({ kind: 'eof', at });
    else {
      this.inflight += bytes.length;
      this.items.push({ kind: 'data', bytes, at });
    }
    this.arm();
  }

  arm(): void {
    if (this.timer !== null || this.items.length === 0 || this.link.dark) return;
    const wait = Math.max(0, this.items[0].at - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.run();
    }, wait);
  }

  /** Delivers every item that is due, unless the receiver paused its reading. */
  run(): void {
    const t = performance.now();
    while (this.items.length > 0 && !this.link.dark && !this.dst.isPaused && !this.dst.done) {
      const item = this.items[0];
      if (item.at > t) break;
      this.items.shift();
      if (item.kind === 'eof') {
        this.dst.eofArrived();
        continue;
      }
      this.deliver(item.bytes);
    }
    this.arm();
  }

  private deliver(bytes: Uint8Array): void {
    let b = bytes;
    if (this.cut !== null && b.length >= this.cut.left) {
      const cut = this.cut;
      const head = b.subarray(0, cut.left);
      this.inflight -= b.length;
      this.cut = null;
      if (head.length > 0) this.hand(head);
      this.link.sever(cut.mode);
      return;
    }
    if (this.cut !== null) this.cut.left -= b.length;
    const max = this.link.options.maxChunk;
    this.inflight -= b.length;
    if (max === undefined || this.dst.framing === 'message') {
      this.hand(b);
      return;
    }
    while (b.length > 0) {
      const n = Math.max(1, Math.min(b.length, 1 + Math.floor(this.link.rng() * max)));
      this.hand(b.subarray(0, n));
      b = b.subarray(n);
    }
  }

  private hand(b: Uint8Array): void {
    this.delivered += b.length;
    this.dst.receive(b);
    this.link.sourceOf(this).released();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  clear(): void {
    this.stop();
    this.items.length = 0;
  }
}

export class FaultyEnd implements Transport {
  readonly framing: 'stream' | 'message';
  readonly remoteAddress: string;
  private handlers: TransportHandlers | null = null;
  private held: Uint8Array[] = [];
  private heldClose: { err: Error | undefined } | null = null;
  private paused = false;
  private needDrain = false;
  private closeTimer: ReturnType<typeof setTimeout> | null = null;
  /** close() or destroy() was called here, or the link ended. */
  private ended = false;
  /** The close handler was reported (or is held for attach). */
  done = false;
  out!: Pipe;
  peer!: FaultyEnd;

  constructor(
    private readonly link: FaultyLinkImpl,
    framing: 'stream' | 'message',
    remoteAddress: string,
  ) {
    this.framing = framing;
    this.remoteAddress = remoteAddress;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  get bufferedAmount(): number {
    return this.out.inflight;
  }

  get closed(): boolean {
    return this.ended || this.done;
  }

  attach(handlers: TransportHandlers): void {
    if (this.handlers !== null) throw new Error('handlers already attached');
    this.handlers = handlers;
    queueMicrotask(() => this.flushHeld());
  }

  send(parts: readonly Uint8Array[]): boolean {
    if (this.closed) return false;
    const bytes = concatBytes(parts);
    if (bytes.length > 0 || this.framing === 'message') this.out.push(bytes);
    if (this.out.inflight > this.link.highWater) this.needDrain = true;
    return !this.needDrain;
  }

  pauseReading(): void {
    this.paused = true;
  }

  resumeReading(): void {
    if (!this.paused) return;
    this.paused = false;
    queueMicrotask(() => this.peer.out.run());
  }

  close(): void {
    if (this.closed) return;
    this.ended = true;
    this.out.push(null);
    // A peer that never answers (black hole) must not hold us forever.
    this.closeTimer = setTimeout(() => this.destroy(), 2_000);
  }

  destroy(err?: Error): void {
    if (this.done) return;
    this.ended = true;
    this.out.clear();
    this.report(err);
    if (!this.link.dark && !this.peer.done) {
      this.peer.ended = true;
      this.peer.out.clear();
      this.peer.report(new ConnectionClosedError('peer destroyed the connection'));
    }
  }

  /** @internal bytes from the peer. */
  receive(b: Uint8Array): void {
    if (this.handlers === null) this.held.push(b);
    else this.handlers.data(b);
  }

  /** @internal the peer's end of stream, behind all its data. */
  eofArrived(): void {
    // Like a TCP socket without allowHalfOpen: answer with our own end, then both are closed.
    this.ended = true;
    this.out.clear();
    this.report();
    if (!this.peer.done) {
      this.peer.ended = true;
      this.peer.report();
    }
  }

  /** @internal bytes this end sent were handed to the peer. */
  released(): void {
    if (this.needDrain && this.out.inflight <= this.link.highWater / 2) {
      this.needDrain = false;
      queueMicrotask(() => {
        if (!this.done) this.handlers?.drain();
      });
    }
  }

  /** @internal reports the close once, asynchronously. */
  report(err?: Error): void {
    if (this.done) return;
    this.done = true;
    this.out.stop();
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    if (this.handlers === null) {
      this.heldClose = { err };
      return;
    }
    const h = this.handlers;
    queueMicrotask(() => h.close(err));
  }

  private flushHeld(): void {
    const held = this.held;
    this.held = [];
    for (const b of held) this.handlers?.data(b);
    if (this.heldClose !== null) {
      const c = this.heldClose;
      this.heldClose = null;
      this.handlers?.close(c.err);
    }
  }
}

class FaultyLinkImpl {
  readonly a: FaultyEnd;
  readonly b: FaultyEnd;
  readonly highWater: number;
  readonly rng: () => number;
  dark = false;

  constructor(readonly options: FaultyLinkOptions) {
    const n = ++linkCount;
    const [nameA, nameB] = options.remoteAddresses ?? [`faulty#${n}/b`, `faulty#${n}/a`];
    const framing = options.framing ?? 'stream';
    this.highWater = options.highWaterMark ?? 1024 * 1024;
    this.rng = options.rng ?? Math.random;
    this.a = new FaultyEnd(this, framing, nameA);
    this.b = new FaultyEnd(this, framing, nameB);
    this.a.peer = this.b;
    this.b.peer = this.a;
    this.a.out = new Pipe(this, this.b);
    this.b.out = new Pipe(this, this.a);
  }

  sourceOf(p: Pipe): FaultyEnd {
    return p === this.a.out ? this.a : this.b;
  }

  sever(mode: 'reset' | 'truncate'): void {
    for (const end of [this.a, this.b]) {
      end.out.clear();
      if (mode === 'reset') end.report(new ConnectionClosedError('connection reset by the faulty link'));
      else end.report();
    }
  }
}

export interface FaultyLink {
  readonly a: FaultyEnd;
  readonly b: FaultyEnd;
  /** Silently drops everything in flight and everything sent from now on; nobody is told. */
  blackhole(): void;
  /**
   * After `bytes` more bytes in direction `dir` (a->b or b->a; bytes already in flight count),
   * both ends fail with a reset: the receiver is left with a partial frame if `bytes` says so.
   */
  resetAfter(bytes: number, dir?: 'a->b' | 'b->a'): void;
  /** Like resetAfter, but both ends see a clean end of stream (a truncating middlebox). */
  truncateAfter(bytes: number, dir?: 'a->b' | 'b->a'): void;
  /** Bytes handed to the receiving end, per direction. */
  delivered(): { aToB: number; bToA: number };
  /** Stops every timer and destroys both ends. */
  dispose(): void;
}

export function faultyLink(options: FaultyLinkOptions = {}): FaultyLink {
  const link = new FaultyLinkImpl(options);
  const pipe = (dir: 'a->b' | 'b->a'): Pipe => (dir === 'a->b' ? link.a.out : link.b.out);
  return {
    a: link.a,
    b: link.b,
    blackhole() {
      link.dark = true;
      link.a.out.clear();
      link.b.out.clear();
    },
    resetAfter(bytes, dir = 'a->b') {
      pipe(dir).cut = { left: bytes, mode: 'reset' };
    },
    truncateAfter(bytes, dir = 'a->b') {
      pipe(dir).cut = { left: bytes, mode: 'truncate' };
    },
    delivered: () => ({ aToB: link.a.out.delivered, bToA: link.b.out.delivered }),
    dispose() {
      link.a.out.clear();
      link.b.out.clear();
      link.a.destroy();
      link.b.destroy();
    },
  };
}
