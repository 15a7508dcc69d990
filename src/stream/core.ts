import type { ResolvedNodeOptions } from '../config.js';
import {
  FlowControlError,
  ProtocolError,
  ResetCode,
  StreamClosedError,
  StreamResetError,
} from '../errors.js';
import type { Scheduler, StreamQueue } from '../scheduler.js';
import { Deque } from '../util/deque.js';
import type { Logger } from '../util/logger.js';
import { Caps, Cmd, MAX_PAYLOAD } from '../wire/constants.js';
import { header } from '../wire/frame.js';
import { encodeReset } from '../wire/reset.js';

/** One end of a stream: a virtual IP and port, and the domain when known. */
export interface StreamAddress {
  ip: number;
  port: number;
  domain: string;
}

/** How the core talks to its face (the Node Duplex or the Web Streams pair). */
export interface StreamFace {
  /** Inbound bytes, in order. The face calls `core.consumed(n)` once the reader has taken them. */
  onData(chunk: Uint8Array): void;
  /** The peer will send nothing more. */
  onEnd(): void;
  /** The stream failed; `onClose` follows. */
  onError(err: Error): void;
  /** `write` returned false earlier and may be called again. */
  onWritable(): void;
  /**
   * The stream is finished in both directions. Called once. `aborted`: it was torn down locally
   * without an error (node destroyed), so the face should close without reporting an end.
   */
  onClose(aborted: boolean): void;
}

/** What a stream needs from its connection. */
export interface StreamHost {
  readonly scheduler: Scheduler;
  readonly options: ResolvedNodeOptions;
  readonly logger: Logger;
  sendControl(
    cmd: number,
    dstIP: number,
    dstPort: number,
    srcIP: number,
    srcPort: number,
    payload?: Uint8Array,
    size?: number,
  ): void;
  /** The stream is finished; keep its address briefly, then forget it. */
  release(stream: StreamCore): void;
  /** Inbound bytes buffered by all streams changed by `delta`. */
  accountReceive(delta: number): void;
  /** Whether `n` more inbound bytes fit the connection's receive budget (maxReceiveBuffer). */
  canBuffer(n: number): boolean;
}

export type StreamState = 'open' | 'closing' | 'closed';

const EMPTY = new Uint8Array(0);

/**
 * The runtime-neutral stream state machine: credit window, receive accounting, close handshake
 * (PROTOCOL.md 4-5) and the half-close and reset extensions (14). Faces adapt it to an API.
 */
export class StreamCore {
  readonly key: number;
  readonly local: StreamAddress;
  readonly remote: StreamAddress;
  /** Negotiated window: send credit ceiling and receive bound (both ends use the same value). */
  readonly window: number;
  /** Negotiated extensions (Caps bits); 0 for a plain v3 stream. */
  readonly caps: number;
  readonly dialed: boolean;
  readonly createdAt = Date.now();
  bytesRead = 0;
  bytesWritten = 0;
  lastActivity = 0;

  private face: StreamFace | null = null;
  private readonly host: StreamHost;
  private readonly queue: StreamQueue;
  private readonly chunk: number;
  private readonly maxInflight: number;
  private readonly highWater: number;
  private readonly ackThreshold: number;
  private credit: number;
  private sentTotal = 0;
  private ackedTotal = 0;
  private readonly inflight: Deque<number> | null;
  private readonly pending = new Deque<Uint8Array>(4);
  private pendingBytes = 0;
  private headOffset = 0;
  private framesSinceAck = 0;
  private discarded = false;
  private forceClose = false;
  private tailScheduled = false;
  private readonly flushTail = (): void => {
    this.tailScheduled = false;
    this.pump(true);
    this.checkWritable();
  };
  private onFinished: (() => void) | null = null;
  private needWritable = false;
  private recvTotal = 0;
  private consumedTotal = 0;
  private ackPending = 0;
  private writeEnded = false;
  private endSent = false;
  private finSent = false;
  private remoteFin = false;
  private closeSent = false;
  private closeReceived = false;
  private readEnded = false;
  private closeTimer: ReturnType<typeof setTimeout> | null = null;
  private _state: StreamState = 'open';

