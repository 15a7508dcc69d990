import { ConfigError, ConnectionClosedError } from '../errors.js';
import { concatBytes } from '../util/bytes.js';
import { checkOptions, shown } from '../util/check.js';
import {
  checkDelayOption,
  checkNumber,
  closeTimedOut,
  transportDefaults,
  type WaterMarkOptions,
  waterMarks,
} from './defaults.js';
import { type ChunkQueue, HandlerSlot, Inbox } from './inbox.js';
import type { Transport, TransportHandlers } from './types.js';

/**
 * An in-process connected pair for tests. Runtime-neutral (no node:* imports) so the same tests
 * can run in a browser. Deliveries are always asynchronous: a `send` never calls into the peer.
 */
export interface MemoryPairOptions extends WaterMarkOptions {
  /** 'stream' (default) behaves like TCP; 'message' keeps every send as one delivery. */
  framing?: 'stream' | 'message';
  /** Stream framing only: deliver pieces of at most this many bytes (pieces may join sends). */
  maxChunk?: number;
  /** With `maxChunk`: piece sizes are drawn from 1..maxChunk with this source of [0, 1) numbers. */
  rng?: () => number;
  /** ms every send spends in flight before reaching the peer; order is kept. */
  latency?: number;
  /**
   * ms a graceful close may take before the end destroys itself: with an error
   * (ConnectionClosedError) when bytes sent were still not delivered. Default 5000.
   */
  closeTimeout?: number;
  /** What the first and the second transport report as `remoteAddress`. */
  remoteAddresses?: readonly [string, string];
}

/** One end of `memoryPair()`: a transport that can also go dark. */
export interface MemoryTransport extends Transport {
  /**
   * Silently stops all delivery in both directions without closing either end: a peer gone dark.
   * Data in flight is lost and later sends still count as in flight, so a writer eventually sees
   * `send` return false, as it would over a dead TCP path.
   */
  blackhole(): void;
}

/**
 * A tiny deterministic xorshift32 generator with Math.random's range, for reproducible chunking.
 * The seed is taken as an int32 (`seed | 0`; 0 stands for a fixed default). A seed that is no
 * finite number is a ConfigError: `{}`, NaN or `'abc'` became 0, the default seed, with no word.
 */
