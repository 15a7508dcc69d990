import { Duplex } from 'node:stream';
import { StreamClosedError } from '../errors.js';
import type { StreamCore, StreamFace } from '../stream/core.js';
import { COPY_BELOW, Stage } from '../stream/stage.js';
import { checkDelay, checkMethods, checkOptions } from '../util/check.js';
import { rethrowLater } from '../util/rethrow.js';
import { EncodedBacklog } from './encoded.js';
import { webViews } from './web-view.js';

/** Options of `new FlexStream(core, options)`, for a BaseNode stream factory. */
export interface FlexStreamOptions {
  /** Bytes the readable side buffers before it stops asking for more (credit follows reading). */
  readableHighWaterMark?: number;
  /** Bytes the writable side buffers before `write()` returns false. Default 64 KiB. */
  writableHighWaterMark?: number;
}

/** What the constructor checks a core has: one array for every stream, not one made per stream. */
const CORE_METHODS = ['attach'] as const;

/**
 * The Node.js face of a stream: a Duplex that behaves like a net.Socket where it can. Reading
 * drives credit: bytes count as consumed once they leave the readable buffer, so a paused reader
 * stops the peer after one window without stalling other streams.
 *
 * Inbound payloads are views of the read buffers they arrived in. One goes to the reader as it is
 * when it is large (COPY_BELOW) or taken at once (flowing, nothing buffered); a small one that
 * would wait is copied into a stage (src/stream/stage.ts), pushed as one chunk when it fills,
 * before a large payload, once the reader has taken everything buffered, and before the end. The
 * stage holds bytes only while the readable buffer does, and they are not consumed (no credit).
 */
export class FlexStream extends Duplex implements StreamFace {
  /** The runtime-neutral state of the stream, under this face. */
  readonly core: StreamCore;
  /** Bytes pushed into the readable buffer (staged bytes are not, until the stage is pushed). */
  private pushedTotal = 0;
  /** Small payloads waiting behind a backlog; null when none are. */
  private stage: Stage | null = null;
  /**
   * What the reader's last read(n) asked for when it found less buffered (it waits for a push to
   * try again); 0 when no such read waits. Counted as Node counts readableLength (characters once
   * an encoding is set).
   */
  private wanted = 0;
  /**
   * While a read(n) waits: the byte position up to which what arrives counts as taken (what was
   * taken before it, plus n bytes, or 3n once an encoding is set: a character is at most three
   * bytes of UTF-8).
   */
  private claimUpTo = 0;
  /** Once an encoding is set: the bytes behind the characters Node counts (./encoded.ts). */
  private backlog: EncodedBacklog | null = null;
  private reportedTotal = 0;
  private writeCallback: ((err?: Error | null) => void) | null = null;
  /** The writeTick in which a write was last called back at once (see onWritable). */
  private calledBackIn = -1;
  /** _final's callback while what was written, and the end, wait to leave (see _final). */
  private finalCallback: ((err?: Error | null) => void) | null = null;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private idleMs = 0;
  private timeoutSet = false;

  constructor(core: StreamCore, options: FlexStreamOptions = {}) {
    // Null options failed with a TypeError reading their high-water marks.
    checkOptions('FlexStream', options);
    checkMethods('new FlexStream() core', 'a StreamCore', core, CORE_METHODS);
    super({
      allowHalfOpen: true,
      // 'close' is emitted by _destroy, with hadError as a net.Socket's (Node's own would have none).
      emitClose: false,
      readableHighWaterMark: options.readableHighWaterMark ?? 256 * 1024,
      writableHighWaterMark: options.writableHighWaterMark ?? 64 * 1024,
    });
    this.core = core;
    core.attach(this);
  }