  constructor(
    host: StreamHost,
    key: number,
    local: StreamAddress,
    remote: StreamAddress,
    window: number,
    caps: number,
    dialed: boolean,
  ) {
    this.host = host;
    this.key = key;
    this.local = local;
    this.remote = remote;
    this.window = window;
    this.caps = caps;
    this.dialed = dialed;
    this.credit = window;
    const o = host.options;
    this.chunk = caps !== 0 ? o.extendedChunkSize : o.chunkSize;
    // A Go receiver queues frames, not bytes: keep in-flight frames under its queue size (4.5).
    this.maxInflight = caps !== 0 ? Number.POSITIVE_INFINITY : Math.max(16, Math.floor(window / 16384) * 4);
    this.inflight = caps !== 0 ? null : new Deque<number>(16);
    this.highWater = o.streamHighWaterMark;
    // flexmux peers have no in-flight frame cap, so credit can go back in larger batches.
    this.ackThreshold =
      caps !== 0
        ? Math.max(1, Math.min(window >>> 2, 512 * 1024))
        : Math.max(1, Math.min(window >>> 2, 256 * 1024));
    this.queue = host.scheduler.queue();
    this.queue.onDrain = () => this.checkWritable();
    this.lastActivity = Date.now();
  }

  get state(): StreamState {
    return this._state;
  }

  /** Bytes received and not yet consumed by the reader. */
  get receiveBuffered(): number {
    return this.recvTotal - this.consumedTotal;
  }

  /** Bytes accepted by `write` and not yet handed to the connection. */
  get writeBuffered(): number {
    return this.pendingBytes + this.queue.bytes;
  }

  get sendCredit(): number {
    return this.credit;
  }

  get halfCloseNegotiated(): boolean {
    return (this.caps & Caps.HALF_CLOSE) !== 0;
  }

  get resetNegotiated(): boolean {
    return (this.caps & Caps.RESET) !== 0;
  }

  get writable(): boolean {
    return !this.writeEnded && !this.closeReceived && this._state !== 'closed';
  }

  attach(face: StreamFace): void {
    this.face = face;
  }

  // ---------------------------------------------------------------- writing

  /** Queues bytes. Returns false when the caller should wait for `onWritable`. Throws when closed. */
  write(chunk: Uint8Array): boolean {
    if (!this.writable) {
      throw new StreamClosedError(this.closeReceived ? 'the peer closed the stream' : 'writer is closed');
    }
    if (chunk.length > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      this.pump(false);
    }
    if (this.pendingBytes + this.queue.bytes >= this.highWater) {
      this.needWritable = true;
      this.queue.needDrain = true;
      this.queue.lowWater = this.highWater >>> 1;
      return false;
    }
    return true;
  }

  /** Graceful end of the writing side: FIN where negotiated, else the v3 close (14.4). */
  end(): void {
    if (this.writeEnded || this._state === 'closed') return;
    this.writeEnded = true;
    this.pump();
  }

  /** Node shutdown: flush what was written, then the v3 close even where FIN was negotiated. */
  shutdown(onClosed: () => void): void {
    if (this._state === 'closed') {
      onClosed();
      return;
    }
    this.onFinished = onClosed;
    this.forceClose = true;
    this.writeEnded = true;
    if (this.endSent && !this.closeSent) this.startClose();
    else this.pump();
  }

  /** Aborts the stream: RESET where negotiated, else the v3 close (14.4). */
  destroy(err?: Error): void {
    if (this._state === 'closed') return;
    this.dropPending();
    if (!this.closeReceived) {
      if (this.resetNegotiated) {
        const code = resetCodeOf(err);
        this.host.scheduler.clear(this.queue);
        this.control(Cmd.RESET, encodeReset(code, err?.message ?? ''));
      } else if (!this.closeSent) {
        this.host.scheduler.clear(this.queue);
        this.closeSent = true;
        this.ordered(Cmd.CLOSE, EMPTY);
      }
    }
    this.finish(err ?? null);
  }

