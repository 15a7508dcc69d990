import { ConfigError } from '../errors.js';
import type { TransportHandlers } from './types.js';

/**
 * The one set of handlers a transport reports to. `close` is reported exactly once, and a close
 * that happens before `attach` is held and reported (asynchronously) when the handlers arrive.
 */
export class HandlerSlot {
  private handlers: TransportHandlers | undefined;
  #closeReported = false;
  #heldClose: { err: Error | undefined } | undefined;

  get attached(): boolean {
    return this.handlers !== undefined;
  }

  /** True once close was reported or is held for `attach`. */
  get closed(): boolean {
    return this.#closeReported;
  }

  attach(handlers: TransportHandlers): void {
    if (this.handlers !== undefined) throw new ConfigError('transport handlers are already attached');
    this.handlers = handlers;
    const held = this.#heldClose;
    if (held !== undefined) {
      this.#heldClose = undefined;
      queueMicrotask(() => handlers.close(held.err));
    }
  }

  data(chunk: Uint8Array): void {
    if (!this.#closeReported) this.handlers?.data(chunk);
  }

  drain(): void {
    if (!this.#closeReported) this.handlers?.drain();
  }

  close(err?: Error): void {
    if (this.#closeReported) return;
    this.#closeReported = true;
    if (this.handlers !== undefined) this.handlers.close(err);
    else this.#heldClose = { err };
  }
}

/** FIFO of byte chunks that can hand out pieces of any size (cutting and joining chunks). */
export class ChunkQueue {
  private items: Uint8Array[] = [];
  private head = 0;
  /** Total bytes queued. */
  bytes = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(chunk: Uint8Array): void {
    this.items.push(chunk);
    this.bytes += chunk.length;
  }

  /** The oldest chunk, whole. */
  shift(): Uint8Array {
    const chunk = this.items[this.head];
    this.items[this.head++] = EMPTY;
    // Compact now and then so a long-lived queue does not keep a growing array of holes.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.bytes -= chunk.length;
    return chunk;
  }

  /** Up to `max` bytes from the front: a view when one chunk covers it, a copy when it spans chunks. */
  take(max: number): Uint8Array {
    const first = this.items[this.head];
    if (first.length === max) return this.shift();
    if (first.length > max) {
      this.items[this.head] = first.subarray(max);
      this.bytes -= max;
      return first.subarray(0, max);
    }
    const out = new Uint8Array(Math.min(max, this.bytes));
    let off = 0;
    while (off < out.length) {
      const chunk = this.items[this.head];
      const n = Math.min(chunk.length, out.length - off);
      out.set(n === chunk.length ? chunk : chunk.subarray(0, n), off);
      off += n;
      if (n === chunk.length) this.shift();
      else {
        this.items[this.head] = chunk.subarray(n);
        this.bytes -= n;
      }
    }
    return out;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    this.bytes = 0;
  }
}

const EMPTY = new Uint8Array(0);

/** Bytes delivered per turn before yielding to the event loop, so timers (heartbeats) still run. */
const FLUSH_BUDGET = 1024 * 1024;

export interface InboxHooks {
  /** Never deliver from inside `push`; always queue and flush from a microtask. */
  async?: boolean;
  /** Cuts the next piece to deliver; default: the oldest chunk whole (keeps message boundaries). */
  cut?(queue: ChunkQueue): Uint8Array;
  /** Bytes handed to the data handler (for the sender's in-flight accounting). */
  delivered?(bytes: number): void;
  /** Everything queued before `end` was delivered. Called once. */
  ended(): void;
  /**
   * Bytes the inbox may hold; a chunk that would take it past this is dropped and `overflow`
   * called instead (for a transport that cannot pause its peer). Default: no bound.
   */
  maxHeld?: number;
  /** A chunk was dropped at `maxHeld`; `held` is what is queued. */
  overflow?(held: number): void;
}

/**
 * The receive side shared by all transports: holds data until `attach`, while paused, or while
 * earlier data is still queued, so order is kept and a graceful end is reported only after the
 * data that preceded it.
 */
export class Inbox {
  private readonly queue = new ChunkQueue();
  private paused = false;
  private state: 'open' | 'ending' | 'ended' = 'open';
  #scheduled = false;
  #flushing = false;
  readonly #flushNow = (): void => this.flush();

  constructor(
    private readonly slot: HandlerSlot,
    private readonly hooks: InboxHooks,
  ) {}

  get queuedBytes(): number {
    return this.queue.bytes;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  push(chunk: Uint8Array): void {
    if (this.state !== 'open') return;
    if (!this.hooks.async && !this.#flushing && this.queue.length === 0 && this.ready()) {
      this.hooks.delivered?.(chunk.length);
      this.slot.data(chunk);
      return;
    }
    // Only what is held counts: a chunk handed over at once (above) never does.
    const max = this.hooks.maxHeld;
    if (max !== undefined && this.queue.bytes + chunk.length > max) {
      this.hooks.overflow?.(this.queue.bytes);
      return;
    }
    this.queue.push(chunk);
    this.schedule();
  }

  /** No more data will come; report `ended` once what is queued has been delivered. */
  end(): void {
    if (this.state !== 'open') return;
    this.state = 'ending';
    this.schedule();
  }

  /** Drops everything queued and delivers nothing more (the connection died). */
  clear(): void {
    this.queue.clear();
    this.state = 'ended';
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  /** Call after `attach` so data held before it starts flowing. */
  kick(): void {
    this.schedule();
  }

  private ready(): boolean {
    return this.slot.attached && !this.paused && !this.slot.closed;
  }

  private schedule(): void {
    if (this.#scheduled || this.#flushing) return;
    this.#scheduled = true;
    queueMicrotask(this.#flushNow);
  }

  private flush(): void {
    this.#scheduled = false;
    if (this.state === 'ended') return;
    this.#flushing = true;
    let budget = FLUSH_BUDGET;
    try {
      while (budget > 0 && this.queue.length > 0 && this.ready()) {
        const piece = this.hooks.cut ? this.hooks.cut(this.queue) : this.queue.shift();
        budget -= Math.max(1, piece.length);
        this.hooks.delivered?.(piece.length);
        this.slot.data(piece);
      }
    } finally {
      this.#flushing = false;
    }
    if (this.queue.length > 0) {
      // Out of budget: continue on a timer (not a microtask) so the event loop gets a turn.
      if (this.ready() && !this.#scheduled) {
        this.#scheduled = true;
        setTimeout(this.#flushNow, 0);
      }
      return;
    }
    if (this.state === 'ending' && this.slot.attached) {
      this.state = 'ended';
      this.hooks.ended();
    }
  }
}
