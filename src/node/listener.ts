import { MAX_BACKLOG } from '../config.js';
import { AbortError, ConnectionClosedError } from '../errors.js';
import { checkInt, checkOptions, checkSignal } from '../util/check.js';
import { Deque } from '../util/deque.js';
import { Emitter } from '../util/emitter.js';
import { whenAborted } from '../util/signals.js';

/** The events of a Listener (`listener.on(event, fn)`) and the arguments of their listeners. */
export type ListenerEvents<S> = {
  /** A stream was accepted and no `accept()` was waiting for it. */
  stream: [S];
  /** The listener is closed. */
  close: [];
};

/**
 * The ConfigError text of a listen() on a virtual port that has a listener (a port has one, on a
 * node or a session): which one holds it, and what to do. A bare "is used" left a user guessing,
 * most of all when the session's node held the port through the other API.
 */
export function portTaken(port: number, by: string): string {
  return `listen port ${port} is used by ${by}: close that listener first, or listen on another port`;
}

/** What a listener needs of the streams it holds. */
export interface Destroyable {
  /** Ends the stream at once, with `err` if given. */
  destroy(err?: Error): unknown;
  /** True once the stream is gone; such streams are dropped from a backlog, never handed out. */
  readonly destroyed?: boolean;
  /** The stream's state machine, when it has one: a backlog stream dropped at close is refused. */
  readonly core?: {
    /** Ends the stream as refused: a reset of code 4 (REFUSED) carrying `message`. */
    refuse(message: string): void;
  };
}

interface Waiter<S> {
  resolve: (s: S) => void;
  reject: (e: Error) => void;
}

/**
 * A virtual port that accepts streams. New streams go to a waiting `accept()`, else to `'stream'`
 * listeners, else into a bounded backlog; when the backlog is full the dialer is refused with
 * `listener backlog full` (PROTOCOL.md 3.4).
 */
