import type { Transport, TransportHandlers } from './types.js';

/**
 * Lets a transport change hands: admission reads the first frame with its own handlers, then a
 * Node (or a switcher client) attaches to `view()` and receives whatever arrived in between.
 * A transport accepts handlers only once, so this object stays attached and forwards.
 */
export class Handoff implements TransportHandlers {
  readonly transport: Transport;
  private current: TransportHandlers | null;
  private held: Uint8Array[] = [];
  private heldClose: { err: Error | undefined } | null = null;
  /** The view's handlers between their attach and the replay that makes them `current`. */
  private attaching: TransportHandlers | null = null;

  constructor(transport: Transport, first: TransportHandlers) {
    this.transport = transport;
    this.current = first;
    transport.attach(this);
  }

  data(chunk: Uint8Array): void {
    if (this.current) this.current.data(chunk);
    else this.held.push(chunk);
  }

  drain(): void {
    // Nothing to hold here: a drain is owed to whoever sent, the view's handlers as soon as attached.
    (this.current ?? this.attaching)?.drain();
  }

  close(err?: Error): void {
    if (this.current) this.current.close(err);
    else this.heldClose = { err };
  }

  /** Stops forwarding; events are held until `view()` is attached. `leftover` is replayed first. */
  detach(leftover: Uint8Array[] = []): void {
    this.current = null;
    this.held = leftover.concat(this.held);
  }

  /** A Transport whose `attach` takes over the forwarding and replays held events. */
  view(): Transport {
    const t = this.transport;
    const attach = (h: TransportHandlers): void => {
      // Handlers are never called from inside attach, so the replay waits for a microtask; until
      // it runs, new data joins the held data. Forwarding sooner would let a delivery the
      // transport already queued (its inbox flushes from a microtask) overtake it.
      this.attaching = h;
      queueMicrotask(() => {
        this.attaching = null;
        const held = this.held;
        this.held = [];
        const heldClose = this.heldClose;
        this.heldClose = null;
        this.current = h;
        for (const c of held) h.data(c);
        if (heldClose) h.close(heldClose.err);
      });
    };
    return {
      get framing() {
        return t.framing;
      },
      get coalesce() {
        return t.coalesce;
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
      send: (parts) => t.send(parts),
      attach,
      pauseReading: () => t.pauseReading(),
      resumeReading: () => t.resumeReading(),
      close: () => t.close(),
      destroy: (err) => t.destroy(err),
    };
  }
}
