import type { Transport, TransportHandlers } from '../../src/transport/types.js';
import { cmdName } from '../../src/wire/constants.js';
import { FrameDecoder } from '../../src/wire/decoder.js';

/** Wraps a transport: records the commands it sends, and can hold its sends (a full socket). */
export class Tap implements Transport {
  readonly sent: string[] = [];
  private held: (readonly Uint8Array[])[] | null = null;
  private handlers: TransportHandlers | null = null;
  private readonly decoder = new FrameDecoder((f) => this.sent.push(cmdName(f.cmd)));

  constructor(private readonly inner: Transport) {}

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

  /** Sends are accepted but not delivered (and `send` says "wait") until `release()`. */
  hold(): void {
    this.held = [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const parts of held) this.deliver(parts);
    this.handlers?.drain();
  }

  send(parts: readonly Uint8Array[]): boolean {
    if (this.held !== null) {
      this.held.push(parts.map((p) => p.slice()));
      return false;
    }
    return this.deliver(parts);
  }

  private deliver(parts: readonly Uint8Array[]): boolean {
    for (const p of parts) this.decoder.push(p);
    return this.inner.send(parts);
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
    this.inner.close();
  }
  destroy(err?: Error): void {
    this.inner.destroy(err);
  }
}
