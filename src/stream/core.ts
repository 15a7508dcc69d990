import type { ResolvedNodeOptions } from '../config.js';
import {
  DataLostError,
  FlowControlError,
  ProtocolError,
  ResetCode,
  StreamClosedError,
  StreamResetError,
  TimeoutError,
} from '../errors.js';
import { type Scheduler, StreamQueue } from '../scheduler.js';
import { errorFields } from '../util/cause.js';
import { Deque } from '../util/deque.js';
import type { Logger } from '../util/logger.js';
import { now, type TimerHandle, timeout } from '../util/timers.js';
import { Caps, Cmd, MAX_PAYLOAD } from '../wire/constants.js';
import { encodeFin, finOwed } from '../wire/fin.js';
import { header } from '../wire/frame.js';
import { encodeReset } from '../wire/reset.js';
import { releaseUnread, type Unread, watchUnread } from './unread.js';

/**
 * A peer's FIN that came ahead of bytes it counts (wire/fin.ts): a Go switcher sends it ahead of the
 * stream's data still queued for this end. Bytes it dropped (its forward queue gives up on a
 * frame after 5 s) never come, so the wait is bounded (StreamCore.armFinWait).
 */
interface FinWait {
  /** recvTotal at which the FIN takes effect. */
  readonly at: number;
  /** Runs out after endTimeout; undefined when not armed (endTimeout 0). */
  timer?: TimerHandle;
}

/** One end of a stream: a virtual IP and port, and the domain when known. */
export interface StreamAddress {
  /** The virtual IP. */
  ip: number;
  /** The port. */
  port: number;
  /** The domain, or '' when not known. */
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
   * After `end()`: everything written, and the end (FIN or v3 close), has been handed to the
   * connection. Called at most once or not at all (the stream may close first); see `flushed`.
   */
  onFlushed?(): void;
  /**
   * The stream is finished in both directions. Called once. `aborted`: it was torn down locally
   * without an error (destroy() with none, or refused in a listener's backlog), so the face must
   * not report an end; unless the face itself asked for it (its own destroy()), it fails, so that
   * its reader does not take the abort for a complete transfer.
   */
  onClose(aborted: boolean): void;
}

/**
 * What a stream needs from its connection. Plumbing, free to change; not tagged internal, as
 * BaseNode's published declaration implements it (see scheduler.ts).
 */
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
  /**
   * A stream released with frames still queued (its close, or the close-ACK it owes, behind its
   * data) has had them all handed to the connection.
   */
  sent(stream: StreamCore): void;
  /** Inbound bytes buffered by all streams changed by `delta`. */
  accountReceive(delta: number): void;
  /** Whether `n` more inbound bytes fit the connection's receive budget (maxReceiveBuffer). */
  canBuffer(n: number): boolean;
  /**
   * Frames received so far, of any stream: tells a quiet connection from a quiet stream (while
   * a FIN waits for its bytes, which never happens on a loopback: it has none).
   */
  framesReceived?(): number;
  /** A stream's peer broke the protocol (`fields` say how): logged, a flood of them as a burst. */
  logViolation(fields: object): void;
}

/** A stream's life: `open`, `closing` (its close is under way), `closed`. */
export type StreamState = 'open' | 'closing' | 'closed';

const EMPTY = new Uint8Array(0);

// Flag bits of StreamCore.flags: one small integer instead of a dozen boolean fields keeps an idle
// stream small (10,000 idle streams are a normal load for a switcher's clients).
const DISCARDED = 1 << 0;
const FORCE_CLOSE = 1 << 1;
const TAIL_SCHEDULED = 1 << 2;
const NEED_WRITABLE = 1 << 3;
const WRITE_ENDED = 1 << 4;
const END_SENT = 1 << 5;
const FIN_SENT = 1 << 6;
const REMOTE_FIN = 1 << 7;
const CLOSE_SENT = 1 << 8;
const CLOSE_RECEIVED = 1 << 9;
const READ_ENDED = 1 << 10;
const DIALED = 1 << 11;
const RELEASE_ON_FLUSH = 1 << 12;
/** This end sent a credit request (an empty data frame) and no ACK has come since. */
const CREDIT_REQUESTED = 1 << 13;
/** The peer asked for credit; answer once the reader has consumed everything received. */
const CREDIT_ASKED = 1 << 14;
/** This stream has made a short write from idle before. */
const SHORT_WRITER = 1 << 15;
/** The reader asked for more than it had and waits for data: it consumes nothing until some comes. */
const STARVED = 1 << 16;
/** An early-data dial's stream whose OpenStream ACK has not come: the open may still fail. */
const UNCONFIRMED = 1 << 17;
/** The close-ACK timeout ran out while UNCONFIRMED: the close waits for the ACK instead. */
const CLOSE_EXPIRED = 1 << 18;
/** `write()` said "wait for drain" and the writer has not written since: more is coming. */
const WRITER_WAITS = 1 << 19;
/** Closed with frames still queued: the host hears `sent` once they have left. */
const QUEUED_AT_CLOSE = 1 << 20;
/** An arrival notice waits for the reader's next turn (see onCreditRequest). */
const NOTICE_DUE = 1 << 21;
/** The application ended its writing while a write still waited to be taken (endRequested). */
const END_REQUESTED = 1 << 22;

/**
 * How long after another stream's short write the sharedInflight limit holds (ms). Request/response
 * traffic writes again well within it; a link that has gone quiet lets bulk streams use their window.
 */
const SPARSE_HOLD_MS = 200;
/** Largest write that counts as a short message. */
const SPARSE_WRITE = 4096;
/**
 * Credit owed to a flexmux peer goes back at least this often while the reader consumes, once it
 * is worth a full frame (ACK_BY_TIME_MIN): on a slow link half a window can take seconds to
 * arrive, and a sender blocked behind its own data counts the ACKs as the sign that the peer is
 * alive (heartbeat.ts). Streams of small, sparse messages owe less and wait for the byte rule,
 * so they do not get an ACK per message.
 */
const ACK_MAX_DELAY_MS = 100;
const ACK_BY_TIME_MIN = 64 * 1024;
/**
 * Writes shorter than this are copied when taken into a buffer of their own: a copy costs less
 * than the write itself there, and short writes are the ones most often made from a reused
 * buffer. Longer ones are sent from the writer's own buffer; with the node option
 * reuseWrittenBuffers they are copied into the connection's slabs (util/slabs.ts), or, when those
 * are full, sent from the writer's buffer with the write's callback held until they have left.
 */
export const COPY_WRITES_BELOW = 16 * 1024;

/**
 * Monotonic milliseconds (util/timers now(): performance.now(), counted from start), floored so they
 * stay small integers (no boxing). Not Date.now(): a wall-clock step back (NTP, a resumed VM)
 * stopped the periodic credit until the clock caught up, and a sender behind a deep buffer counts
 * those ACKs as the sign that this end is alive (heartbeat.ts).
 */
function clock(): number {
  return Math.floor(now());
}

/** The wall-clock time of a clock() time: now on the wall clock, less how long ago it was. */
function wallTime(t: number): number {
  return Date.now() - (clock() - t);
}

