import { ConfigError, StreamClosedError } from '../errors.js';
import { isArrayBuffer, pinsBuffer } from '../util/bytes.js';
import { checkMethods, checkOptions } from '../util/check.js';
import { HEADER_SIZE } from '../wire/constants.js';
import { CloseAwareWritable } from './close-aware.js';
import type { StreamCore, StreamFace } from './core.js';
import { COPY_BELOW, Stage } from './stage.js';

/** What the constructor checks a core has: one array for every stream, not one made per stream. */
const CORE_METHODS = ['attach'] as const;

/**
 * The Web Streams face of a stream, runtime-neutral (browsers, Node, Deno): a ReadableStream and
 * a WritableStream of Uint8Array. Credit follows reading: bytes count as consumed once they leave
 * the readable queue.
 *
 * Inbound payloads are views of the read buffers they arrived in. One is enqueued without a stage
 * when it is large (COPY_BELOW), or when the queue is empty and it is at least half of its buffer
 * (a WebSocket message in a browser): as it is when it has its buffer to itself, else as a copy
 * (ownPayload). Other small ones are copied into a stage (./stage.ts),
 * enqueued as one chunk when it fills, before a large payload, once the reader has emptied the
 * queue, and before the end. Staged bytes are not consumed (no credit).
 *
 * The readable's high-water mark is out of reach (see PULL_ALWAYS): `pull`, the one hook that runs
 * when the reader takes a chunk, then runs after every read, and credit goes back as the reader
 * takes chunks, as the Node face's does. The window bounds what the queue holds.
 */
export class WebStream implements StreamFace {
  /** The runtime-neutral state of the stream, under this face. */
  readonly core: StreamCore;
  /** What the peer sends; done at the peer's end. */
  readonly readable: ReadableStream<Uint8Array>;
  /** What goes to the peer; closing it ends this side (half-close where negotiated). */
  readonly writable: WritableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #writeController!: WritableStreamDefaultController;
  /** The writable's close() while what was written, and the end, wait to leave. */
  #flushWaiter: { resolve: () => void; reject: (err: Error) => void } | null = null;
  /** Bytes enqueued (staged bytes are not, until the stage is enqueued). */
  #enqueued = 0;
  /** Small payloads waiting behind queued data; null when none are. */
  #stage: Stage | null = null;
  private reported = 0;
  #readDone = false;
  /** The peer ended; the readable closes once the reader has emptied the queue (see onEnd). */
  private ending = false;
  private failed = false;
  #writeWaiter: { resolve: () => void; reject: (e: Error) => void } | null = null;
  /** The writable's close() was called: the stream's close finishes it, not errors it. */
  #writeClosed = false;
  #closedResolve!: () => void;
  /** Resolves when the stream is finished in both directions (also after an error). */
  readonly closed: Promise<void>;