  /** This end's virtual IP. */
  get localIP(): number {
    return this.core.localIP;
  }
  /** This end's port. */
  get localPort(): number {
    return this.core.localPort;
  }
  /** This end's domain. */
  get localDomain(): string {
    return this.core.localDomain;
  }
  /** The peer's virtual IP. */
  get remoteIP(): number {
    return this.core.remoteIP;
  }
  /** The peer's port. */
  get remotePort(): number {
    return this.core.remotePort;
  }
  /** The peer's domain when known (domain dials, and opens relayed by a switcher). */
  get remoteDomain(): string {
    return this.core.remoteDomain;
  }
  /** `ip:port` of the peer, like net.Socket's remoteAddress/remotePort pair. */
  get remoteAddress(): string {
    return `${this.core.remoteIP}:${this.core.remotePort}`;
  }
  /** `ip:port` of this end. */
  get localAddress(): string {
    return `${this.core.localIP}:${this.core.localPort}`;
  }
  /** Payload bytes received. */
  get bytesRead(): number {
    return this.core.bytesRead;
  }
  /** Payload bytes framed for sending. */
  get bytesWritten(): number {
    return this.core.bytesWritten;
  }

  /**
   * Emits `'timeout'` after `ms` without traffic, like net.Socket; 0 disables (and takes back
   * `callback`, added by an earlier call). `ms` outside 0..2^31-1 is a ConfigError.
   */
  setTimeout(ms: number, callback?: () => void): this {
    // Node runs a longer timer (or NaN) after 1 ms: the stream would be reported idle at once.
    this.idleMs = checkDelay('setTimeout ms', ms, 0);
    this.timeoutSet = true;
    if (this.destroyed) return this;
    if (callback !== undefined) {
      if (ms === 0) this.off('timeout', callback);
      else this.once('timeout', callback);
    }
    this.clearIdle();
    this.armIdle();
    return this;
  }

  /** The idle time set by setTimeout (0: off); undefined until it is called, as net.Socket's. */
  get timeout(): number | undefined {
    return this.timeoutSet ? this.idleMs : undefined;
  }

  // net.Socket's connection options, for code that pools sockets (http.Agent with keepAlive calls
  // setKeepAlive and unref on every free socket, ref on reuse; a client request's setNoDelay
  // reaches the socket). They have nothing to set on a stream: its bytes leave at once (a short
  // tail after a microtask), the node's heartbeat watches the connection, and what keeps the
  // process alive is the connection, which all its streams share.

  /** Accepted for net.Socket compatibility; does nothing. */
  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  /** Accepted for net.Socket compatibility; does nothing (the node's heartbeat watches the link). */
  setKeepAlive(_enable?: boolean, _initialDelay?: number): this {
    return this;
  }

  /** Accepted for net.Socket compatibility; does nothing (the connection holds the event loop). */
  ref(): this {
    return this;
  }

  /** Accepted for net.Socket compatibility; does nothing (the connection holds the event loop). */
  unref(): this {
    return this;
  }

  /**
   * A Web Streams view of this stream. Each side follows its own half, so half-close works: the
   * readable is done at the peer's end while the writable is open, and the writer's close()
   * resolves on 'finish' while the peer still sends (Node 20's Duplex.toWeb waits for both: see
   * ./web-view.ts).
   */
  toWeb(): {
    /** What the peer sends. */
    readable: ReadableStream<Uint8Array>;
    /** What goes to the peer. */
    writable: WritableStream<Uint8Array>;
  } {
    // The writer's close() starts the end timeout at once, as end() does (see end below).
    return webViews(this, () => {
      if (!this.destroyed) this.core.endRequested();
    });
  }

  // ---------------------------------------------------------------- Duplex

  // Node then counts the readable buffer in characters; credit counts bytes.
  override setEncoding(encoding: BufferEncoding): this {
    if (this.backlog !== null) {
      super.setEncoding(encoding);
      this.backlog.reencode(encoding);
      return this;
    }
    // Node 20 keeps taken chunks as nulls at the head of its buffer array until it trims it.
    const buffered: Uint8Array[] = [];
    for (const b of (this as unknown as { readableBuffer: Iterable<Uint8Array | null> }).readableBuffer) {
      if (b !== null) buffered.push(b);
    }
    super.setEncoding(encoding);
    this.backlog = new EncodedBacklog(encoding, buffered);
    return this;
  }