export class Listener<S extends Destroyable> extends Emitter<ListenerEvents<S>> {
  /** The virtual port listened on. */
  readonly port: number;
  readonly #backlogSize: number;
  private readonly backlog = new Deque<S>(4);
  readonly #waiters = new Deque<Waiter<S>>(2);
  /** @internal run once when the listener closes (unregisters it). */
  onClosed: ((l: Listener<S>) => void) | null = null;
  #_closed = false;
  /** A 'stream' handler came while streams waited in the backlog; they go to it first. */
  #draining = false;
  /**
   * The backlog was scanned for dead streams in this turn, and no stream of this port has ended
   * since (streamEnded): no scan is needed before the next turn. Without it, a flood of opens at
   * a full backlog scanned the whole backlog for each open (with a backlog of 8,192, 50,000
   * refused opens held the event loop 7.7 s). Cleared at the next microtask too: a stream that
   * failed with nobody listening is destroyed in a later turn.
   */
  #scanned = false;
  readonly #rescan = (): void => {
    this.#scanned = false;
  };

  /** Created by `listen()` on a node or a session. */
  constructor(port: number, backlog: number) {
    super();
    this.port = port;
    // Checked here for node and session listeners alike: a negative or NaN backlog refused every
    // open with `listener backlog full` instead of failing the call.
    this.#backlogSize = checkInt('option backlog', backlog, 0, MAX_BACKLOG);
  }

  /** True once the listener is closed. */
  get closed(): boolean {
    return this.#_closed;
  }

  /** Streams accepted by the node and not yet taken by the application. */
  get pending(): number {
    this.#prune();
    return this.backlog.length;
  }

  /** @internal a stream accepted on this port has ended: the backlog may hold a dead one. */
  streamEnded(): void {
    this.#scanned = false;
  }

  /** Forgets backlog streams that died before anyone took them (a reset right after the open). */
  #prune(): void {
    if (this.#scanned) return;
    this.#scanned = true;
    queueMicrotask(this.#rescan);
    let dead = false;
    for (const s of this.backlog) if (s.destroyed === true) dead = true;
    if (!dead) return;
    const live = [...this.backlog].filter((s) => s.destroyed !== true);
    this.backlog.clear();
    for (const s of live) this.backlog.push(s);
  }

  /**
   * @internal whether a new stream would be taken now. Runs for every open: the backlog is scanned
   * for dead streams only when it looks full (its length bounds the live count), not on each open.
   */
  canTake(): boolean {
    if (this.#_closed) return false;
    if (this.#waiters.length > 0 || this.listenerCount('stream') > 0) return true;
    return this.backlog.length < this.#backlogSize || this.pending < this.#backlogSize;
  }

  /** @internal hands over a stream whose ACK has been sent. */
  offer(s: S): void {
    const w = this.#waiters.shift();
    if (w) {
      w.resolve(s);
      return;
    }
    // While the backlog is being handed to a new handler, newer streams queue behind it.
    if (this.listenerCount('stream') > 0 && !this.#draining) {
      this.emit('stream', s);
      return;
    }
    this.backlog.push(s);
  }

  /**
   * A 'stream' handler added while streams wait in the backlog (accepted before anyone listened)
   * gets them, oldest first, a microtask later (so handlers added in the same tick share them and
   * none runs inside `on()`); without this they stayed there, accepted in the peer's eyes.
   */
  override on<K extends keyof ListenerEvents<S>>(
    event: K,
    fn: (...args: ListenerEvents<S>[K]) => void,
  ): this {
    super.on(event, fn);
    if (event === 'stream' && this.backlog.length > 0 && !this.#draining) {
      this.#draining = true;
      queueMicrotask(() => this.#drainBacklog());
    }
    return this;
  }

  #drainBacklog(): void {
    this.#draining = false;
    this.#prune();
    while (!this.#_closed && this.backlog.length > 0 && this.listenerCount('stream') > 0) {
      this.emit('stream', this.backlog.shift()!);
    }
  }

  /** The AbortError text of an accept(): which listener's, among a program's several. */
  #acceptAborted(): string {
    return `accept on port ${this.port} aborted`;
  }

  /** The next stream; rejects when the listener closes or `signal` aborts. */
  accept(options: { signal?: AbortSignal } = {}): Promise<S> {
    let signal: AbortSignal | undefined;
    try {
      signal = checkSignal('option signal', checkOptions('accept()', options).signal);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#prune();
    const s = this.backlog.shift();
    if (s !== undefined) return Promise.resolve(s);
    if (this.#_closed) return Promise.reject(new ConnectionClosedError('listener closed'));
    if (signal?.aborted)
      return Promise.reject(new AbortError(this.#acceptAborted(), { cause: signal.reason }));
    return new Promise<S>((resolve, reject) => {
      const w: Waiter<S> = { resolve, reject };
      if (signal) {
        // Heard through whenAborted: a pool of workers, each waiting in accept()
        // with the server's shutdown signal, share one listener on it. With a listener each, the
        // eleventh made Node.js warn of a leak (MaxListenersExceededWarning).
        const unlisten = whenAborted(signal, () => {
          this.#removeWaiter(w);
          reject(new AbortError(this.#acceptAborted(), { cause: signal.reason }));
        });
        w.resolve = (v) => {
          unlisten();
          resolve(v);
        };
        w.reject = (e) => {
          unlisten();
          reject(e);
        };
      }
      this.#waiters.push(w);
    });
  }

  /** The accepted streams, one `accept()` after another, until the listener is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<S> {
    while (true) {
      try {
        yield await this.accept();
      } catch (err) {
        if (this.#_closed) return;
        throw err;
      }
    }
  }

  /**
   * Stops accepting; accepted streams are unaffected. Streams still in the backlog were never the
   * application's: the peer hears they were refused (reset code 4, PROTOCOL.md 14.3), not
   * cancelled by an application (code 0); locally they close without an error.
   */
  close(): void {
    if (this.#_closed) return;
    this.#_closed = true;
    for (const s of this.backlog) {
      if (s.core !== undefined) s.core.refuse('listener closed');
      else s.destroy();
    }
    this.backlog.clear();
    const err = new ConnectionClosedError('listener closed');
    for (const w of this.#waiters) w.reject(err);
    this.#waiters.clear();
    this.onClosed?.(this);
    this.emit('close');
  }

  #removeWaiter(w: Waiter<S>): void {
    const rest = [...this.#waiters].filter((x) => x !== w);
    this.#waiters.clear();
    for (const x of rest) this.#waiters.push(x);
  }
}
