import type { Transport, TransportHandlers } from '../../src/transport/types.js';

/**
 * Wraps a transport as a socket whose kernel buffer is full: sends are kept by reference, not
 * copied, until `pass()` hands them on (the inner transport copies) and reports their release,
 * in order, as a socket's write callbacks do. `send` says "wait" once `high` sends are held.
 */
export class Holding implements Transport {
  readonly releasesLater = true;
  private readonly held: { parts: Uint8Array[]; onReleased: (() => void) | undefined }[] = [];
  private handlers: TransportHandlers | null = null;
  private needDrain = false;
  /** Sends made, and those whose release was reported. */
  sends = 0;
  released = 0;
  /** Sends made with an `onReleased` (none unless the node watches releases). */
  asked = 0;
  /** While true every send is passed on in a microtask (a socket whose kernel takes all). */
  auto = false;

  constructor(
    private readonly inner: Transport,
    private readonly high = 4,
  ) {}

  get framing(): 'stream' | 'message' {
    return this.inner.framing;
  }
  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }
  get bufferedAmount(): number {
    return this.inner.bufferedAmount;
  }
  get closed(): boolean {
    return this.inner.closed;
  }
  /** Sends held now. */
  get holding(): number {
    return this.held.length;
  }

  send(parts: readonly Uint8Array[], onReleased?: () => void): boolean {
    this.sends++;
    if (onReleased !== undefined) this.asked++;
    this.held.push({ parts: [...parts], onReleased });
    if (this.auto) {
      queueMicrotask(() => this.pass());
      return true;
    }
    if (this.held.length >= this.high) this.needDrain = true;
    return !this.needDrain;
  }

  /** Hands every held send on, oldest first, and reports each released; then drain if awaited. */
  pass(): void {
    for (const h of this.held.splice(0)) {
      this.inner.send(h.parts);
      this.released++;
      h.onReleased?.();
    }
    if (this.needDrain) {
      this.needDrain = false;
      this.handlers?.drain();
    }
  }

  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
    this.inner.attach(handlers);
  }
  pauseReading(): void {
    this.inner.pauseReading();
  }
  resumeReading(): void {
    this.inner.resumeReading();
  }
  close(): void {
    this.pass();
    this.inner.close();
  }
  destroy(err?: Error): void {
    this.held.length = 0;
    this.inner.destroy(err);
  }
}