  // A write is traffic, as on a net.Socket: a stream that only sends is not idle. (_write is called
  // as the core takes bytes, so a writer held back by the peer does not count as active.)
  /** @internal The Duplex's write hook. */
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.idleMs > 0) this.armIdle();
    try {
      if (this.core.write(chunk)) {
        cb();
        // After cb(): Node's tick for it is queued first, so it has run when writeTick moves on.
        this.calledBackIn = calledBackNow();
      } else this.writeCallback = cb;
    } catch (err) {
      this.writeFailed(err as Error, cb);
    }
  }

  /** @internal The Duplex's vectored write hook. */
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    if (this.idleMs > 0) this.armIdle();
    try {
      let ok = true;
      for (const c of chunks) ok = this.core.write(c.chunk);
      if (ok) {
        cb();
        // After cb(): Node's tick for it is queued first, so it has run when writeTick moves on.
        this.calledBackIn = calledBackNow();
      } else this.writeCallback = cb;
    } catch (err) {
      this.writeFailed(err as Error, cb);
    }
  }

  /**
   * A write the core refused. After a failure nobody has heard yet (onError: a reset that came
   * with the dial's answer, before the program could listen), the deferred destroy fails it with
   * that failure, as it does a write that waited: failed here, Node emitted a second error, the
   * core's "writer is closed", which hid the reset and, with no listener, crashed the process.
   */
  private writeFailed(err: Error, cb: (err?: Error | null) => void): void {
    if (this.failure !== null) this.writeCallback = cb;
    else cb(err);
  }

  // Node runs _final only once every write's callback came, and the core keeps a write's callback
  // while more than streamHighWaterMark waits for credit: the core hears of the end now, so that
  // its endTimeout bounds the wait (a reader that never reads held such a stream for ever).
  override end(cb?: () => void): this;
  override end(chunk: unknown, cb?: () => void): this;
  override end(chunk: unknown, encoding?: BufferEncoding, cb?: () => void): this;
  override end(...args: unknown[]): this {
    Reflect.apply(Duplex.prototype.end, this, args);
    if (this.writableEnded && !this.writableFinished && !this.destroyed) this.core.endRequested();
    return this;
  }

  // 'finish' once what was written, and the end, have left for the connection, as a net.Socket's
  // once they reached the kernel: the core may hold up to a window's worth waiting for credit,
  // and a program that destroys the stream on 'finish' must not throw that away.
  // (A stream that failed unheard does not finish: its deferred destroy fails `cb`, see onError.)
  /** @internal The Duplex's end hook. */
  override _final(cb: (err?: Error | null) => void): void {
    this.core.end();
    if (this.core.flushed && this.failure === null) cb();
    else this.finalCallback = cb;
  }

  /** @internal The Duplex's read hook. */
  override _read(): void {
    // Node also asks while the buffer still holds data (it reads ahead below the high-water mark
    // after a push): a partly filled stage pushed then would only make more, smaller chunks. The
    // stage goes in once the buffer is empty, which read() below sees first.
    if (this.stage !== null && this.readableLength === 0) this.pushStage();
    this.reportConsumed();
  }

  // Credit follows the bytes leaving the readable buffer: _read alone misses a paused reader
  // that drains the buffer with read() (or a flowing one started after data arrived).
  override read(size?: number): Buffer | null {
    // A read of `size` bytes may need staged ones: a reader waiting for more than is buffered
    // would otherwise wait for the next payload, which may never come.
    if (this.stage !== null && size !== undefined && size > this.readableLength) this.pushStage();
    const chunk = super.read(size) as Buffer | null;
    // A read(n) that found less than n waits for a push (Node emits 'readable' on one): the stage
    // must go in once it completes what was asked, or the reader never hears of it (hold()).
    // (Node's own read(0) calls change nothing here.)
    if (chunk !== null) this.wanted = 0;
    else if (size !== undefined && size > this.readableLength) {
      this.wanted = size;
      this.claimUpTo = this.pushedTotal - this.unreadBytes() + (this.backlog === null ? size : 3 * size);
    }
    // The reader has taken everything buffered: what is staged follows. (By now super.read has
    // emitted 'data' for `chunk`, so a flowing reader gets the stage after it.)
    if (this.stage !== null && this.readableLength === 0) {
      this.pushStage();
      this.reportConsumed();
    } else if (chunk !== null) {
      this.reportConsumed();
    } else if (this.wanted > 0 && !this.readableEnded) {
      // It waits for more than is buffered: what is buffered (and staged) is the start of what it
      // takes next, as good as taken, as a Go reader's Read copies out what there is. Counted as
      // consumed, so a sender that holds itself below the window (sharedInflight, a v3 frame cap)
      // cannot stop short of the record; and what is owed to such a sender goes now.
      this.claim();
      this.core.starved();
    }
    return chunk;
  }

  /** @internal The Duplex's destroy hook. */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.clearIdle();
    this.stage = null;
    // autoDestroy after a clean end in both directions must let the close handshake finish;
    // any other destroy aborts the stream (RESET or v3 close).
    const clean = err === null && this.writableFinished && this.readableEnded;
    if (!clean && this.core.state !== 'closed') this.core.destroy(err ?? undefined);
    // Closed already (the peer ended it): what the reader did not take is dropped all the same.
    else if (!clean) this.core.discardUnread();
    // One that failed unheard (onError) fails a write or an end() that waited with its error.
    const failed = err ?? this.failure;
    const w = this.writeCallback;
    this.writeCallback = null;
    if (w !== null) this.callBackInOrder(w, failed);
    // A destroyed stream does not finish (Node fails the callbacks of end()).
    const f = this.finalCallback;
    this.finalCallback = null;
    if (failed !== null) f?.(failed);
    cb(err);
    // As net.Socket does (it also sets emitClose: false): true when the stream ended with an
    // error, emitted as 'error' or kept in `failure`. After the 'error', which Node emits on the
    // tick that cb(err) queued just before.
    const hadError = failed !== null;
    process.nextTick(() => this.emit('close', hadError));
  }

  // ---------------------------------------------------------------- StreamFace

  onData(chunk: Uint8Array): void {
    // Fast path (no copy): a large payload, or one the reader takes at once, with nothing staged.
    if (
      this.stage === null &&
      (chunk.length >= COPY_BELOW || (this.readableLength === 0 && this.readableFlowing === true))
    ) {
      this.pushData(chunk);
    } else {
      this.hold(chunk);
    }
    this.reportConsumed();
    // A read(n) waits for more: this payload is part of what it takes (see read()).
    if (this.wanted > 0) this.claim();
    if (this.idleMs > 0) this.armIdle();
  }

  onEnd(): void {
    if (this.stage !== null) this.pushStage();
    this.backlog?.end();
    // A reader in paused mode hears 'readable' inside push(null): see pushData.
    try {
      this.push(null);
    } catch (err) {
      rethrowLater(err);
    }
  }

  /**
   * Set when the stream failed before anyone listened for 'error' (it then closes without one,
   * and Node's `errored` stays null); an error emitted as 'error' is in `errored` instead.
   */
  failure: Error | null = null;

  onError(err: Error): void {
    // Destroyed already (its own destroy(err) got here through the core): Node reports that.
    if (this.destroyed) return;
    if (this.listenerCount('error') > 0) {
      this.destroy(err);
      return;
    }
    // The stream may fail before the application holds it (a reset right behind the OpenStream
    // ACK, or in a listener's backlog): give it a turn to attach its handlers, and never let an
    // unheard 'error' crash the process — the stream then closes early, with `failure` set. Set
    // now: the close that follows at once (onClose) must not pass for a clean one.
    this.failure = err;
    setImmediate(() => {
      if (this.destroyed) return;
      if (this.listenerCount('error') > 0) {
        this.failure = null;
        this.destroy(err);
      } else {
        this.destroy();
      }
    });
  }

  onFlushed(): void {
    const cb = this.finalCallback;
    this.finalCallback = null;
    cb?.();
  }

  // Node calls back the writes the core took at once on a tick of its own (afterWriteTick), and
  // the credit or drain that ends this wait often comes before that tick, in a microtask (writes
  // made after an `await`). Called then, the callback of the write that waited came before those
  // of the writes ahead of it, which a net.Socket's never do: a writer that noted its progress in
  // callbacks went backwards. So while such callbacks wait for their tick, this one follows them
  // on the next; otherwise it comes now. (Left pending until then: a destroy or close before the
  // tick calls it back, after those too: callBackInOrder.)
  onWritable(): void {
    if (this.idleMs > 0) this.armIdle();
    if (this.writeCallback === null) return;
    // (A closure only when a write waited behind others called back in the same tick.)
    if (this.calledBackIn === writeTick && writeTickDue) process.nextTick(() => this.releaseWrite());
    else this.releaseWrite();
  }

  /** The write that waited for onWritable is done (see there). */
  private releaseWrite(): void {
    const cb = this.writeCallback;
    this.writeCallback = null;
    cb?.();
  }

  /**
   * Calls back the write that waited when the stream closes or is destroyed, after the callbacks
   * Node still owes the writes taken before it (see onWritable). Called at once, it came first,
   * and with an error Node then failed the writes behind it too, all ahead of those callbacks.
   * (Queued before the 'close' of _destroy, so it still comes before it.)
   */
  private callBackInOrder(cb: WriteCallback, err: Error | null): void {
    if (this.calledBackIn === writeTick && writeTickDue) process.nextTick(cb, err);
    else cb(err);
  }

  onClose(aborted: boolean): void {
    this.clearIdle();
    if (this.destroyed) return;
    if (aborted) {
      // Aborted by no destroy() of ours (that one found the stream destroyed above): a core
      // destroyed without an error, or a backlog stream refused. Closed without an error it looked
      // like a clean end to code that listens for 'error' only, as the Web Streams face never did.
      // Through onError: nobody may listen yet (a refused backlog stream is nobody's).
      this.onError(new StreamClosedError('stream aborted'));
      return;
    }
    // It failed, and its error waits for a listener (onError): nothing was delivered or finished.
    if (this.failure !== null) return;
    const cb = this.writeCallback;
    this.writeCallback = null;
    if (cb !== null) this.callBackInOrder(cb, null);
    // Whatever was written has left or was reported lost (an error, not this close).
    this.onFlushed();
    // The stream is gone in both directions: finish the writable side so 'close' follows. A
    // write after that is the program's first news of the close (a v3 peer's, or node.close()):
    // it fails with StreamClosedError, as a net.Socket's fails with EPIPE once its peer ended,
    // not with Node's "write after end", which blames an end() the program never called.
    if (!this.writableEnded) {
      this.end();
      this.write = writeAfterClose;
      this.end = endAfterClose;
    }
  }

  /** A payload that would wait in the readable buffer: small ones are copied (see the class doc). */
  private hold(chunk: Uint8Array): void {
    if (chunk.length >= COPY_BELOW) {
      if (this.stage !== null) this.pushStage();
      this.pushData(chunk);
      return;
    }
    if (this.stage === null) this.stage = new Stage();
    const stage = this.stage;
    const full = stage.add(chunk);
    if (full !== null) this.pushData(full);
    // Nothing buffered (a paused or not yet reading stream): the copy goes in now, so the reader
    // is told there is data and nothing is held back. A reader waiting in read(n) for more than is
    // buffered gets the stage once it completes what was asked (an encoding's characters may take
    // as little as half a byte each: hex).
    const staged = this.readableEncoding === null ? stage.length : stage.length * 2;
    if (
      this.readableLength === 0 ||
      stage.length === 0 ||
      (this.wanted > 0 && this.readableLength + staged >= this.wanted)
    ) {
      this.pushStage();
    }
  }

  private pushStage(): void {
    const chunk = this.stage?.take() ?? null;
    this.stage = null;
    if (chunk === null) return;
    this.pushData(chunk);
  }

  private pushData(chunk: Uint8Array): void {
    this.pushedTotal += chunk.length;
    this.backlog?.add(chunk);
    // A flowing reader's 'data' handler runs inside push(): what it throws is the application's,
    // rethrown on its own (as an uncaught exception, like a throw in a net.Socket's), and the
    // stream carries on, its credit counted, as if push() had returned.
    try {
      this.push(chunk);
    } catch (err) {
      rethrowLater(err);
    }
  }

  /**
   * Counts what was received as consumed, staged bytes too, up to what a waiting read(n) takes
   * (claimUpTo). The buffer then holds at most what the reader asked for plus one window, and a
   * reader that goes away after such a read still stops its peer. Later reads report nothing
   * until they have taken past what was counted here.
   */
  private claim(): void {
    const received = this.pushedTotal + (this.stage?.length ?? 0);
    const n = Math.min(received, this.claimUpTo) - this.reportedTotal;
    if (n > 0) {
      this.reportedTotal += n;
      this.core.consumed(n);
    }
  }

  /** Bytes pushed that the reader has not taken. */
  private unreadBytes(): number {
    return this.backlog === null ? this.readableLength : this.backlog.unread(this.readableLength);
  }

  private reportConsumed(): void {
    const consumed = this.pushedTotal - this.unreadBytes() - this.reportedTotal;
    if (consumed > 0) {
      this.reportedTotal += consumed;
      this.core.consumed(consumed);
    }
  }

  /** (Re)starts the idle clock. Traffic only refreshes the one timer: no new timer per chunk. */
  private armIdle(): void {
    if (this.idleMs <= 0 || this.destroyed) {
      this.clearIdle();
      return;
    }
    if (this.idleTimer !== null) {
      this.idleTimer.refresh();
      return;
    }
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      this.emit('timeout');
    }, this.idleMs);
    this.idleTimer.unref();
  }

  private clearIdle(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}