  /**
   * Moves pending bytes into frames as credit allows. Called from `write()` (`tail` false) it
   * sends only full frames and leaves a short tail for a microtask, so writes made in one tick
   * share frames: a loop of 64 KiB writes gives 64 KiB frames, not 65,535 + 1 bytes.
   */
  private pump(tail = true): void {
    const sched = this.host.scheduler;
    while (this.pendingBytes > 0 && this.credit > 0 && this.inflightCount() < this.maxInflight) {
      // One frame takes up to `chunk` bytes, gathered across queued writes without copying.
      const n = Math.min(this.pendingBytes, this.chunk, this.credit);
      if (!tail && n === this.pendingBytes && n < this.chunk && n < this.credit) {
        if (!this.tailScheduled) {
          this.tailScheduled = true;
          queueMicrotask(this.flushTail);
        }
        return;
      }
      let payload: Uint8Array | null = null;
      let rest: Uint8Array[] | null = null;
      let need = n;
      while (need > 0) {
        const head = this.pending.peek()!;
        const off = this.headOffset;
        const take = Math.min(head.length - off, need);
        const view = off === 0 && take === head.length ? head : head.subarray(off, off + take);
        if (payload === null) payload = view;
        else if (rest === null) rest = [view];
        else rest.push(view);
        need -= take;
        if (off + take === head.length) {
          this.pending.shift();
          this.headOffset = 0;
        } else {
          this.headOffset = off + take;
        }
      }
      this.pendingBytes -= n;
      this.credit -= n;
      this.sentTotal += n;
      this.bytesWritten += n;
      this.inflight?.push(this.sentTotal);
      const h = header(Cmd.DATA, this.remote.ip, this.remote.port, this.local.ip, this.local.port, n);
      sched.pushOrdered(this.queue, h, payload!, rest);
    }
    this.lastActivity = Date.now();
    if (this.pendingBytes === 0 && this.writeEnded && !this.endSent && this._state !== 'closed') {
      this.endSent = true;
      if (this.halfCloseNegotiated && !this.forceClose) {
        this.finSent = true;
        this.ordered(Cmd.FIN, EMPTY);
        if (this.remoteFin) this.startClose();
      } else {
        this.startClose();
      }
    }
  }

  private inflightCount(): number {
    return this.inflight === null ? 0 : this.inflight.length;
  }

  private checkWritable(): void {
    if (!this.needWritable) return;
    if (this.pendingBytes + this.queue.bytes < this.highWater) {
      this.needWritable = false;
      this.face?.onWritable();
    } else {
      this.queue.needDrain = true;
      this.queue.lowWater = Math.max(0, (this.highWater >>> 1) - this.pendingBytes);
    }
  }

  private dropPending(): void {
    this.pending.clear();
    this.pendingBytes = 0;
    this.headOffset = 0;
  }

  // ---------------------------------------------------------------- inbound frames

  /** A data-ACK: the peer consumed `n` bytes. */
  onAck(n: number): void {
    if (this._state === 'closed' || n <= 0) return;
    this.ackedTotal += n;
    // Credit never rises above the window (PROTOCOL.md 4.3).
    this.credit = Math.min(this.credit + n, this.window);
    const inflight = this.inflight;
    if (inflight !== null) {
      while (inflight.length > 0 && inflight.peek()! <= this.ackedTotal) inflight.shift();
      // Over-acknowledgement (Go caps credit too) must not leave stale entries behind.
      if (this.ackedTotal >= this.sentTotal) inflight.clear();
    }
    this.pump();
    this.checkWritable();
  }

  onData(payload: Uint8Array): void {
    if (payload.length === 0) return; // Go ignores empty data frames (1.3)
    if (this._state === 'closed' || this.readEnded || this.closeReceived) return; // v3: dropped
    if (this.remoteFin) {
      this.violate(ResetCode.PROTOCOL, new ProtocolError('data after FIN'));
      return;
    }
    const n = payload.length;
    if (this.recvTotal + n - this.consumedTotal > this.window) {
      this.violate(
        ResetCode.FLOW_CONTROL,
        new FlowControlError(`peer sent beyond the ${this.window}-byte window`),
      );
      return;
    }
    if (!this.host.canBuffer(n)) {
      // Windows bound each stream; this bounds the connection when many slow streams fill up.
      this.violate(
        ResetCode.FLOW_CONTROL,
        new FlowControlError(
          `connection receive buffer limit of ${this.host.options.maxReceiveBuffer} bytes reached`,
        ),
      );
      return;
    }
    this.recvTotal += n;
    this.framesSinceAck++;
    this.bytesRead += n;
    this.lastActivity = Date.now();
    this.host.accountReceive(n);
    this.face?.onData(payload);
  }

  /** The reader took `n` bytes: return credit to the peer, batched (never 0, split at 65 535). */
  consumed(n: number): void {
    if (n <= 0 || this.discarded) return;
    this.consumedTotal += n;
    this.host.accountReceive(-n);
    if (this._state === 'closed' || this.closeReceived) return;
    this.ackPending += n;
    // Batch ACKs, but never hold so many that the peer stalls: a sender has at least 3/4 of the
    // window left, and a v3 sender capped at 16 in-flight frames sees an ACK every 8 frames.
    if (
      this.ackPending >= this.ackThreshold ||
      (this.caps === 0 && this.consumedTotal === this.recvTotal && this.framesSinceAck >= 8)
    ) {
      this.flushAcks();
    }
  }