  /**
   * @param _options.readableHighWaterMark Ignored: kept so existing callers still compile. A
   *   high-water mark below the window held credit back while the queue was above it (see the
   *   class doc).
   */
  constructor(core: StreamCore, _options: { readableHighWaterMark?: number } = {}) {
    // Ignored, yet refused as null, as every other call's options are (FlexStream's too).
    checkOptions('WebStream', _options);
    this.core = checkMethods('new WebStream() core', 'a StreamCore', core, CORE_METHODS);
    this.closed = new Promise<void>((resolve) => {
      this.#closedResolve = resolve;
    });
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#controller = c;
        },
        // Called once the reader has taken a chunk (the queue is always under its high-water
        // mark, PULL_ALWAYS) and after an enqueue: what the reader took is credited back now.
        // The stage goes in only once the queue is empty, so staging still gathers many small
        // payloads into one chunk while the reader is behind.
        pull: () => {
          if (this.#stage !== null && this.queued === 0) this.#enqueueStage();
          this.#reportConsumed();
          if (this.ending && this.queued === 0 && !this.#readDone) {
            this.#readDone = true;
            this.#controller.close();
          }
        },
        cancel: (reason) => {
          this.#readDone = true;
          this.#stage = null;
          if (core.state !== 'closed') core.destroy(asError(reason));
          // Closed already (the peer ended it): what the reader did not take is dropped all the same.
          else core.discardUnread();
        },
      },
      { highWaterMark: PULL_ALWAYS, size: (chunk) => chunk.byteLength },
    );
    // close() waits behind a write that waits for credit: the end timeout runs from the call.
    this.writable = new CloseAwareWritable<Uint8Array>(
      () => core.endRequested(),
      {
        start: (c) => {
          this.#writeController = c;
          // WritableStream calls `abort` only once the write or close in flight settles, and one
          // that waits for credit settles only when the peer's reader takes data: abort(reason) would
          // wait on a reader that may never read. The signal fires at once. (pipeTo's own signal
          // waits for the write in flight before it aborts, as the standard says: docs/browser.md.)
          // (Absent in runtimes older than the controller's `signal`: there abort still waits.)
          const signal: AbortSignal | undefined = c.signal;
          signal?.addEventListener(
            'abort',
            () => {
              if (this.#writeWaiter !== null || this.#flushWaiter !== null)
                core.destroy(asError(signal.reason));
            },
            { once: true },
          );
        },
        write: (chunk) => {
          const bytes = bytesOf(chunk);
          if (bytes === null) {
            // Not bytes (plain JavaScript): a string went out as its length in zero bytes, an
            // ArrayBuffer as nothing. The writable errors now, so the stream can never end cleanly.
            const err = new ConfigError(
              `a WebStream writes Uint8Array or other BufferSource chunks, got ${kindOf(chunk)}`,
            );
            core.destroy(err);
            throw err;
          }
          if (core.write(bytes)) return undefined;
          return new Promise<void>((resolve, reject) => {
            this.#writeWaiter = { resolve, reject };
          });
        },
        // Resolves once what was written, and the end, have left for the connection (onFlushed), as
        // a Node stream's 'finish' does: a program that destroys the stream then loses nothing.
        close: () => {
          this.#writeClosed = true;
          core.end();
          if (core.flushed) return undefined;
          return new Promise<void>((resolve, reject) => {
            this.#flushWaiter = { resolve, reject };
          });
        },
        abort: (reason) => {
          core.destroy(asError(reason));
        },
      },
      WRITE_STRATEGY,
    );
    core.attach(this);
  }

  /** The peer's domain when known (domain dials, and opens relayed by a switcher). */
  get remoteDomain(): string {
    return this.core.remoteDomain;
  }
  /** The peer's virtual IP. */
  get remoteIP(): number {
    return this.core.remoteIP;
  }
  /** The peer's port. */
  get remotePort(): number {
    return this.core.remotePort;
  }
  /** This end's port. */
  get localPort(): number {
    return this.core.localPort;
  }

  /** True once the stream failed or was aborted (here or by the peer). */
  get destroyed(): boolean {
    return this.failed;
  }

  /**
   * Aborts both directions (RESET with `err`'s code where negotiated, else the v3 close); this end
   * fails with `err`. A reason that is no Error (JavaScript callers) means what it means to abort()
   * and cancel() (asError): a plain object's `resetCode` is sent and this end fails with a
   * StreamClosedError carrying it, anything else is none; it used to fail the reader and the
   * writer with the object or string itself.
   */
  destroy(reason?: Error): void {
    const err = reason instanceof Error ? reason : asError(reason);
    if (this.core.state !== 'closed') {
      this.core.destroy(err);
      return;
    }
    // Closed already (the peer ended it): what the reader did not take is dropped all the same, as
    // by cancel(), and it stops counting against the connection.
    this.onError(err ?? new StreamClosedError('stream aborted'));
    this.core.discardUnread();
  }

  onData(chunk: Uint8Array): void {
    if (this.#readDone) return;
    // Fast path (no copy): a large payload, or one that goes into an empty queue (a waiting reader
    // takes it at once) and is at least half of its buffer (so it keeps no large one alive if it
    // has to wait: whether a read is waiting cannot be seen from here).
    const n = chunk.length;
    if (this.#stage === null && (n >= COPY_BELOW || (this.queued === 0 && !pinsBuffer(chunk)))) {
      this.#enqueued += chunk.length;
      this.#controller.enqueue(ownPayload(chunk));
    } else {
      this.hold(chunk);
    }
    this.#reportConsumed();
  }

  onEnd(): void {
    if (this.#readDone || this.ending) return;
    if (this.#stage !== null) this.#enqueueStage();
    // A closed ReadableStream calls pull no more, so what the reader took after the close would
    // never count as consumed (nor leave the connection's receive budget): close once it is empty.
    if (this.queued > 0) {
      this.ending = true;
      return;
    }
    // The reader may have emptied the queue since the last pull (which runs a microtask later):
    // what it took counts as consumed now, before the close stops the counting.
    this.#reportConsumed();
    this.#readDone = true;
    this.#controller.close();
  }

  onError(err: Error): void {
    this.failed = true;
    this.#stage = null;
    // Also after the peer's end while the reader has not taken everything: a reset drops
    // buffered input (docs/errors.md), as the Node face does.
    if (!this.#readDone) {
      this.#readDone = true;
      this.#controller.error(err);
    }
    const w = this.#writeWaiter;
    this.#writeWaiter = null;
    w?.reject(err);
    const f = this.#flushWaiter;
    this.#flushWaiter = null;
    f?.reject(err);
    this.#failWritable(err);
  }

  onFlushed(): void {
    const w = this.#flushWaiter;
    this.#flushWaiter = null;
    w?.resolve();
  }

  onWritable(): void {
    const w = this.#writeWaiter;
    this.#writeWaiter = null;
    w?.resolve();
  }

  onClose(aborted: boolean): void {
    if (aborted) {
      // Torn down here without an error: a failure like any other, so buffered input is dropped
      // (also after the peer's end) and the waiting writer and close() fail.
      this.onError(new StreamClosedError('stream aborted'));
    } else {
      const err = new StreamClosedError();
      const w = this.#writeWaiter;
      this.#writeWaiter = null;
      w?.reject(err);
      // A clean close: what was written has left, or was reported lost with an error before.
      this.onFlushed();
      // Closed under a writable nobody closed (a plain v3 peer's close, the node's close): it can
      // take nothing more. Errored now, as the toWeb() views and the Node face end theirs, so that
      // its writer's `closed` and a pipeTo into it settle, not only a next write that may never
      // come (an idle source would keep the pipe for ever).
      if (!this.#writeClosed) this.#failWritable(err);
    }
    this.#closedResolve();
  }

  /**
   * Writes and the writer's `closed` fail with the stream's error, not with a later "writer is
   * closed" (nor does a close() then succeed); pipeTo sees it without writing. A no-op once the
   * writable closed, and skipped while abort() runs: the abort settles it (and erroring it from
   * the abort signal's handler trips Node 20's WritableStream).
   */
  #failWritable(err: Error): void {
    const c = this.#writeController;
    const signal: AbortSignal | undefined = c.signal;
    if (signal?.aborted !== true) c.error(err);
  }

  /** Bytes in the readable queue (not staged ones). */
  private get queued(): number {
    return Math.max(0, PULL_ALWAYS - (this.#controller.desiredSize ?? 0));
  }

  /** A payload that would wait behind queued data: small ones are copied (see the class doc). */
  private hold(chunk: Uint8Array): void {
    if (chunk.length >= COPY_BELOW) {
      if (this.#stage !== null) this.#enqueueStage();
      this.#enqueued += chunk.length;
      this.#controller.enqueue(ownPayload(chunk));
      return;
    }
    if (this.#stage === null) this.#stage = new Stage();
    const stage = this.#stage;
    const full = stage.add(chunk);
    if (full !== null) {
      this.#enqueued += full.length;
      this.#controller.enqueue(full);
    }
    if (this.queued === 0 || stage.length === 0) this.#enqueueStage();
  }

  #enqueueStage(): void {
    const chunk = this.#stage?.take() ?? null;
    this.#stage = null;
    if (chunk === null) return;
    this.#enqueued += chunk.length;
    this.#controller.enqueue(chunk);
  }

  #reportConsumed(): void {
    if (this.#readDone) return;
    const consumed = this.#enqueued - this.queued - this.reported;
    if (consumed > 0) {
      this.reported += consumed;
      this.core.consumed(consumed);
    }
  }
}

/**
 * The readable's high-water mark: one the queue never reaches, so that the ReadableStream calls
 * `pull` after every read (it does only while the queue is under the mark). A mark below the
 * window (256 KiB against the 2 MiB default) held the credit for what the reader took until it had
 * emptied the queue down to the mark, stalling the sender. Finite, so that `queued` (the mark less
 * desiredSize) stays exact.
 */
const PULL_ALWAYS = Number.MAX_SAFE_INTEGER;

/**
 * The writable's queue, in bytes against 64 KiB: as a toWeb() view's against the Node stream's
 * writableHighWaterMark (64 KiB by default), so that `desiredSize` and `ready` mean the same on
 * both (docs/manual.md). The default strategy counted one chunk: desiredSize read 1 or 0, and a
 * writer that sized its chunks by it wrote one byte at a time. (A chunk that is not bytes counts
 * nothing: the sink fails it with ConfigError.)
 */
const WRITE_STRATEGY: QueuingStrategy<Uint8Array> = {
  highWaterMark: 64 * 1024,
  size: byteLengthOf,
};

/**
 * An abort or cancel reason as the stream's error: an Error, or a plain object with a numeric
 * `resetCode` (and maybe a `message`); anything else stands for no reason. A DOMException AbortError (legacy code 20) without a reset code stands for no reason: the
 * standard gives the writable's signal one when abort() has none, and an aborted AbortSignal's
 * default reason (pipeTo) is one.
 */
export function asError(reason: unknown): Error | undefined {
  if (!(reason instanceof Error)) {
    // A plain object with a reset code ({ resetCode: 0x101 }) sends that code, as the Node face's
    // destroy() does; it fails this end as a StreamClosedError carrying the code.
    const code = (reason as { resetCode?: unknown } | null)?.resetCode;
    if (typeof reason !== 'object' || reason === null || typeof code !== 'number') return undefined;
    const message = (reason as { message?: unknown }).message;
    return Object.assign(new StreamClosedError(typeof message === 'string' ? message : 'stream aborted'), {
      resetCode: code,
    });
  }
  const r = reason as Error & { code?: unknown; resetCode?: unknown };
  return r.name === 'AbortError' && r.code === 20 && r.resetCode === undefined ? undefined : reason;
}

/**
 * An inbound payload as a chunk its reader may keep and transfer (postMessage with a transfer list,
 * structuredClone, ArrayBuffer.prototype.transfer). A view of a buffer that holds nothing else but
 * its frame's header (a browser WebSocket message) goes as it is. One that shares its buffer with
 * other frames (a TCP read, a Node.js WebSocket message, the memory pair) is copied, as the toWeb()
 * views copy theirs: transferred as a view, it detached the whole read buffer, so other streams'
 * payloads waiting in it read as empty chunks, and whoever received the transfer got their bytes.
 */
function ownPayload(chunk: Uint8Array): Uint8Array {
  return chunk.buffer.byteLength - chunk.byteLength <= HEADER_SIZE ? chunk : new Uint8Array(chunk);
}

/**
 * A written chunk as bytes, or null when it is none. Other views and ArrayBuffers are taken as
 * their bytes, as Web APIs that take bytes do (WebSocket.send, Response, CompressionStream):
 * without this a Uint16Array went out as its element count of truncated values. So is an
 * ArrayBuffer of another realm (an iframe's), which `instanceof ArrayBuffer` refused.
 */
export function bytesOf(chunk: unknown): Uint8Array | null {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (isArrayBuffer(chunk)) return new Uint8Array(chunk);
  return null;
}

/**
 * How many bytes `chunk` is as a write (bytesOf's view of it), without making that view: the
 * queuing strategies' `size`, which runs on every chunk before the sink does. Not bytes: 0.
 */
export function byteLengthOf(chunk: unknown): number {
  if (ArrayBuffer.isView(chunk)) return chunk.byteLength;
  return isArrayBuffer(chunk) ? chunk.byteLength : 0;
}

/** What a value is, for an error message: 'String', 'Number', 'Blob', 'Null'... */
export function kindOf(value: unknown): string {
  return Object.prototype.toString.call(value).slice(8, -1);
}
