// What bench/direct.mjs speaks inside every stream (flexmux stream or raw TCP socket alike), and
// small helpers shared by its two processes. The first byte a client writes picks the operation.

export const OP = {
  /** Server counts bytes until the client's end, then replies with the count (8 bytes) and ends. */
  SINK: 1,
  /** Server echoes every byte and ends when the client ends. */
  ECHO: 2,
  /** Server keeps the stream open and idle (memory measurement). */
  HOLD: 3,
};

export const COUNT_LEN = 8;

export function encodeCount(n) {
  const b = Buffer.allocUnsafe(COUNT_LEN);
  b.writeDoubleLE(n, 0);
  return b;
}

export function decodeCount(b) {
  return b.readDoubleLE(0);
}

/** Exact-length reads over 'data' events; a pending read fails if the stream ends or fails first. */
export class Reader {
  constructor(stream) {
    this.chunks = [];
    this.length = 0;
    this.want = 0;
    this.waiter = null;
    this.failure = null;
    stream.on('data', (c) => {
      this.chunks.push(c);
      this.length += c.length;
      if (this.waiter !== null && this.length >= this.want) {
        const w = this.waiter;
        this.waiter = null;
        w.resolve(this.take(this.want));
      }
    });
    const fail = (why) => (err) => {
      this.failure ??= err instanceof Error ? err : new Error(why);
      const w = this.waiter;
      this.waiter = null;
      w?.reject(this.failure);
    };
    stream.on('error', fail('stream error'));
    stream.on('end', fail('stream ended early'));
    stream.on('close', fail('stream closed early'));
  }

  read(n) {
    if (this.length >= n) return Promise.resolve(this.take(n));
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.want = n;
      this.waiter = { resolve, reject };
    });
  }

  take(n) {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out = Buffer.from(all.subarray(0, n));
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.length -= n;
    return out;
  }
}

/** Resolves on the stream's next 'drain'; rejects if it fails or closes first. */
export function drained(stream) {
  return new Promise((resolve, reject) => {
    const done = (err) => {
      stream.off('drain', onDrain);
      stream.off('error', done);
      stream.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('stream closed while writing'));
    stream.on('drain', onDrain);
    stream.on('error', done);
    stream.on('close', onClose);
  });
}

/** Rejects after `ms` so that no measurement can hang the run. */
export function deadline(promise, ms, what) {
  let t;
  const timer = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timer]).finally(() => clearTimeout(t));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Turns `stream` into an echo stream and returns `once(i)`: one round trip of `size` bytes
 * tagged with `i`, in ms, checked against the echo.
 */
export function echoPinger(stream, size) {
  const reader = new Reader(stream);
  const buf = Buffer.alloc(size, 0x11);
  stream.write(Buffer.of(OP.ECHO));
  return async (i) => {
    buf.writeUInt32LE(i, 0);
    const t0 = performance.now();
    stream.write(buf);
    const got = await reader.read(buf.length);
    if (got.readUInt32LE(0) !== i) throw new Error('ping echo mismatch');
    return performance.now() - t0;
  };
}
