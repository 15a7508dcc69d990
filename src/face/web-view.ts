import { type Duplex, finished } from 'node:stream';
import { ConfigError, StreamClosedError } from '../errors.js';
import { CloseAwareWritable } from '../stream/close-aware.js';
import { asError, byteLengthOf, bytesOf, kindOf } from '../stream/web.js';

/**
 * Web Streams views of a half-open Duplex (FlexStream.toWeb). Node 20's Duplex.toWeb watches the
 * whole duplex for the end of each view: its readable reported done only once the writable side had
 * finished too, and its writer.close() resolved only once the readable side had ended. Over a
 * stream that half-closes, each waited for the other: a request/response exchange (write, close,
 * read the reply; or read the request to its end, then reply) hung. Each view here watches its
 * own side, as Node's adapters otherwise do.
 *
 * They behave as the Web Streams face (src/stream/web.ts) does: an abort without an error
 * (the Duplex destroyed with none) fails a view with StreamClosedError('stream aborted'), and a
 * view made after the Duplex failed or was aborted fails with that error (see failureOf);
 * a writable side finished by the stream's close, not by the view's close(), fails further writes
 * with StreamClosedError; cancel and abort reasons mean what they mean there (asError: an Error, a
 * { resetCode } object, or no reason); any BufferSource is written as its bytes, and a chunk that
 * is none fails the write and the stream with ConfigError.
 */
export function webViews(
  d: Duplex,
  onCloseRequested: () => void = () => {},
): {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
} {
  return { writable: writableView(d, onCloseRequested), readable: readableView(d) };
}

/** An error for the view from what finished() reported: a premature close is an abort. */
function viewError(err: Error | null | undefined): Error | null {
  if (err === null || err === undefined) return null;
  if ((err as { code?: unknown }).code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return new StreamClosedError('stream aborted', { cause: err });
  }
  return err;
}

/**
 * Why `d` ended before a view was made: the error it emitted, the one it kept because nobody
 * listened (FlexStream.failure), or, destroyed without either, an abort.
 */
function failureOf(d: Duplex): Error {
  const kept = (d as { failure?: Error | null }).failure;
  return d.errored ?? kept ?? new StreamClosedError('stream aborted');
}

function readableView(d: Duplex): ReadableStream<Uint8Array> {
  // Made once the readable side is over. Only a reader that took the end has a complete transfer
  // behind it: a stream that failed, was reset or aborted first errors the view as it would one
  // made before (Node's Duplex.toWeb, whose check this was, reported such a stream as a clean,
  // empty end, and a request whose dial had failed read as an empty reply).
  if (d.readableEnded) {
    const r = new ReadableStream<Uint8Array>();
    void r.cancel();
    return r;
  }
  if (d.destroyed || !d.readable) {
    const err = failureOf(d);
    return new ReadableStream<Uint8Array>({ start: (c) => c.error(err) });
  }
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let cancelled = false;
  const onData = (chunk: Buffer | string): void => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, d.readableEncoding ?? 'utf8') : chunk;
    controller.enqueue(ownChunk(bytes));
    if ((controller.desiredSize ?? 0) <= 0) d.pause();
  };
  d.pause();
  // The readable side only: the peer's end is the view's end, whatever the writable side does.
  const cleanup = finished(d, { writable: false }, (err) => {
    cleanup();
    d.off('data', onData);
    if (cancelled) return;
    const e = viewError(err);
    if (e !== null) controller.error(e);
    else controller.close();
  });
  d.on('data', onData);
  return new ReadableStream<Uint8Array>(
    {
      start: (c) => {
        controller = c;
      },
      pull: () => {
        d.resume();
      },
      cancel: (reason: unknown) => {
        cancelled = true;
        // Now, not when finished() reports: chunks still in the stream's buffer may be emitted
        // before that (a resume the view asked for runs on the next tick, and destroy() does not
        // stop it), and enqueued on the cancelled readable they threw out of this listener.
        d.off('data', onData);
        d.destroy(asError(reason));
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: d.readableHighWaterMark }),
  );
}

/**
 * A chunk the reader may keep or transfer. Read buffers are never reused, so keeping a view would
 * be safe; transferring is not: it detaches the whole ArrayBuffer, and an inbound payload is a
 * view of the read buffer it arrived in, which holds other frames too (other streams' payloads,
 * this stream's next ones), as a pooled Node Buffer (a string chunk's) holds other Buffers. Such a
 * chunk is copied, as Node's own adapter copies every chunk. One that spans its whole buffer has
 * it to itself (a staged chunk, a loopback payload, already copies) and goes as it is, as a plain
 * Uint8Array like the copies.
 */
