import { ConfigError } from '../errors.js';
import type { Transport, TransportHandlers } from './types.js';

/**
 * Lets a transport change hands: admission reads the first frame with its own handlers, then a
 * Node (or a switcher client) attaches to `view()` and receives whatever arrived in between.
 * A transport accepts handlers only once, so this object stays attached and forwards. Between
 * `detach` and the view's attach the transport is paused: what arrives then is bounded by the
 * transport's own pause, not held here without bound.
 */
export class Handoff implements TransportHandlers {
  readonly transport: Transport;
  private current: TransportHandlers | null;
  private held: Uint8Array[] = [];
  #heldClose: { err: Error | undefined } | null = null;
  /** The view's handlers between their attach and the replay that makes them `current`. */
  #attaching: TransportHandlers | null = null;
  /** The view was attached (a transport takes handlers once). */
  #viewAttached = false;
  /** The view's reader paused: held data waits, as the transport's own would. */
  private paused = false;
  /**
   * Detached, view not attached yet: the transport is paused meanwhile, so what arrives before the
   * view reads is bounded by the transport's own pause (and the sender feels it), not held here.
   */
  #waitingForView = false;
  #replayScheduled = false;
  readonly #replayNow = (): void => {
    this.#replayScheduled = false;
    this.replay();
  };

  constructor(transport: Transport, first: TransportHandlers) {
    this.transport = transport;
    this.current = first;
    transport.attach(this);
  }

  data(chunk: Uint8Array): void {
    // Behind anything still held (a paused replay), or it would overtake it.
    if (this.current && this.held.length === 0) this.current.data(chunk);
    else this.held.push(chunk);
  }

  drain(): void {
    // Nothing to hold here: a drain is owed to whoever sent, the view's handlers as soon as attached.
    (this.current ?? this.#attaching)?.drain();
  }

  close(err?: Error): void {
    // A failure drops what a paused reader still holds, as a transport's own inbox does; a clean
    // end waits behind it. Before the view is attached both are kept and replayed.
    if (this.current && err !== undefined) this.held = [];
    if (this.current && this.held.length === 0) this.current.close(err);
    else this.#heldClose = { err };
  }

  /**
   * Stops forwarding; events are held until `view()` is attached. `leftover` is replayed first.
   * The transport is paused until then, so nothing piles up here beyond what it had delivered.
   */
  detach(leftover: Uint8Array[] = []): void {
    this.current = null;
    this.held = leftover.concat(this.held);
    if (!this.#viewAttached && !this.#waitingForView) {
      this.#waitingForView = true;
      this.transport.pauseReading();
    }
  }

  /** A Transport whose `attach` takes over the forwarding and replays held events. */
  view(): Transport {
    const t = this.transport;
    const attach = (h: TransportHandlers): void => {
      if (this.#viewAttached) throw new ConfigError('transport handlers are already attached');
      this.#viewAttached = true;
      // Handlers are never called from inside attach, so the replay waits for a microtask; until
      // it runs, new data joins the held data. Forwarding sooner would let a delivery the
      // transport already queued (its inbox flushes from a microtask) overtake it.
      this.#attaching = h;
      queueMicrotask(() => {
        this.#attaching = null;
        this.current = h;
        this.replay();
        if (!this.#waitingForView) return;
        this.#waitingForView = false;
        if (!this.paused) t.resumeReading();
      });
    };
    return {
      get framing() {
        return t.framing;
      },
      get coalesce() {
        return t.coalesce;
      },
      get releasesLater() {
        return t.releasesLater;
      },
      get copies() {
        return t.copies;
      },
      get remoteAddress() {
        return t.remoteAddress;
      },
      get bufferedAmount() {
        return t.bufferedAmount;
      },
      get closed() {
        return t.closed;
      },
      send: (parts, onReleased) => t.send(parts, onReleased),
      attach,
      pauseReading: () => {
        this.paused = true;
        t.pauseReading();
      },
      resumeReading: () => {
        this.paused = false;
        // What is held goes first, from a microtask (resumeReading calls no handler itself);
        // whatever the transport delivers meanwhile queues behind it.
        if (this.held.length > 0 || this.#heldClose !== null) this.#scheduleReplay();
        // Until the view is attached the transport stays paused: the attach resumes it.
        if (!this.#waitingForView) t.resumeReading();
      },
      close: () => t.close(),
      destroy: (err) => {
        // Destroy drops what is held; a close already held behind it is owed now (the transport,
        // closed already, reports no other).
        this.held = [];
        if (this.#heldClose !== null) this.#scheduleReplay();
        t.destroy(err);
      },
    };
  }

  #scheduleReplay(): void {
    if (this.#replayScheduled) return;
    this.#replayScheduled = true;
    queueMicrotask(this.#replayNow);
  }

  /** Hands held data to the view's handlers until they pause; then the held close, if any. */
  private replay(): void {
    const h = this.current;
    if (h === null || this.#attaching !== null) return;
    let i = 0;
    while (i < this.held.length && !this.paused && this.current === h) h.data(this.held[i++]);
    this.held = this.held.slice(i);
    if (this.held.length > 0 || this.#heldClose === null) return;
    const { err } = this.#heldClose;
    this.#heldClose = null;
    h.close(err);
  }
}
