import type { Transport } from '../../src/transport/types.js';
import { decodeMessage, FrameDecoder } from '../../src/wire/decoder.js';
import { encodeFrame, type Frame, makeFrame } from '../../src/wire/frame.js';

/**
 * A hostile raw peer for abuse and fuzz tests: sends whatever frames or bytes it is told, counts
 * what comes back by command, keeps only the last `keep` frames (a flood must not make the test
 * itself the memory hog), and can stop reading to let the victim's queues fill.
 */
export class HostilePeer {
  /** Frames received, by command byte. */
  readonly counts = new Map<number, number>();
  readonly recent: Frame[] = [];
  closed = false;
  closeError: Error | undefined;
  private readonly waiters = new Set<{ pred: (f: Frame) => boolean; resolve: (f: Frame) => void }>();
  private readonly closeWaiters = new Set<() => void>();
  private readonly taps = new Set<(f: Frame) => void>();
  private drainWaiters: (() => void)[] = [];
  /** The last send was refused (over the transport's high-water mark) and no drain came yet. */
  blocked = false;

  constructor(
    readonly t: Transport,
    private readonly keep = 256,
  ) {
    const dec = t.framing === 'stream' ? new FrameDecoder((f) => this.onFrame(f)) : null;
    t.attach({
      data: (c) => {
        if (dec) dec.push(c);
        else this.onFrame(decodeMessage(c));
      },
      drain: () => this.wake(),
      close: (err) => {
        this.closed = true;
        this.closeError = err;
        for (const w of [...this.closeWaiters]) w();
        this.wake();
      },
    });
  }

  count(cmd: number): number {
    return this.counts.get(cmd) ?? 0;
  }

  /** Calls `fn` with every frame received from now on; returns the function that stops it. */
  tap(fn: (f: Frame) => void): () => void {
    this.taps.add(fn);
    return () => this.taps.delete(fn);
  }

  private onFrame(f: Frame): void {
    this.counts.set(f.cmd, this.count(f.cmd) + 1);
    for (const t of this.taps) t(f);
    this.recent.push(f);
    if (this.recent.length > this.keep) this.recent.shift();
    for (const w of [...this.waiters]) {
      if (w.pred(f)) {
        this.waiters.delete(w);
        w.resolve(f);
      }
    }
  }

  /** Sends one frame built from its fields (checked by makeFrame). False: wait for `drained()`. */
  frame(
    cmd: number,
    dstIP: number,
    dstPort: number,
    srcIP: number,
    srcPort: number,
    payload?: Uint8Array,
    ack = 0,
  ): boolean {
    return this.bytes(encodeFrame(makeFrame(cmd, dstIP, dstPort, srcIP, srcPort, payload, ack)));
  }

  /** Sends raw bytes (one message under message framing). False: wait for `drained()`. */
  bytes(b: Uint8Array): boolean {
    const ok = this.t.send([b]);
    if (!ok) this.blocked = true;
    return ok;
  }

  /**
   * Resolves once the transport takes more (or closed): a flood that waits here behaves like a
   * sender on TCP, whose excess waits in its own socket buffers, not in the victim's memory.
   */
  drained(): Promise<void> {
    if (!this.blocked || this.closed) return Promise.resolve();
    return new Promise<void>((r) => this.drainWaiters.push(r));
  }

  private wake(): void {
    this.blocked = false;
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const r of w) r();
  }

  /** The next frame (from now on, or among the recent ones) matching `pred`. */
  next(pred: (f: Frame) => boolean, ms = 5_000): Promise<Frame> {
    const seen = this.recent.find(pred);
    if (seen) {
      this.recent.splice(this.recent.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise<Frame>((resolve, reject) => {
      const w = {
        pred,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          const i = this.recent.indexOf(f);
          if (i >= 0) this.recent.splice(i, 1);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`no matching frame within ${ms} ms`));
      }, ms);
      this.waiters.add(w);
    });
  }

  /** Resolves when the connection has closed. */
  whenClosed(ms = 5_000): Promise<Error | undefined> {
    if (this.closed) return Promise.resolve(this.closeError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.closeWaiters.delete(done);
        reject(new Error(`connection still open after ${ms} ms`));
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        this.closeWaiters.delete(done);
        resolve(this.closeError);
      };
      this.closeWaiters.add(done);
    });
  }
}