function ownChunk(bytes: Uint8Array): Uint8Array {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return whole ? new Uint8Array(bytes.buffer) : new Uint8Array(bytes);
}

interface Deferred {
  resolve(): void;
  reject(err: Error): void;
}

/**
 * `onCloseRequested` runs when the application calls close(), which the standard passes to the
 * sink only once the write before it settled: the stream's end timeout runs from the call
 * (../stream/close-aware.ts). The sink's close still ends the Duplex after the last write.
 */
function writableView(d: Duplex, onCloseRequested: () => void): WritableStream<Uint8Array> {
  // Likewise: closed only when the stream finished (or its end is under way); one that failed or
  // was aborted first errors the view, so that its writer's `closed` does not report success.
  if (d.destroyed && !d.writableFinished) {
    const err = failureOf(d);
    return new WritableStream<Uint8Array>({ start: (c) => c.error(err) });
  }
  // Finished (or ending) already, by no close() of this view's: it takes nothing more and fails
  // writes with StreamClosedError, as a live view does once the stream's close finished its side.
  // (A view closed at once failed them with the standard's TypeError, on Node 20 with an internal
  // assertion.)
  if (d.destroyed || !d.writable) {
    const err = new StreamClosedError('stream is closed');
    return new WritableStream<Uint8Array>({ start: (c) => c.error(err) });
  }
  let controller: WritableStreamDefaultController | null = null;
  let backpressure: Deferred | null = null;
  let closing: Deferred | null = null;
  const onDrain = (): void => backpressure?.resolve();
  // The writable side only: close() resolves on 'finish', whether or not the peer has ended.
  const cleanup = finished(d, { readable: false }, (err) => {
    cleanup();
    d.off('drain', onDrain);
    const e = viewError(err);
    if (e !== null) {
      backpressure?.reject(e);
      closing?.reject(e);
      closing = null;
      controller?.error(e);
      controller = null;
      return;
    }
    if (closing !== null) {
      closing.resolve();
      closing = null;
      return;
    }
    // Finished without the view's close(): the stream closed (a plain v3 peer's close, node.close()).
    controller?.error(new StreamClosedError('stream is closed'));
    controller = null;
  });
  d.on('drain', onDrain);
  return new CloseAwareWritable<Uint8Array>(
    onCloseRequested,
    {
      start: (c) => {
        controller = c;
        // WritableStream calls `abort` only once the write or close in flight settles, and one
        // that waits for 'drain' or 'finish' settles only when the peer's reader takes data:
        // abort(reason) would wait on a reader that may never read. The controller's signal fires
        // at once; the destroy fails what waits (finished() above), as in the Web Streams face.
        const signal: AbortSignal | undefined = c.signal;
        signal?.addEventListener(
          'abort',
          () => {
            if (backpressure !== null || closing !== null) d.destroy(asError(signal.reason));
          },
          { once: true },
        );
      },
      write: (chunk) => {
        const bytes = bytesOf(chunk);
        if (bytes === null) {
          // Node's write() throws on it and leaves the stream open, its peer waiting for good.
          const err = new ConfigError(`a Web Streams view writes BufferSource chunks, got ${kindOf(chunk)}`);
          d.destroy(err);
          throw err;
        }
        // Written even while the stream waits for 'drain' (someone wrote to it directly): a chunk
        // the sink resolves without writing is lost (Node 20's own adapter drops it so).
        if (d.write(bytes)) return undefined;
        return new Promise<void>((resolve, reject) => {
          backpressure = { resolve, reject };
        }).finally(() => {
          backpressure = null;
        });
      },
      abort: (reason: unknown) => {
        d.destroy(asError(reason));
      },
      close: () => {
        if (closing === null && !d.writableEnded) {
          return new Promise<void>((resolve, reject) => {
            closing = { resolve, reject };
            d.end();
          });
        }
        controller = null;
        return undefined;
      },
    },
    // In bytes, as the stream counts its high-water mark: Node's adapter counts chunks against it,
    // so a writer that waits for `ready` queued 65,536 chunks before it was held. (A chunk that is
    // not bytes counts nothing: the sink fails it with ConfigError, not the strategy.)
    { highWaterMark: d.writableHighWaterMark, size: byteLengthOf },
  );
}