/** The last serial number given to a stream (StreamCore.serial), in this process. */
let lastSerial = 0;

/**
 * The runtime-neutral stream state machine: credit window, receive accounting, close handshake
 * (PROTOCOL.md 4-5) and the half-close and reset extensions (14). Faces adapt it to an API.
 * It is its own write queue in the connection's scheduler (it extends StreamQueue).
 */
export class StreamCore extends StreamQueue {
  /** The node's key for this stream; changes only through rebind(). */
  key: number;
  /**
   * Greater for each stream created later in this process, never reused (a key is reused by a
   * later stream between the same ports, and rebind() changes it): where a page of the admin's
   * stream list resumes. One number, no object: idle streams' memory is measured.
   */
  readonly serial = ++lastSerial;
  // The two addresses as plain fields: two objects per stream cost more than the six slots.
  /** This end's virtual IP. */
  readonly localIP: number;
  /** This end's port. */
  readonly localPort: number;
  /** This end's domain. */
  readonly localDomain: string;
  /** Changes only through rebind(). */
  remoteIP: number;
  /** The peer's port. */
  readonly remotePort: number;
  /** The peer's domain when known (domain dials, and opens relayed by a switcher), else ''. */
  readonly remoteDomain: string;
  /** Negotiated window: send credit ceiling and receive bound (both ends use the same value). */
  readonly window: number;
  /** Negotiated extensions (Caps bits); 0 for a plain v3 stream. */
  readonly caps: number;