export function seededRandom(seed: number): () => number {
  if (typeof seed !== 'number' || !Number.isFinite(seed)) {
    throw new ConfigError(`seededRandom() seed must be a finite number, got ${shown(seed)}`);
  }
  let x = seed | 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

let pairCount = 0;

/**
 * Two connected in-memory transports, for tests and in-process links: what one sends the other receives, with
 * the framing, chunking and latency the options ask for.
 */
export function memoryPair(options: MemoryPairOptions = {}): [MemoryTransport, MemoryTransport] {
  checkOptions('memoryPair()', options);
  const framing = options.framing ?? 'stream';
  if (framing !== 'stream' && framing !== 'message')
    throw new ConfigError(`unknown framing ${String(framing)}`);
  checkNumber('maxChunk', options.maxChunk, 1, true);
  checkDelayOption('latency', options.latency, 0);
  checkDelayOption('closeTimeout', options.closeTimeout, 0);
  if (framing === 'message' && options.maxChunk !== undefined) {
    throw new ConfigError('maxChunk re-chunks a byte stream; message framing keeps messages whole');
  }
  if (options.rng !== undefined && options.maxChunk === undefined)
    throw new ConfigError('rng needs maxChunk');
  // Checked as the others are: an rng that is no function threw a TypeError at the first send
  // (inside a delivery, not at the call), and remoteAddresses that are no pair at the call.
  if (options.rng !== undefined && typeof options.rng !== 'function') {
    throw new ConfigError(`option rng must be a function, got ${shown(options.rng)}`);
  }
  const names = options.remoteAddresses;
  if (
    names !== undefined &&
    (!Array.isArray(names) || names.length !== 2 || names.some((x) => typeof x !== 'string'))
  ) {
    throw new ConfigError(`option remoteAddresses must be two strings, got ${shown(names)}`);
  }
  const n = ++pairCount;
  const [nameA, nameB] = names ?? [`memory#${n}/b`, `memory#${n}/a`];
  const link: Link = { blackholed: false };
  const a = new MemoryEnd(framing, nameA, link, options);
  const b = new MemoryEnd(framing, nameB, link, options);
  a.connect(b);
  b.connect(a);
  return [a, b];
}

interface Link {
  blackholed: boolean;
}

/** Marks the end of one direction, queued behind the data like a TCP FIN. */
const EOF = Symbol('eof');

class MemoryEnd implements MemoryTransport {
  readonly framing: 'stream' | 'message';
  readonly remoteAddress: string;
  private peer!: MemoryEnd;
  readonly #slot = new HandlerSlot();
  private readonly inbox: Inbox;
  private readonly high: number;
  readonly #low: number;
  private readonly latency: number;
  private readonly closeTimeout: number;
  /** Bytes sent and not yet handed to the peer's data handler. */
  private inflight = 0;
  #needDrain = false;
  private state: 'open' | 'closing' | 'done' = 'open';
  #sentEof = false;
  #eofConsumed = false;
  #gotEof = false;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #transit: (Uint8Array | typeof EOF)[] = [];
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    framing: 'stream' | 'message',
    remoteAddress: string,
    private readonly link: Link,
    options: MemoryPairOptions,
  ) {
    this.framing = framing;
    this.remoteAddress = remoteAddress;
    ({ high: this.high, low: this.#low } = waterMarks(options, transportDefaults.memoryHighWaterMark));
    this.latency = options.latency ?? 0;
    this.closeTimeout = options.closeTimeout ?? transportDefaults.closeTimeout;
    const { maxChunk, rng } = options;
    const size = rng ? () => 1 + Math.floor(rng() * maxChunk!) : () => maxChunk!;
    this.inbox = new Inbox(this.#slot, {
      async: true,
      cut: maxChunk === undefined ? undefined : (q: ChunkQueue) => q.take(size()),
      delivered: (bytes) => this.peer.#consumed(bytes),
      ended: () => this.#onEof(),
    });
  }

  connect(peer: MemoryEnd): void {
    this.peer = peer;
  }

  get bufferedAmount(): number {
    return this.inflight;
  }

  get closed(): boolean {
    return this.state !== 'open' || this.#slot.closed;
  }

  attach(handlers: TransportHandlers): void {
    this.#slot.attach(handlers);
    this.inbox.kick();
  }

  /** `send` copies (below). */
  readonly copies = true;

  send(parts: readonly Uint8Array[]): boolean {
    if (this.closed) return false;
    // Always a copy: the receiver must never see a buffer the sender might reuse.
    const bytes = concatBytes(parts);
    if (bytes.length > 0 || this.framing === 'message') {
      this.inflight += bytes.length;
      this.#transmit(bytes);
    }
    if (this.inflight > this.high) this.#needDrain = true;
    return !this.#needDrain;
  }

  pauseReading(): void {
    this.inbox.pause();
  }

  resumeReading(): void {
    this.inbox.resume();
  }

  close(): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.#graceTimer = setTimeout(() => this.#giveUp(), this.closeTimeout);
    this.#sendEof();
  }

  /** The graceful close ran out of time: what the peer never took is dropped, so say so. */
  #giveUp(): void {
    this.#graceTimer = undefined;
    const unsent = this.inflight;
    this.destroy(closeTimedOut(this.remoteAddress, this.closeTimeout, unsent));
  }

  destroy(err?: Error): void {
    if (this.state === 'done') return;
    this.teardown();
    queueMicrotask(() => this.#slot.close(err));
    // A cut cable tells nobody; otherwise the peer learns at once, like a TCP reset.
    if (!this.link.blackholed && this.peer.state !== 'done') {
      this.peer.teardown();
      const peer = this.peer;
      queueMicrotask(() => peer.#slot.close(new ConnectionClosedError('peer destroyed the connection')));
    }
  }

  blackhole(): void {
    this.link.blackholed = true;
    for (const end of [this, this.peer]) {
      end.#dropTransit();
      end.inbox.clear();
    }
  }

  #transmit(item: Uint8Array | typeof EOF): void {
    if (this.link.blackholed) return;
    if (this.latency === 0) {
      this.#arrive(item);
      return;
    }
    // One timer per send, each moving the oldest item: order holds even if timers fire out of order.
    this.#transit.push(item);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const next = this.#transit.shift();
      if (next !== undefined) this.#arrive(next);
    }, this.latency);
    this.timers.add(timer);
  }

  #arrive(item: Uint8Array | typeof EOF): void {
    if (this.link.blackholed) return;
    if (item === EOF) this.peer.inbox.end();
    else this.peer.inbox.push(item);
  }

  #consumed(bytes: number): void {
    this.inflight -= bytes;
    if (this.#needDrain && this.inflight <= this.#low) {
      this.#needDrain = false;
      this.#slot.drain();
    }
  }

  #sendEof(): void {
    if (this.#sentEof) return;
    this.#sentEof = true;
    this.#transmit(EOF);
  }

  /** The peer's EOF was delivered here after all its data. */
  #onEof(): void {
    this.#gotEof = true;
    this.peer.#eofConsumed = true;
    this.peer.#maybeFinish();
    // Answer with our own end, as a TCP socket without allowHalfOpen does.
    if (this.state === 'open') this.state = 'closing';
    this.#sendEof();
    this.#maybeFinish();
  }

  #maybeFinish(): void {
    if (this.state === 'done' || !this.#gotEof || !this.#eofConsumed) return;
    this.teardown();
    this.#slot.close();
  }

  private teardown(): void {
    this.state = 'done';
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.#dropTransit();
    this.inbox.clear();
    this.#needDrain = false;
  }

  #dropTransit(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.#transit.length = 0;
  }
}
