/**
 * A WritableStream that reports close() when the application calls it, not when it reaches the
 * sink.
 *
 * The standard queues a close behind the writes before it and calls the sink's close only once
 * they have all settled, and a write that waits for the peer's credit settles only when the peer's
 * reader takes data. The end timeout (endTimeout) that bounds the wait for credit ran from the
 * sink's close, so writer.close() after a write larger than the high-water mark, to a reader that
 * never reads, waited for ever. Nothing the sink can see changes at close() (the close counts no
 * bytes in the queue, the stream stays "writable" until the sink's close), so the stream and the
 * writers it hands out report it instead: `close()` on the stream itself and on every writer from
 * `getWriter()`. The writes still queued reach the sink as before; only the timer starts early.
 *
 * pipeTo takes its writer without `getWriter()` and closes only once its last write has settled,
 * so a pipe is not covered; nor does its signal end that wait (it waits for the write in flight
 * too): the stream's destroy() does (docs/browser.md).
 */
export class CloseAwareWritable<W> extends WritableStream<W> {
  readonly #onClose: () => void;

  /** `onClose` runs on each close() the stream accepts (maybe more than once: make it idempotent). */
  constructor(onClose: () => void, sink: UnderlyingSink<W>, strategy?: QueuingStrategy<W>) {
    super(sink, strategy);
    this.#onClose = onClose;
  }

  override close(): Promise<void> {
    // A locked stream refuses close() (its writer closes it), and then nothing was asked.
    const accepted = !this.locked;
    const closing = super.close();
    if (accepted) this.#onClose();
    return closing;
  }

  override getWriter(): WritableStreamDefaultWriter<W> {
    const writer = super.getWriter();
    const close = writer.close;
    const onClose = this.#onClose;
    // An own property on this writer: the prototype's close stays the standard one.
    Object.defineProperty(writer, 'close', {
      configurable: true,
      writable: true,
      value: (): Promise<void> => {
        const held = holdsLock(writer);
        const closing = Reflect.apply(close, writer, []) as Promise<void>;
        // A released writer's close() fails and closes nothing: another writer may still write.
        if (held) onClose();
        return closing;
      },
    });
    return writer;
  }
}

/** Whether a writer still holds its stream's lock: a released one's desiredSize throws. */
function holdsLock(writer: WritableStreamDefaultWriter<unknown>): boolean {
  try {
    void writer.desiredSize;
    return true;
  } catch {
    return false;
  }
}
