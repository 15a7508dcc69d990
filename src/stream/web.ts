import { StreamClosedError } from '../errors.js';
import type { StreamCore, StreamFace } from './core.js';

/**
 * The Web Streams face of a stream, runtime-neutral (browsers, Node, Deno): a ReadableStream and
 * a WritableStream of Uint8Array. Credit follows reading: bytes count as consumed once they leave
 * the readable queue.
 */
export class WebStream implements StreamFace {
  readonly core: StreamCore;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private readonly highWater: number;
  private enqueued = 0;
  private reported = 0;
  private readDone = false;
  private failed = false;
  private writeWaiter: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private closedResolve!: () => void;
  /** Resolves when the stream is finished in both directions (also after an error). */
  readonly closed: Promise<void>;

  constructor(core: StreamCore, options: { readableHighWaterMark?: number } = {}) {
    this.core = core;
    this.highWater = options.readableHighWaterMark ?? 256 * 1024;
    this.closed = new Promise<void>((resolve) => {
      this.closedResolve = resolve;
    });
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.controller = c;
        },
        pull: () => this.reportConsumed(),
        cancel: (reason) => {
          this.readDone = true;
          if (core.state !== 'closed') core.destroy(reason instanceof Error ? reason : undefined);
        },
      },
      { highWaterMark: this.highWater, size: (chunk) => chunk.byteLength },
    );
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => {
        if (core.write(chunk)) return undefined;
        return new Promise<void>((resolve, reject) => {
          this.writeWaiter = { resolve, reject };
        });
      },
      close: () => {
        core.end();
      },
      abort: (reason) => {
        core.destroy(reason instanceof Error ? reason : undefined);
      },
    });
    core.attach(this);
  }

  get remoteDomain(): string {
    return this.core.remoteDomain;
  }
  get remoteIP(): number {
    return this.core.remoteIP;
  }
  get remotePort(): number {
    return this.core.remotePort;
  }
  get localPort(): number {
    return this.core.localPort;
  }

  /** True once the stream failed or was aborted. */
  get destroyed(): boolean {
    return this.failed;
  }

  /** Aborts both directions (RESET with `err`'s code where negotiated, else the v3 close). */
  destroy(err?: Error): void {
    this.core.destroy(err);
  }

  onData(chunk: Uint8Array): void {
    if (this.readDone) return;
    this.enqueued += chunk.length;
    this.controller.enqueue(chunk);
    this.reportConsumed();
  }

  onEnd(): void {
    if (this.readDone) return;
    this.readDone = true;
    this.controller.close();
  }

  onError(err: Error): void {
    this.failed = true;
    if (!this.readDone) {
      this.readDone = true;
      this.controller.error(err);
    }
    const w = this.writeWaiter;
    this.writeWaiter = null;
    w?.reject(err);
  }

  onWritable(): void {
    const w = this.writeWaiter;
    this.writeWaiter = null;
    w?.resolve();
  }

  onClose(aborted: boolean): void {
    if (aborted) this.failed = true;
    if (aborted && !this.readDone) {
      this.readDone = true;
      this.controller.error(new StreamClosedError('stream aborted'));
    }
    const w = this.writeWaiter;
    this.writeWaiter = null;
    w?.reject(new StreamClosedError());
    this.closedResolve();
  }

  private reportConsumed(): void {
    if (this.readDone) return;
    const queued = this.highWater - (this.controller.desiredSize ?? 0);
    const consumed = this.enqueued - Math.max(0, queued) - this.reported;
    if (consumed > 0) {
      this.reported += consumed;
      this.core.consumed(consumed);
    }
  }
}