  /** Sends every pending credit now (also used when the reader catches up after a pause). */
  flushAcks(): void {
    let left = this.ackPending;
    if (left === 0) return;
    this.ackPending = 0;
    this.framesSinceAck = 0;
    while (left > 0) {
      const k = Math.min(left, MAX_PAYLOAD);
      this.control(Cmd.DATA_ACK, EMPTY, k);
      left -= k;
    }
  }

  onFin(): void {
    if (this._state === 'closed' || this.remoteFin) return;
    this.remoteFin = true;
    this.endRead();
    if (this.finSent) this.startClose();
  }

  onClose(): void {
    if (this._state === 'closed') {
      return;
    }
    this.closeReceived = true;
    const lost = this.pendingBytes;
    this.dropPending();
    this.endRead();
    this.ordered(Cmd.CLOSE_ACK, EMPTY);
    if (lost > 0 && !this.writeEnded) {
      this.finish(new StreamClosedError(`the peer closed the stream with ${lost} bytes unsent`));
    } else {
      this.finish(null);
    }
  }

  onCloseAck(): void {
    if (this._state === 'closed' || !this.closeSent) return;
    this.endRead();
    this.finish(null);
  }

  onReset(code: number, message: string): void {
    if (this._state === 'closed') return;
    this.dropPending();
    this.host.scheduler.clear(this.queue);
    const text = message
      ? `stream reset by peer (code ${code}): ${message}`
      : `stream reset by peer (code ${code})`;
    this.finish(new StreamResetError(text, code, true));
  }

  /**
   * The connection died: fail without sending anything. With no error (the node was destroyed by
   * its owner) the stream closes like a destroyed socket: no 'end', no 'error'.
   */
  abort(err: Error | null): void {
    if (this._state === 'closed') return;
    this.dropPending();
    this.finish(err, err === null);
  }

  // ---------------------------------------------------------------- closing

  private startClose(): void {
    if (this.closeSent || this.closeReceived || this._state === 'closed') return;
    this.closeSent = true;
    this._state = 'closing';
    this.ordered(Cmd.CLOSE, EMPTY);
    this.closeTimer = setTimeout(() => {
      this.closeTimer = null;
      this.host.logger.debug({ stream: this.describe() }, 'close-ACK timeout');
      this.endRead();
      this.finish(null);
    }, this.host.options.closeAckTimeout);
    const t = this.closeTimer as { unref?: () => void };
    t.unref?.();
  }

  private endRead(): void {
    if (this.readEnded) return;
    this.readEnded = true;
    this.face?.onEnd();
  }

  private violate(code: number, err: Error): void {
    this.host.logger.warn({ stream: this.describe(), err: err.message }, 'stream protocol violation');
    if (this.resetNegotiated) {
      (err as { resetCode?: number }).resetCode = code;
    }
    this.destroy(err);
  }

  private finish(err: Error | null, silent = false): void {
    if (this._state === 'closed') return;
    this._state = 'closed';
    if (this.closeTimer !== null) {
      clearTimeout(this.closeTimer);
      this.closeTimer = null;
    }
    const unread = this.recvTotal - this.consumedTotal;
    if (err !== null || silent) {
      // The face discards what it buffered; stop counting it against the connection.
      this.discarded = true;
      if (unread > 0) this.host.accountReceive(-unread);
    }
    if (err !== null) this.face?.onError(err);
    else if (!this.readEnded && !silent) this.endRead();
    this.host.release(this);
    this.face?.onClose(silent);
    const cb = this.onFinished;
    this.onFinished = null;
    cb?.();
  }

  // ---------------------------------------------------------------- frames

  private ordered(cmd: number, payload: Uint8Array): void {
    const h = header(cmd, this.remote.ip, this.remote.port, this.local.ip, this.local.port, payload.length);
    this.host.scheduler.pushOrdered(this.queue, h, payload);
  }

  private control(cmd: number, payload: Uint8Array, size = payload.length): void {
    this.host.sendControl(
      cmd,
      this.remote.ip,
      this.remote.port,
      this.local.ip,
      this.local.port,
      payload,
      size,
    );
  }

  describe(): string {
    return `${this.local.ip}:${this.local.port}->${this.remote.ip}:${this.remote.port}`;
  }
}

function resetCodeOf(err: Error | undefined): number {
  if (err === undefined) return ResetCode.CANCELLED;
  const code = (err as { resetCode?: unknown }).resetCode;
  return typeof code === 'number' && Number.isInteger(code) && code >= 0 && code <= 0xffffffff
    ? code
    : ResetCode.CANCELLED;
}