  private face: StreamFace | null = null;
  /** Bytes left unread at a clean close, counted until read or the face is collected (./unread.ts). */
  private unread: Unread | null = null;
  private readonly host: StreamHost;
  private flags = 0;
  private readonly created = clock();
  private touched = this.created;
  private credit: number;
  private sentTotal = 0;
  private ackedTotal = 0;
  /**
   * Sent bytes known to have reached the peer. A prompt-credit receiver that cannot return credit
   * for a request yet (its reader has not caught up) says the request has arrived, and with it
   * everything sent before it (a data-ACK of 0). Those bytes wait for the reader, not in socket
   * buffers ahead of other streams' messages, so sharedInflight does not count them.
   */
  private arrivedTotal = 0;
  /** sentTotal when the unanswered credit request left (while CREDIT_REQUESTED). */
  private requestedAt = 0;
  /** Ends of frames in flight, towards a v3 (Go) receiver only. */
  private readonly inflight: Deque<number> | null;
  /** Written bytes not yet framed; created on the first write. */
  private pending: Deque<Uint8Array> | null = null;
  private pendingBytes = 0;
  /** Where short writes are copied while some wait (copyIn); null while none do. */
  private copyBuf: Uint8Array | null = null;
  /** Bytes of copyBuf taken by copies (those after it are free). */
  private copyEnd = 0;
  private headOffset = 0;
  private framesSinceAck = 0;
  private onFinished: (() => void) | null = null;
  private recvTotal = 0;
  /** The peer's FIN, come ahead of its last data, waiting for it; null if none waits. */
  private finWait: FinWait | null = null;
  private consumedTotal = 0;
  private ackPending = 0;
  /** When credit last went back to the peer (clock ms); see ACK_MAX_DELAY_MS. */
  private ackedAt = this.created;
  /**
   * The close-ACK timeout once the v3 close runs; before that, while `end()` waits for credit to
   * send what was written, the end timeout (endTimeout). The two never overlap: the close starts
   * only once everything has been sent.
   */
  private closeTimer: ReturnType<typeof setTimeout> | null = null;
  /** Runs while the stream waits at sharedInflight with window to spare (see pump). */
  private holdTimer: ReturnType<typeof setTimeout> | null = null;
  private tailTimer: ReturnType<typeof setTimeout> | null = null;

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
    super();
    this.host = host;
    this.key = key;
    this.localIP = local.ip;
    this.localPort = local.port;
    this.localDomain = local.domain;
    this.remoteIP = remote.ip;
    this.remotePort = remote.port;
    this.remoteDomain = remote.domain;
    this.window = window;
    this.caps = caps;
    if (dialed) this.flags = DIALED;
    this.credit = window;
    this.inflight = caps !== 0 ? null : new Deque<number>(16);
  }

  /** This end's address (a new object each time). */
  get local(): StreamAddress {
    return { ip: this.localIP, port: this.localPort, domain: this.localDomain };
  }

  /** The peer's address (a new object each time). */
  get remote(): StreamAddress {
    return { ip: this.remoteIP, port: this.remotePort, domain: this.remoteDomain };
  }

  /** Whether this end dialled the stream (its local port came from the dial pool). */
  get dialed(): boolean {
    return this.is(DIALED);
  }

  /** Wall-clock ms when the stream was set up. */
  get createdAt(): number {
    return wallTime(this.created);
  }

  /** Wall-clock ms of the last data written or received. */
  get lastActivity(): number {
    return wallTime(this.touched);
  }

  /** Payload bytes received. */
  get bytesRead(): number {
    return this.recvTotal;
  }

  /** Payload bytes framed for sending. */
  get bytesWritten(): number {
    return this.sentTotal;
  }

  /**
   * Whether the connection still refers to a buffer a writer wrote (reuseWrittenBuffers only: the
   * slabs were full, or the connection has none). Until it lets go, the stream is not writable:
   * write() says false and onWritable waits, so a face calls back as it does for the high-water
   * mark, and by default (no watchReleases) this is one boolean test on the rare paths that ask.
   */
  get holdsWriterBytes(): boolean {
    // Scheduler.waiting tests watchReleases first: by default no lookup is made.
    return this.host.scheduler.waiting(this);
  }

  /** Largest data frame: 64 KiB towards flexmux peers, 16 KiB towards Go receivers (4.5). */
  private get chunk(): number {
    const o = this.host.options;
    return this.caps !== 0 ? o.extendedChunkSize : o.chunkSize;
  }

  /** A Go receiver queues frames, not bytes: keep in-flight frames under its queue size (4.5). */
  private get maxInflight(): number {
    return Math.max(16, Math.floor(this.window / 16384) * 4);
  }

  private get highWater(): number {
    return this.host.options.streamHighWaterMark;
  }

  /**
   * Credit owed before an ACK goes out. flexmux peers have no in-flight frame cap, so credit goes
   * back per half window (1 MiB at most): each ACK is a write on the receiving side, which on a
   * loaded connection is the busy end, and half a window still leaves the sender as much to send
   * while the ACK travels. Go peers get a quarter window, 256 KiB at most (PROTOCOL.md 4.5).
   */
  private get ackThreshold(): number {
    if (this.caps !== 0) return Math.max(1, Math.min(this.window >>> 1, 1024 * 1024));
    return Math.max(1, Math.min(this.window >>> 2, 256 * 1024));
  }

  private is(flag: number): boolean {
    return (this.flags & flag) !== 0;
  }

  private mark(flag: number): void {
    this.flags |= flag;
  }

  private unmark(flag: number): void {
    this.flags &= ~flag;
  }

  /** Where the stream is in its life. */
  get state(): StreamState {
    return this._state;
  }

  /** Bytes received and not yet consumed by the reader. */
  get receiveBuffered(): number {
    return this.recvTotal - this.consumedTotal;
  }

  /** Bytes accepted by `write` and not yet handed to the connection. */
  get writeBuffered(): number {
    return this.pendingBytes + this.bytes;
  }

  /** Bytes this end may still send before the peer acknowledges more. */
  get sendCredit(): number {
    return this.credit;
  }

  /**
   * Sent bytes not known to have reached the peer: neither acknowledged nor reported arrived (a
   * prompt-credit receiver reports what waits for its reader). sharedInflight bounds this while
   * another stream of the connection sends short messages.
   */
  get bytesOnTheWay(): number {
    return this.sentTotal - Math.max(this.ackedTotal, this.arrivedTotal);
  }

  /** True if both ends offered half-close (Caps.HALF_CLOSE). */
  get halfCloseNegotiated(): boolean {
    return (this.caps & Caps.HALF_CLOSE) !== 0;
  }

  /** True if both ends offered reset (Caps.RESET). */
  get resetNegotiated(): boolean {
    return (this.caps & Caps.RESET) !== 0;
  }

  /** Whether what was written, and the end, have been handed to the connection (or the stream is closed). */
  get flushed(): boolean {
    return this._state === 'closed' || (this.is(END_SENT) && this.bytes === 0);
  }

  /** True while this end may still write: not ended, not closed by the peer, not closed. */
  get writable(): boolean {
    return !this.is(WRITE_ENDED) && !this.is(CLOSE_RECEIVED) && this._state !== 'closed';
  }

  /** Connects the face (a stream factory's stream) that the core reports to. */
  attach(face: StreamFace): void {
    this.face = face;
  }

  // ---------------------------------------------------------------- writing

  /** Queues bytes. Returns false when the caller should wait for `onWritable`. Throws when closed. */
  write(chunk: Uint8Array): boolean {
    if (!this.writable) {
      throw new StreamClosedError(
        this.is(CLOSE_RECEIVED) ? 'the peer closed the stream' : 'writer is closed',
      );
    }
    this.unmark(WRITER_WAITS);
    if (chunk.length > 0) {
      // Repeated short writes from idle are latency-sensitive traffic (requests, pings,
      // keystrokes). The first does not count: many bulk streams start with a short header.
      // Bulk writers write bigger pieces, and often find their queue empty too.
      if (chunk.length <= SPARSE_WRITE && this.pendingBytes === 0 && this.bytes === 0) {
        if (this.is(SHORT_WRITER)) this.host.scheduler.noteSparse(this);
        else this.mark(SHORT_WRITER);
      }
      if (this.pending === null) this.pending = new Deque<Uint8Array>(2);
      // Copied: a write's callback comes when it is taken, long before the bytes leave, and a
      // writer may then fill the same buffer again (manual.md, "Reusing a written buffer").
      // Short writes are copied (copyIn: into one buffer while they pile up). Longer ones are
      // sent from the writer's own buffer (zero-copy: the documented caveat), unless the node
      // reuses written buffers (watchReleases): then they go to the connection's slabs, or, with
      // those full, are sent from the writer's buffer with their callback held until the sink
      // has let go of it (holdsWriterBytes).
      if (chunk.length < COPY_WRITES_BELOW) {
        this.copyIn(chunk, this.pending);
      } else if (!this.host.scheduler.watchReleases) {
        this.pending.push(chunk);
      } else {
        const slabs = this.host.scheduler.slabs;
        if (slabs === null || !slabs.copy(chunk, this.pending)) {
          this.pending.push(chunk);
          const w = this.host.scheduler.watchOf(this);
          w.heldTo = this.sentTotal + this.pendingBytes + chunk.length;
          w.waiting = true;
        }
      }
      this.pendingBytes += chunk.length;
      this.pump(false);
    }
    if (this.pendingBytes + this.bytes >= this.highWater) {
      this.mark(NEED_WRITABLE | WRITER_WAITS);
      this.needDrain = true;
      this.lowWater = this.highWater >>> 1;
      return false;
    }
    // reuseWrittenBuffers: a write sent from the writer's own buffer is not done until the sink
    // lets go of it (onReleased then makes the stream writable again).
    if (this.holdsWriterBytes) {
      this.mark(NEED_WRITABLE | WRITER_WAITS);
      return false;
    }
    return true;
  }

  /**
   * Copies a short write behind what is pending. One buffer per write cost some 200 bytes of
   * objects for every byte of one-byte writes (60 MB for what streamHighWaterMark lets a stream
   * hold, 256 KiB, against a peer that does not read): so while copies wait, each next one goes
   * into the same buffer, its pending view grown to take it, and a full buffer is followed by one
   * twice its size (up to COPY_WRITES_BELOW). The first copy from idle is its own size, so a lone
   * message costs what it did. Bytes already framed from the buffer are never written again: a
   * copy only ever goes after copyEnd.
   */
  private copyIn(chunk: Uint8Array, pending: Deque<Uint8Array>): void {
    const n = chunk.length;
    let buf = this.copyBuf;
    if (buf === null) {
      // From idle (most short writes: a request, an answer): a copy of its own size, made in one
      // step (TypedArray slice; it keeps a Buffer a Buffer) and queued as it is.
      buf = Uint8Array.prototype.slice.call(chunk);
      this.copyBuf = buf;
      this.copyEnd = n;
      pending.push(buf);
      return;
    }
    if (this.copyEnd + n > buf.length) {
      buf = new Uint8Array(Math.max(n, Math.min(buf.length * 2, COPY_WRITES_BELOW)));
      this.copyBuf = buf;
      this.copyEnd = 0;
    }
    const at = this.copyEnd;
    buf.set(chunk, at);
    this.copyEnd = at + n;
    const last = pending.last();
    // The view of this buffer's previous copy, still pending (maybe partly framed, as the head):
    // grown over the new bytes, so the queue keeps one view per buffer, not one per write.
    if (last !== undefined && last.buffer === buf.buffer && last.byteOffset + last.length === at) {
      pending.setLast(buf.subarray(last.byteOffset, at + n));
    } else {
      pending.push(buf.subarray(at, at + n));
    }
  }

  /** Graceful end of the writing side: FIN where negotiated, else the v3 close (14.4). */
  end(): void {
    if (this.is(WRITE_ENDED) || this._state === 'closed') return;
    this.mark(WRITE_ENDED);
    this.pump();
  }

  /**
   * The application has ended its writing, but a write is still to be taken (a Node stream runs
   * its _final, and so end(), only once every write's callback came, and one waits while more
   * than streamHighWaterMark is unsent): the end timeout runs from now, or a peer that never
   * returns credit would hold the stream for ever. The end itself still comes with end().
   */
  endRequested(): void {
    if (this.is(WRITE_ENDED) || this.is(END_REQUESTED) || this._state !== 'open') return;
    this.mark(END_REQUESTED);
    this.pump();
  }

  /**
   * Node shutdown: flush what was written, then the v3 close even where FIN was negotiated.
   * @internal
   */
  shutdown(onClosed: () => void): void {
    if (this._state === 'closed') {
      onClosed();
      return;
    }
    this.onFinished = onClosed;
    this.mark(FORCE_CLOSE);
    this.mark(WRITE_ENDED);
    if (this.is(END_SENT) && !this.is(CLOSE_SENT)) this.startClose();
    else this.pump();
  }

  /** Aborts the stream: RESET where negotiated, else the v3 close (14.4). */
  destroy(err?: Error): void {
    if (this._state === 'closed') return;
    this.sendAbort(resetCodeOf(err), err?.message ?? '');
    // The face drops what it buffered, error or not: it stops counting against the connection.
    // Without an error it is an abort, not the peer's end: the read side is not ended, and the
    // face hears onClose(aborted), so no reader takes it for a complete transfer.
    this.finish(err ?? null, err === undefined, true);
  }

  /**
   * Drops a stream the application never took (it waited in a listener's backlog when the
   * listener closed): RESET with code 4, refused (PROTOCOL.md 14.3), where negotiated, else the
   * v3 close. Locally it closes as aborted, with no error for anyone to hear. One the peer closed
   * already (a v3 close) is dropped all the same: what it sent stops counting against the connection.
   * Published: a listener's Destroyable streams name it.
   */
  refuse(message: string): void {
    if (this._state === 'closed') {
      this.dropUnread();
      return;
    }
    this.sendAbort(ResetCode.REFUSED, message);
    this.finish(null, true, true);
  }

  /** Drops what is queued and tells the peer: RESET with `code` where negotiated, else the v3 close. */
  private sendAbort(code: number, message: string): void {
    this.dropPending();
    if (this.is(CLOSE_RECEIVED)) return;
    if (this.resetNegotiated) {
      this.host.scheduler.clear(this);
      this.control(Cmd.RESET, encodeReset(code, message));
    } else if (!this.is(CLOSE_SENT)) {
      this.host.scheduler.clear(this);
      this.mark(CLOSE_SENT);
      this.ordered(Cmd.CLOSE, EMPTY);
    }
  }

  /**
   * Moves pending bytes into frames as credit allows. Called from `write()` (`tail` false) it
   * sends only full frames and leaves a short tail for a microtask, so writes made in one tick
   * share frames: a loop of 64 KiB writes gives 64 KiB frames, not 65,535 + 1 bytes.
   */
  private pump(tail = true): void {
    const sched = this.host.scheduler;
    const inflight = this.inflight;
    let credit = this.credit;
    // While another stream sends short messages, this one keeps at most sharedInflight bytes on
    // their way, so those messages queue behind that much in socket buffers, not a window.
    const limit = this.host.options.sharedInflight;
    const limited =
      limit !== 0 &&
      this.pendingBytes > 0 &&
      (this.caps & Caps.PROMPT_CREDIT) !== 0 &&
      sched.sharedWithSparse(this, SPARSE_HOLD_MS);
    // Counts the unacknowledged bytes not known to have arrived: those still on their way.
    if (limited) credit = Math.min(credit, limit - this.bytesOnTheWay);
    while (this.pendingBytes > 0 && credit > 0 && (inflight === null || inflight.length < this.maxInflight)) {
      // One frame takes up to `chunk` bytes, gathered across queued writes without copying.
      const n = Math.min(this.pendingBytes, this.chunk, credit);
      if (n === this.pendingBytes && n < this.chunk && n < credit) {
        if (!tail) {
          if (!this.is(TAIL_SCHEDULED)) {
            this.mark(TAIL_SCHEDULED);
            sched.defer(this);
          }
          return;
        }
        // A writer told to wait for 'drain' writes again once it comes: its short tail joins
        // that data instead of leaving as a frame of a few bytes (64 KiB writes against 65,535-byte
        // frames leave one every high-water mark). `releaseTail` sends it if no write follows.
        // Not while its callback waits for its bytes to leave (holdsWriterBytes): it cannot write
        // again before this tail has gone, and would wait for releaseTail's timer every time.
        // Nor when the tail alone is at the high-water mark (a streamHighWaterMark below the
        // frame size): the 'drain' it waits for comes only once the tail has gone, and held, it
        // never went, nor came the 'drain' (releaseTail runs after one): the stream hung.
        if (
          this.is(WRITER_WAITS) &&
          !this.is(WRITE_ENDED) &&
          this.pendingBytes < this.highWater &&
          !this.holdsWriterBytes
        )
          break;
      }
      // pendingBytes > 0, so a write created the deque.
      const pending = this.pending!;
      let payload: Uint8Array | null = null;
      let rest: Uint8Array[] | null = null;
      let need = n;
      while (need > 0) {
        const head = pending.peek();
        const off = this.headOffset;
        // A write's view shrank since it was taken: its buffer was transferred (detached).
        if (head === undefined || head.length <= off) {
          // The views taken for this frame were taken off `pending`: their slab bytes go too.
          const slabs = sched.slabs;
          if (slabs !== null && payload !== null) {
            slabs.free(payload);
            if (rest !== null) slabs.freeAll(rest);
          }
          this.dropPending();
          this.onDetached();
          return;
        }
        const take = Math.min(head.length - off, need);
        const view = off === 0 && take === head.length ? head : head.subarray(off, off + take);
        if (payload === null) payload = view;
        else if (rest === null) rest = [view];
        else rest.push(view);
        need -= take;
        if (off + take === head.length) {
          pending.shift();
          this.headOffset = 0;
        } else {
          this.headOffset = off + take;
        }
      }
      this.pendingBytes -= n;
      // An idle stream keeps no queue: most streams write in bursts, many then idle for long.
      if (this.pendingBytes === 0) {
        this.pending = null;
        this.copyBuf = null;
      }
      this.credit -= n;
      credit -= n;
      this.sentTotal += n;
      this.inflight?.push(this.sentTotal);
      const h = header(Cmd.DATA, this.remoteIP, this.remotePort, this.localIP, this.localPort, n);
      sched.pushOrdered(this, h, payload!, rest);
    }
    // The receiver may batch credit until half the window is owed, more than the limit:
    // ask for it once half the limit is on its way, so it returns while the other half is. A
    // receiver whose reader lags answers that the request has arrived (onArrived).
    if (limited && !this.is(CREDIT_REQUESTED) && this.pendingBytes > 0 && this.bytesOnTheWay >= limit >>> 1) {
      this.mark(CREDIT_REQUESTED);
      this.requestedAt = this.sentTotal;
      this.ordered(Cmd.DATA, EMPTY);
    }
    // Held at the limit with window to spare: the hold ends SPARSE_HOLD_MS after the last short
    // write at the latest, but only a write or an ACK pumps again, and neither may come (the
    // writer waits for 'drain'; a paused reader owes nothing). So pump again once the hold may
    // have run out (still held then: the timer starts anew), and use the window as documented.
    if (limited && this.pendingBytes > 0 && credit <= 0 && this.credit > 0 && this.holdTimer === null) {
      this.holdTimer = timeout(() => {
        this.holdTimer = null;
        if (this._state === 'closed') return;
        this.pump();
        this.checkWritable();
      }, SPARSE_HOLD_MS);
    }
    this.touched = clock();
    if (this.pendingBytes === 0 && this.is(WRITE_ENDED) && !this.is(END_SENT) && this._state !== 'closed') {
      this.mark(END_SENT);
      // The end timer, if end() had to wait for credit (the close arms its own timer next).
      if (this.closeTimer !== null) {
        clearTimeout(this.closeTimer);
        this.closeTimer = null;
      }
      if (this.halfCloseNegotiated && !this.is(FORCE_CLOSE)) {
        this.mark(FIN_SENT);
        // With the count of what it follows: a Go switcher may send it ahead of that (wire/fin.ts).
        this.ordered(Cmd.FIN, encodeFin(this.sentTotal));
        if (this.is(REMOTE_FIN)) this.bothEnded();
      } else {
        this.startClose();
      }
      // The face learns when the end has left (onDrain): a Node stream's 'finish' waits for it.
      if (this.bytes > 0) this.drainWhenEmpty();
    } else if (
      this.pendingBytes > 0 &&
      (this.is(WRITE_ENDED) || this.is(END_REQUESTED)) &&
      this.closeTimer === null &&
      !this.is(END_SENT) &&
      this._state === 'open' &&
      this.host.options.endTimeout > 0
    ) {
      // end() waits for the peer's credit: a peer that never sends it would keep the stream and
      // what it holds for ever. Armed only here, once per wait, never on the write path.
      this.armEndTimer(this.ackedTotal + this.sentTotal);
    }
  }

  /**
   * Resets the stream if nothing moves within endTimeout: no credit comes and nothing is sent
   * (`moved`: ackedTotal + sentTotal when armed, both only grow; -1 while this end's own queue or
   * connection was still backed up).
   */
  private armEndTimer(moved: number): void {
    this.closeTimer = timeout(() => {
      this.closeTimer = null;
      if (this._state !== 'open' || this.is(END_SENT) || this.pendingBytes === 0) return;
      // Credit came meanwhile: the peer is slow, not gone. Frames still in our own queue, or a
      // connection backed up (what we sent may wait in its buffers): the peer may not have had
      // them, so owes no credit yet; a slow or dead connection is the heartbeat's business. The
      // peer's wait starts once they have gone. Either way, wait again from now.
      const seen = this.bytes > 0 || this.host.scheduler.isBlocked ? -1 : this.ackedTotal + this.sentTotal;
      if (seen === -1 || seen !== moved) {
        this.armEndTimer(seen);
        return;
      }
      const ms = this.host.options.endTimeout;
      const unsent = this.pendingBytes;
      this.host.logger.warn(
        { stream: this.describe(), unsent, ms },
        'end() got no credit from the peer in time: stream reset',
      );
      const err = new TimeoutError(`end() waited ${ms} ms for the peer's credit with ${unsent} bytes unsent`);
      (err as { resetCode?: number }).resetCode = ResetCode.IDLE_TIMEOUT;
      this.destroy(err);
    }, this.host.options.endTimeout);
  }

  /** @internal The tail left by `write()` goes out now (Scheduler.defer). */
  runDeferred(): void {
    this.unmark(TAIL_SCHEDULED);
    this.pump(true);
    this.checkWritable();
  }

  /** Hear onDrain once every queued frame has left, not at the writer's low-water mark. */
  private drainWhenEmpty(): void {
    this.needDrain = true;
    this.lowWater = 0;
  }

  /**
   * A buffer written here was transferred (detached) or shrunk before it was sent: what was queued
   * from it on is gone. The stream fails with a TypeError and the peer gets a reset (or the v3
   * close); one that had ended already can only be logged.
   */
  override onDetached(): void {
    const what = 'a buffer written to the stream was detached (transferred) or shrunk before it was sent';
    if (this._state !== 'closed') {
      // A CloseStream queued behind the data (end() on a stream without reset: its v3 close) was
      // dropped with it: not sent, though marked so, and destroy() would send nothing in its
      // place, leaving the peer's end open for good.
      if (!this.resetNegotiated) this.unmark(CLOSE_SENT);
      this.destroy(new TypeError(`${what}: the stream is reset, what was still queued is lost`));
      return;
    }
    if (this.is(CLOSE_RECEIVED) && this.is(QUEUED_AT_CLOSE)) {
      // Closed by the peer's CloseStream with data queued: the close-ACK it waits for went behind
      // that data and was dropped with it. Queued again; the address is kept until it has left.
      this.host.logger.warn({ stream: this.describe() }, `${what}, after the peer had closed the stream`);
      this.ordered(Cmd.CLOSE_ACK, EMPTY);
      if (this.bytes > 0) {
        this.drainWhenEmpty();
        return;
      }
    } else {
      this.host.logger.warn(
        { stream: this.describe() },
        `${what}, after the stream had ended: the end was not sent`,
      );
    }
    if (this.is(QUEUED_AT_CLOSE)) {
      this.unmark(QUEUED_AT_CLOSE);
      this.host.sent(this);
    }
  }

  override onDrain(): void {
    this.checkWritable();
    if (this.is(END_SENT) && this.bytes === 0) this.face?.onFlushed?.();
    if (this.is(QUEUED_AT_CLOSE)) {
      if (this.bytes === 0) {
        this.unmark(QUEUED_AT_CLOSE);
        this.host.sent(this);
      } else {
        this.drainWhenEmpty();
      }
      return;
    }
    if (!this.is(RELEASE_ON_FLUSH)) return;
    if (this.bytes === 0) {
      this.finish(null);
    } else {
      // Fired early by a writer's threshold: wait for the queue (and the FIN in it) to empty.
      this.drainWhenEmpty();
    }
  }

  private checkWritable(): void {
    if (!this.is(NEED_WRITABLE)) return;
    if (this.pendingBytes + this.bytes < this.highWater) {
      // Not while the sink holds the writer's buffer (reuseWrittenBuffers): onReleased comes back.
      if (this.holdsWriterBytes) return;
      this.unmark(NEED_WRITABLE);
      this.face?.onWritable();
      // A tail held while the writer waited: give its answer to 'drain' (a nextTick and some
      // microtasks away on Node) the chance to join it, then send it.
      // (A closure made here, not a bound method per stream: idle streams pay nothing for it.)
      if (this.pendingBytes > 0 && this.tailTimer === null)
        this.tailTimer = timeout(() => this.releaseTail(), 0);
    } else {
      this.needDrain = true;
      this.lowWater = Math.max(0, (this.highWater >>> 1) - this.pendingBytes);
    }
  }

  /** Sends a tail held while the writer waited for 'drain', unless it waits again. */
  private releaseTail(): void {
    this.tailTimer = null;
    if (this._state === 'closed' || this.pendingBytes === 0 || this.is(NEED_WRITABLE)) return;
    this.unmark(WRITER_WAITS);
    this.pump();
    this.checkWritable();
  }

  private dropPending(): void {
    if (this.holdTimer !== null) {
      clearTimeout(this.holdTimer);
      this.holdTimer = null;
    }
    if (this.tailTimer !== null) {
      clearTimeout(this.tailTimer);
      this.tailTimer = null;
    }
    const slabs = this.host.scheduler.slabs;
    if (slabs !== null && this.pending !== null) {
      // The head's first headOffset bytes are in a frame already: freed with it, not here.
      let skip = this.headOffset;
      for (const v of this.pending) {
        slabs.free(v, skip);
        skip = 0;
      }
    }
    this.pending?.clear();
    this.pendingBytes = 0;
    this.headOffset = 0;
    this.copyBuf = null;
  }

  /** The sink let go of this stream's payload bytes up to `taken` (Scheduler: ReleaseWatch). */
  override onReleased(taken: number): void {
    const w = this.host.scheduler.watchOf(this);
    if (!w.waiting || taken < w.heldTo) return;
    w.waiting = false;
    this.checkWritable();
  }

  // ---------------------------------------------------------------- inbound frames

  /** @internal A data-ACK: the peer consumed `n` bytes (0: see onArrived). */
  onAck(n: number): void {
    if (this._state === 'closed') return;
    if (n <= 0) {
      this.onArrived();
      return;
    }
    this.ackedTotal += n;
    this.unmark(CREDIT_REQUESTED);
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

  /**
   * A data-ACK of 0 on a prompt-credit stream: our credit request reached the peer, whose reader
   * has not caught up yet, so everything sent before the request has arrived. It no longer counts
   * against sharedInflight; credit itself still waits for the reader. Ignored otherwise (Go sends
   * none; PROTOCOL.md 4.2).
   */
  private onArrived(): void {
    if ((this.caps & Caps.PROMPT_CREDIT) === 0 || !this.is(CREDIT_REQUESTED)) return;
    this.unmark(CREDIT_REQUESTED);
    if (this.requestedAt > this.arrivedTotal) this.arrivedTotal = this.requestedAt;
    this.pump();
    this.checkWritable();
  }

  /** @internal A DATA frame arrived for the stream. */
  onData(payload: Uint8Array): void {
    if (this._state === 'closed' || this.is(CLOSE_RECEIVED)) return; // v3: dropped
    // Checked before READ_ENDED, which the FIN sets too: that check dropped such data silently.
    if (payload.length > 0 && this.is(REMOTE_FIN)) {
      this.violate(ResetCode.PROTOCOL, new ProtocolError('data after FIN'));
      return;
    }
    if (this.is(READ_ENDED)) return;
    if (payload.length === 0) {
      // Go ignores empty data frames (1.3); with prompt credit one is a credit request.
      if ((this.caps & Caps.PROMPT_CREDIT) !== 0 && !this.is(DISCARDED)) this.onCreditRequest();
      return;
    }
    const n = payload.length;
    if (this.finWait !== null && this.recvTotal + n > this.finWait.at) {
      this.violate(ResetCode.PROTOCOL, new ProtocolError('data after FIN'));
      return;
    }
    // Against the credit the peer holds: what it sent and we have not acknowledged. Bytes the
    // reader consumed but whose ACK is still batched (ackPending) are no credit of the peer's yet.
    if (this.recvTotal + n - (this.consumedTotal - this.ackPending) > this.window) {
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
    this.touched = clock();
    this.host.accountReceive(n);
    this.face?.onData(payload);
    if (this.finWait !== null && this.finWait.at === this.recvTotal) {
      this.stopFinWait();
      // (The reader may have destroyed the stream while it took that data.)
      if (this.state !== 'closed') this.remoteFin();
    }
  }

  /** The reader took `n` bytes: return credit to the peer, batched (never 0, split at 65 535). */
  consumed(n: number): void {
    if (n <= 0 || this.is(DISCARDED)) return;
    this.unmark(STARVED);
    this.consumedTotal += n;
    this.host.accountReceive(-n);
    if (this.unread !== null) {
      this.unread.bytes -= n;
      if (this.unread.bytes <= 0) this.forgetUnread();
    }
    if (this._state === 'closed' || this.is(CLOSE_RECEIVED)) return;
    this.ackPending += n;
    const caughtUp = this.consumedTotal === this.recvTotal;
    // Batch ACKs, but never hold so many that the peer stalls: a sender has at least half of the
    // window left (3/4 for Go); a v3 sender capped at 16 in-flight frames sees an ACK every 8
    // frames; a PROMPT_CREDIT sender that asked for credit gets it once we have read up to its
    // request; a flexmux sender on a slow link hears from us at least every 100 ms. A sender
    // that has used over half its window may be waiting for this credit (its end() times out
    // after endTimeout without any): it gets whatever is owed 100 ms after the last, or a reader
    // slower than the byte rules (64 KiB in 30 s) looked dead to it while it was reading.
    if (
      this.ackPending >= this.ackThreshold ||
      (this.caps === 0
        ? caughtUp && this.framesSinceAck >= 8
        : (caughtUp && this.is(CREDIT_ASKED)) ||
          (this.ackPending >= ACK_BY_TIME_MIN && clock() - this.ackedAt >= ACK_MAX_DELAY_MS)) ||
      (this.recvTotal - this.consumedTotal + this.ackPending > this.window >>> 1 &&
        clock() - this.ackedAt >= ACK_MAX_DELAY_MS)
    ) {
      this.flushAcks();
    }
  }

  /**
   * The reader wants more than it has (a read(n) found fewer bytes) and takes nothing until more
   * comes: a sender that holds itself below the window must get what we owe now, or both wait for
   * good. That is a PROMPT_CREDIT sender that asked (it may keep only sharedInflight bytes out) and
   * a v3 sender (it keeps at most maxInflight frames out, which may be far fewer bytes than the
   * reader waits for). A flexmux sender that did not ask has its whole window: the byte rule is
   * enough for it.
   */
  starved(): void {
    if (this._state === 'closed' || this.is(DISCARDED) || this.is(CLOSE_RECEIVED)) return;
    this.mark(STARVED);
    if (this.ackPending > 0 && (this.caps === 0 || this.is(CREDIT_ASKED))) this.flushAcks();
  }

  /**
   * The face dropped what it buffered (destroyed or cancelled by the application) after the stream
   * had closed: those bytes stop counting against the connection's receive budget. (Before the
   * close, destroy() does this.)
   */
  discardUnread(): void {
    if (this._state === 'closed') this.dropUnread();
  }

  /** The face discards what it buffered: it stops counting against the connection (once). */
  private dropUnread(): void {
    if (this.is(DISCARDED)) return;
    this.mark(DISCARDED);
    const unread = this.recvTotal - this.consumedTotal;
    if (unread > 0) this.host.accountReceive(-unread);
    this.forgetUnread();
  }

  /**
   * A clean close with bytes the reader has not taken: they count against the connection until it
   * takes them, the application discards them, or the face is garbage-collected (./unread.ts).
   */
  private watchFace(): void {
    const bytes = this.recvTotal - this.consumedTotal;
    if (bytes <= 0 || this.face === null || this.is(DISCARDED)) return;
    this.unread = { host: this.host, bytes };
    watchUnread(this.face, this.unread);
  }

  /** The unread bytes were taken or dropped, and counted so: the face need no longer be watched. */
  private forgetUnread(): void {
    const unread = this.unread;
    if (unread === null) return;
    this.unread = null;
    unread.bytes = 0;
    releaseUnread(unread);
  }

  /**
   * An empty data frame on a PROMPT_CREDIT stream: the peer asks for the credit we owe. Answered
   * once the reader has consumed everything received, or at once when it has and when it waits
   * for more than it has (it will consume nothing until data comes, and the sender sends none).
   * A reader that has not caught up by its next turn gets a data-ACK of 0 sent for it: the
   * request, and all sent before it, has arrived. Bytes waiting for our reader are not in socket
   * buffers, where sharedInflight bounds them, and a sender held to it would otherwise stop for as
   * long as our reader pauses. (A flowing reader takes what it was handed in a tick of its own, and
   * then the credit goes instead: a notice then would only let more bytes ahead of short messages.)
   */
  private onCreditRequest(): void {
    if (this.consumedTotal === this.recvTotal || (this.is(STARVED) && this.ackPending > 0)) {
      this.flushAcks();
      return;
    }
    this.mark(CREDIT_ASKED);
    if (!this.is(NOTICE_DUE)) {
      this.mark(NOTICE_DUE);
      queueMicrotask(() => this.noticeArrival());
    }
  }

  /** Sends the arrival notice for a credit request that the reader has not answered by now. */
  private noticeArrival(): void {
    this.unmark(NOTICE_DUE);
    if (!this.is(CREDIT_ASKED) || this._state === 'closed' || this.is(CLOSE_RECEIVED) || this.is(DISCARDED))
      return;
    this.control(Cmd.DATA_ACK, EMPTY, 0);
  }

  /**
   * Sends every pending credit now (also used when the reader catches up after a pause). Any ACK
   * answers a credit request, as any ACK clears the sender's CREDIT_REQUESTED.
   * @internal
   */
  flushAcks(): void {
    this.unmark(CREDIT_ASKED);
    let left = this.ackPending;
    if (left === 0) return;
    this.ackPending = 0;
    // Frames count as answered only once this ACK covers every byte received: a frame the reader
    // has not (wholly) taken is still in flight for a v3 sender, which holds at most maxInflight
    // such frames. Reset while the reader was behind (a read(n) that had claimed only part of a
    // burst of short frames), the count of the frames it then took stayed under the 8 that the
    // rule in consumed() waits for, below the byte rule too: no ACK came, and the sender, its
    // frames all unanswered, stopped for good.
    if (this.consumedTotal === this.recvTotal) this.framesSinceAck = 0;
    this.ackedAt = clock();
    while (left > 0) {
      const k = Math.min(left, MAX_PAYLOAD);
      this.control(Cmd.DATA_ACK, EMPTY, k);
      left -= k;
    }
  }

  /** @internal A FIN arrived: the peer sends nothing more. */
  onFin(payload: Uint8Array = EMPTY): void {
    if (this._state === 'closed' || this.is(REMOTE_FIN) || this.finWait !== null) return;
    // A stream uses an extension only if its ACK carried the bit (PROTOCOL.md 14.1): on any other
    // (a Go peer's) a FIN is no half-close, and taking it for one would end the reader early.
    if (!this.halfCloseNegotiated) {
      this.violate(
        ResetCode.PROTOCOL,
        new ProtocolError('FIN on a stream that did not negotiate HALF_CLOSE'),
      );
      return;
    }
    // Data the FIN follows may still come behind it: a Go switcher sends the FIN ahead of the
    // stream's queued data (wire/fin.ts). Taken where it came, that data was a violation, and on a
    // release-on-FIN stream it was dropped unheard, or taken by a new stream from the same port.
    const owed = finOwed(payload, this.recvTotal);
    if (owed > this.window) {
      this.violate(ResetCode.PROTOCOL, new ProtocolError(`FIN after ${owed} bytes beyond the window`));
      return;
    }
    if (owed > 0) {
      this.finWait = { at: this.recvTotal + owed };
      this.armFinWait(this.finWait);
      return;
    }
    this.remoteFin();
  }

  /**
   * Bounds the wait for the bytes a FIN counts: a Go switcher may have dropped them, and the
   * stream would wait for them for ever (a receiver has no other timeout), its reader never told.
   * They come behind the FIN at the latest once the switcher's writer gives this stream its turn,
   * which it does while it writes anything to this connection (round robin between streams). So
   * the wait runs out after endTimeout in which none of them came while the connection received
   * other frames; a connection that received nothing meanwhile (idle, or dead: the heartbeat's
   * business) waits again.
   */
  private armFinWait(w: FinWait): void {
    const ms = this.host.options.endTimeout;
    const got = this.recvTotal;
    const frames = this.host.framesReceived?.();
    // (finish() and the last byte stop it: stopFinWait.)
    if (ms > 0)
      w.timer = timeout(() => {
        if (this.recvTotal !== got || this.host.framesReceived?.() === frames) this.armFinWait(w);
        else this.loseData();
      }, ms);
  }

  private stopFinWait(): void {
    clearTimeout(this.finWait?.timer);
    this.finWait = null;
  }

  /**
   * The bytes the peer's FIN counts can no longer come: a relay lost them. The stream fails
   * with DataLostError, never ends as if complete, and the peer is told (a reset, code 1, where
   * negotiated, else the v3 close, or nothing after its own close).
   */
  private loseData(): void {
    const missing = (this.finWait?.at ?? 0) - this.recvTotal;
    this.stopFinWait();
    const err = new DataLostError(
      `${missing} bytes sent before the peer's FIN never came: data lost by the relay`,
      missing,
    );
    this.host.logger.warn(
      { stream: this.describe(), missing, ...errorFields(err) },
      'data lost by the relay: stream failed',
    );
    (err as { resetCode?: number }).resetCode = ResetCode.PROTOCOL;
    this.destroy(err);
  }

  /** The peer's FIN takes effect: every byte it sent before it has come. */
  private remoteFin(): void {
    this.mark(REMOTE_FIN);
    this.endRead();
    if (this.is(FIN_SENT)) this.bothEnded();
  }

  /**
   * The peer's CloseStream; `answered`: its close-ACK went out already (the node's, before the ACK).
   * @internal
   */
  onClose(answered = false): void {
    if (this._state === 'closed') {
      return;
    }
    this.mark(CLOSE_RECEIVED);
    const lost = this.pendingBytes;
    this.dropPending();
    // The close travels behind the stream's data, on a Go switcher too (its ordered class, with
    // data): bytes a FIN counts that have not come were lost on the way. Ended here, the stream
    // reported a clean end with them missing.
    const short = this.finWait !== null;
    if (!short) this.endRead();
    if (!answered) this.ordered(Cmd.CLOSE_ACK, EMPTY);
    if (short) {
      this.loseData();
      return;
    }
    if (lost > 0) {
      this.finish(new StreamClosedError(`the peer closed the stream with ${lost} bytes unsent`));
    } else {
      this.finish(null);
    }
  }

  /** @internal The peer acknowledged this end's close. */
  onCloseAck(): void {
    if (this._state === 'closed' || !this.is(CLOSE_SENT)) return;
    this.endRead();
    this.finish(null);
  }

  /** @internal A reset arrived with its code and message. */
  onReset(code: number, message: string): void {
    if (this._state === 'closed') return;
    if (!this.resetNegotiated) {
      // Not a reset this stream speaks (14.1): a protocol violation, answered with the v3 close.
      this.violate(
        ResetCode.PROTOCOL,
        new ProtocolError(`reset (code ${code}) on a stream that did not negotiate RESET`),
      );
      return;
    }
    const text = message
      ? `stream reset by peer (code ${code}): ${message}`
      : `stream reset by peer (code ${code})`;
    this.abort(new StreamResetError(text, code, true));
  }

  /**
   * The ACK of an early-data dial through a switcher named the acceptor's IP, which the stream's
   * frames carry from now on (those already queued still go to FFFF, which the switcher routes).
   * @internal
   */
  rebind(remoteIP: number, key: number): void {
    this.remoteIP = remoteIP;
    this.key = key;
  }

  /**
   * The stream of an early-data dial runs before its OpenStream ACK. Until confirmOpen(), an
   * unanswered v3 close must not end it cleanly: the open may still be refused or time out, and
   * then the stream must fail (DialRefusedError, DialTimeoutError), or what was written would be
   * lost without a word. The node aborts it then; the close-ACK timeout waits for that.
   * @internal
   */
  awaitOpen(): void {
    this.mark(UNCONFIRMED);
  }

  /**
   * The early-data dial's ACK agreed: a close whose ACK timed out meanwhile gets its time again.
   * @internal
   */
  confirmOpen(): void {
    this.unmark(UNCONFIRMED);
    if (!this.is(CLOSE_EXPIRED) || this._state === 'closed') return;
    this.unmark(CLOSE_EXPIRED);
    this.armCloseTimer();
  }

  /**
   * Fails without sending anything more, dropping what is queued: the connection died or was
   * destroyed, the peer reset the stream, or an early-data open failed (the peer has no such
   * stream). Always with an error: a stream cut short so has not ended, and its reader must hear it.
   * @internal
   */
  abort(err: Error): void {
    if (this._state === 'closed') return;
    this.dropPending();
    this.host.scheduler.clear(this);
    this.finish(err);
  }

  // ---------------------------------------------------------------- closing

  /**
   * FIN sent and FIN received: nothing more can flow either way. With FIN_RELEASE both ends know
   * it, so the stream is released at once (the peer does the same on its side); otherwise the v3
   * close runs (PROTOCOL.md 14.2).
   */
  private bothEnded(): void {
    const release = Caps.HALF_CLOSE | Caps.FIN_RELEASE;
    if ((this.caps & release) !== release) {
      this.startClose();
    } else if (this.bytes === 0) {
      this.finish(null);
    } else {
      // Our FIN is still queued: release once it is written, so a later open from the same port
      // (a control frame, which overtakes queued stream frames) can never arrive before it.
      this.mark(RELEASE_ON_FLUSH);
      this.drainWhenEmpty();
    }
  }

  private startClose(): void {
    if (this.is(CLOSE_SENT) || this.is(CLOSE_RECEIVED) || this._state === 'closed') return;
    this.mark(CLOSE_SENT);
    this._state = 'closing';
    this.ordered(Cmd.CLOSE, EMPTY);
    this.armCloseTimer();
  }

  private armCloseTimer(): void {
    this.closeTimer = timeout(() => {
      this.closeTimer = null;
      // The close still waits in our own queue behind the stream's data (a backed-up connection):
      // the peer has not had it, so owes no answer yet. Ended now, the stream reported a clean close
      // with its data unsent, and a connection that then failed lost that data without a word.
      // Wait again; a dead connection is the heartbeat's business.
      if (this.bytes > 0) {
        this.armCloseTimer();
        return;
      }
      if (this.is(UNCONFIRMED)) {
        this.mark(CLOSE_EXPIRED);
        return;
      }
      this.host.logger.debug({ stream: this.describe() }, 'close-ACK timeout');
      this.endRead();
      this.finish(null);
    }, this.host.options.closeAckTimeout);
  }

  private endRead(): void {
    if (this.is(READ_ENDED)) return;
    this.mark(READ_ENDED);
    this.face?.onEnd();
  }

  /**
   * The peer broke the protocol on this stream: logged, and the stream fails with `err`, the peer
   * told with a reset of `code` where negotiated (else the v3 close). Also the node's, for what the
   * peer sent ahead of a dial's OpenStream ACK.
   * @internal
   */
  violate(code: number, err: Error): void {
    this.host.logViolation({ stream: this.describe(), ...errorFields(err) });
    if (this.resetNegotiated) {
      (err as { resetCode?: number }).resetCode = code;
    }
    this.destroy(err);
  }

  private finish(err: Error | null, silent = false, discard = err !== null || silent): void {
    if (this._state === 'closed') return;
    this._state = 'closed';
    if (this.closeTimer !== null) {
      clearTimeout(this.closeTimer);
      this.closeTimer = null;
    }
    if (this.finWait !== null) this.stopFinWait();
    if (discard) this.dropUnread();
    else this.watchFace();
    if (err !== null) this.face?.onError(err);
    else if (!this.is(READ_ENDED) && !silent) this.endRead();
    if (this.bytes > 0) {
      // Its close or close-ACK is still queued behind data (a backed-up connection): the host
      // keeps the address from a new stream until they have left (onDrain).
      this.mark(QUEUED_AT_CLOSE);
      this.drainWhenEmpty();
    }
    this.host.release(this);
    this.face?.onClose(silent);
    const cb = this.onFinished;
    this.onFinished = null;
    cb?.();
  }

  // ---------------------------------------------------------------- frames

  private ordered(cmd: number, payload: Uint8Array): void {
    const h = header(cmd, this.remoteIP, this.remotePort, this.localIP, this.localPort, payload.length);
    this.host.scheduler.pushOrdered(this, h, payload);
  }

  private control(cmd: number, payload: Uint8Array, size = payload.length): void {
    this.host.sendControl(cmd, this.remoteIP, this.remotePort, this.localIP, this.localPort, payload, size);
  }

  /** `localIP:localPort->remoteIP:remotePort`, for logs. */
  describe(): string {
    return `${this.localIP}:${this.localPort}->${this.remoteIP}:${this.remotePort}`;
  }
}

function resetCodeOf(err: Error | undefined): number {
  if (err === undefined) return ResetCode.CANCELLED;
  const code = (err as { resetCode?: unknown }).resetCode;
  return typeof code === 'number' && Number.isInteger(code) && code >= 0 && code <= 0xffffffff
    ? code
    : ResetCode.CANCELLED;
}