type WriteCallback = (err?: Error | null) => void;

/**
 * Counts the ticks in which some stream called a write back at once (Node runs those callbacks
 * on the next tick): while writeTickDue, a stream whose calledBackIn is writeTick has callbacks
 * that Node has not run yet. One nextTick per such tick for all streams, none per write.
 */
let writeTick = 0;
let writeTickDue = false;

function calledBackNow(): number {
  if (!writeTickDue) {
    writeTickDue = true;
    process.nextTick(endWriteTick);
  }
  return writeTick;
}

function endWriteTick(): void {
  writeTick++;
  writeTickDue = false;
}

/** write() of a stream closed under a writer that had not ended (see FlexStream.onClose). */
function writeAfterClose(
  this: FlexStream,
  _chunk: unknown,
  encoding?: BufferEncoding | WriteCallback,
  callback?: WriteCallback,
): boolean {
  const cb = typeof encoding === 'function' ? encoding : callback;
  const err = new StreamClosedError();
  if (cb !== undefined) process.nextTick(cb, err);
  this.destroy(err);
  return false;
}

/** end() of such a stream: its last chunk fails as a write does (writeAfterClose). */
function endAfterClose<T extends FlexStream>(this: T, ...args: unknown[]): T {
  const [chunk, encoding, callback] = args;
  if (chunk === undefined || chunk === null || typeof chunk === 'function') {
    return Reflect.apply(Duplex.prototype.end, this, args) as T;
  }
  writeAfterClose.call(this, chunk, encoding as BufferEncoding | WriteCallback, callback as WriteCallback);
  return this;
}
