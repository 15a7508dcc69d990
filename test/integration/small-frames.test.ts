// Small data frames to a stream whose reader is behind (docs/manual.md 3, docs/security.md): they
// are copied into a few compact chunks instead of being queued one by one as views of the read
// buffers they arrived in, and credit still follows exactly what the reader takes.
import { afterEach, describe, expect, it } from 'vitest';
import { Node as WebNode, type WebStream } from '../../src/browser.js';
import { ResetCode } from '../../src/errors.js';
import { type FlexStream, Node } from '../../src/index.js';
import { COPY_BELOW, STAGE_SIZE } from '../../src/stream/stage.js';
import { memoryPair } from '../../src/transport/memory.js';
import { Caps, Cmd } from '../../src/wire/constants.js';
import { encodeFrame, makeFrame } from '../../src/wire/frame.js';
import { decodeOpenAck, encodeOpen } from '../../src/wire/open.js';
import { decodeReset } from '../../src/wire/reset.js';
import { captureLogger } from '../helpers/faulty-log.js';
import { MiB } from '../helpers/faulty-memory.js';
import { HostilePeer } from '../helpers/faulty-peer.js';

const ME = 1;
const PEER = 2;
const SRC = 5000;
const KiB = 1024;

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** A raw peer (IP 2, port 5000) and the node's end of a stream it opened to port 80. */
async function opened<S>(
  make: (t: ReturnType<typeof memoryPair>[0]) => {
    destroy(): void;
    listen(port: number): { accept(): Promise<S> };
  },
  window: number,
  caps = Caps.HALF_CLOSE | Caps.RESET,
): Promise<{ peer: HostilePeer; stream: S }> {
  const [a, b] = memoryPair({ highWaterMark: 64 * MiB });
  const node = make(a);
  const peer = new HostilePeer(b);
  cleanups.push(() => {
    node.destroy();
    b.destroy();
  });
  const accepting = node.listen(80).accept();
  peer.frame(Cmd.OPEN, ME, 80, PEER, SRC, encodeOpen({ domain: 'raw', window, caps }));
  const ack = decodeOpenAck((await peer.next((f) => f.cmd === Cmd.OPEN_ACK)).payload);
  expect(ack).toMatchObject({ ok: true, window });
  return { peer, stream: await accepting };
}

const options = () => ({ domain: 'alice', ip: ME, heartbeatInterval: 0, logger: captureLogger() });
const nodeStream = (window: number, caps?: number) =>
  opened<FlexStream>((t) => new Node(t, options()), window, caps);
const webStream = (window: number, caps?: number) =>
  opened<WebStream>((t) => new WebNode(t, options()), window, caps);

/** Payload byte `i` of a test: a pattern whose every position can be checked. */
const byte = (i: number): number => (i * 7 + (i >>> 8)) & 0xff;

function expectPattern(got: Uint8Array, from = 0): void {
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== byte(from + i)) throw new Error(`byte ${from + i} is ${got[i]}, not ${byte(from + i)}`);
  }
}

/**
 * Sends `count` one-byte data frames (pattern bytes from `from`), `perRead` of them in each
 * transport send followed by a full frame for a stream that does not exist, so every read buffer
 * the node decodes is ~70 kB. The event loop turns after each send, so the frames arrive over many
 * turns (and Node's Readable reads ahead, calling _read, between them).
 */
async function tinyFrames(peer: HostilePeer, count: number, from = 0, perRead = 500): Promise<void> {
  const junk = encodeFrame(makeFrame(Cmd.DATA, ME, 9999, PEER, 6000, new Uint8Array(65_535)));
  for (let sent = 0; sent < count; ) {
    const n = Math.min(perRead, count - sent);
    const parts: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      parts.push(encodeFrame(makeFrame(Cmd.DATA, ME, 80, PEER, SRC, Uint8Array.of(byte(from + sent + i)))));
    }
    parts.push(junk);
    peer.t.send(parts);
    sent += n;
    await new Promise((r) => setImmediate(r));
  }
}

/** A chunk that is small must own a buffer of about its size: no view of a larger read buffer. */
function expectCompact(chunks: Uint8Array[]): void {
  for (const c of chunks) {
    if (c.length < COPY_BELOW) expect(c.buffer.byteLength).toBeLessThanOrEqual(Math.max(256, 2 * c.length));
    else expect(c.buffer.byteLength).toBeLessThanOrEqual(STAGE_SIZE + 4 * KiB);
  }
}

/** The chunks in a Node stream's readable buffer (`readableBuffer` is in Node, not in its types). */
function queuedChunks(s: FlexStream): Buffer[] {
  return [...(s as unknown as { readableBuffer: Iterable<Buffer> }).readableBuffer];
}

/** `p`, or a failure after `ms` (a read that would wait for data that never comes). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A ping round trip: any data-ACK the node would send by now is on the wire before the answer. */
async function roundTrip(peer: HostilePeer, id: number): Promise<void> {
  peer.frame(Cmd.PING, ME, 0, PEER, id, new TextEncoder().encode('alice'));
  await peer.next((f) => f.cmd === Cmd.PING_ACK && f.dstPort === id);
}

/** Credit the node returned: the sizes of all data-ACKs from now on, for `stop()` to read. */
function creditCounter(peer: HostilePeer): { total: () => number } {
  let sum = 0;
  const stop = peer.tap((f) => {
    if (f.cmd === Cmd.DATA_ACK) sum += f.size;
  });
  cleanups.push(() => stop());
  return { total: () => sum };
}

describe('small frames to a stream whose reader is behind', () => {
  // Found by an audit: each payload was queued as a view of its read buffer, so 1,000 one-byte
  // frames, each beside ~60 kB for an unknown stream, kept 57 MiB alive, and a window of 1-byte
  // frames cost ~106 bytes of objects per byte (2 MiB: ~212 MB).
  it('Node face: 150,000 one-byte frames to a stream nobody reads wait in a few compact chunks', async () => {
    const { peer, stream } = await nodeStream(MiB);
    const credit = creditCounter(peer);
    const count = 150_000;
    await tinyFrames(peer, count);
    await expect.poll(() => stream.core.bytesRead, { timeout: 10_000 }).toBe(count);
    const chunks = queuedChunks(stream);
    // Full stages and one first copy; the rest (under a stage) waits staged.
    expect(chunks.length).toBeLessThanOrEqual(Math.ceil(count / STAGE_SIZE) + 1);
    expectCompact(chunks);
    // Nothing was read, so nothing is consumed and no credit went back, staged bytes included.
    await roundTrip(peer, 1);
    expect(stream.core.receiveBuffered).toBe(count);
    expect(credit.total()).toBe(0);
    // A read of more than is buffered takes the staged bytes too: all of them, in order.
    expect(stream.readableLength).toBeLessThan(count);
    const all = stream.read(count) as Buffer | null;
    expect(all?.length).toBe(count);
    expectPattern(all!);
    expect(stream.core.receiveBuffered).toBe(0);
  });

  it('Web Streams face: 150,000 one-byte frames to a stream nobody reads come out in a few compact chunks', async () => {
    const { peer, stream } = await webStream(MiB);
    const count = 150_000;
    await tinyFrames(peer, count);
    await expect.poll(() => stream.core.bytesRead, { timeout: 10_000 }).toBe(count);
    await roundTrip(peer, 1);
    expect(stream.core.receiveBuffered).toBe(count);
    expect(peer.count(Cmd.DATA_ACK)).toBe(0);
    // Now read: the chunks come out as they were queued (and the stage once the queue is empty).
    const reader = stream.readable.getReader();
    const chunks: Uint8Array[] = [];
    let got = 0;
    while (got < count) {
      const { value } = await within(reader.read(), 5_000, `chunk after ${got} bytes`);
      chunks.push(value!);
      got += value!.length;
    }
    expect(got).toBe(count);
    expect(chunks.length).toBeLessThanOrEqual(Math.ceil(count / STAGE_SIZE) + 2);
    expectCompact(chunks);
    expectPattern(Buffer.concat(chunks));
    reader.releaseLock();
  });

  it('Web Streams face: what the reader took before the end counts as consumed', async () => {
    // Found by the staging property at a larger scale: the reader empties the queue and the peer's
    // FIN closes the stream before the pull that would count the last chunk (a microtask later).
    const { peer, stream } = await webStream(MiB);
    peer.t.send([1, 2].map((v) => encodeFrame(makeFrame(Cmd.DATA, ME, 80, PEER, SRC, new Uint8Array([v])))));
    await expect.poll(() => stream.core.bytesRead).toBe(2);
    const reader = stream.readable.getReader();
    let taken = 0;
    const drained = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        taken += value.length;
      }
    })();
    peer.frame(Cmd.FIN, ME, 80, PEER, SRC);
    await drained;
    expect(taken).toBe(2);
    // Nothing the reader took stays counted against the connection's receive budget.
    expect(stream.core.receiveBuffered).toBe(0);
  });

  it('a paused reader still stops the peer after one window; reading returns exactly what it took', async () => {
    const window = 128 * KiB;
    const { peer, stream } = await nodeStream(window, Caps.HALF_CLOSE | Caps.RESET | Caps.PROMPT_CREDIT);
    const credit = creditCounter(peer);
    const got: Buffer[] = [];
    stream.on('error', () => {}); // the reset at the end
    stream.on('data', (c: Buffer) => got.push(c));
    stream.pause();
    await tinyFrames(peer, window);
    await expect.poll(() => stream.core.bytesRead, { timeout: 10_000 }).toBe(window);
    expect(queuedChunks(stream).length).toBeLessThanOrEqual(window / STAGE_SIZE + 1);
    // The peer asks for the credit it is owed: none, the reader has taken nothing.
    peer.frame(Cmd.DATA, ME, 80, PEER, SRC);
    await roundTrip(peer, 1);
    expect(credit.total()).toBe(0);
    expect(stream.core.receiveBuffered).toBe(window);
    expect(got.length).toBe(0);

    // Resumed, the reader takes everything, in order, and the peer gets back the whole window.
    stream.resume();
    await expect.poll(() => got.reduce((n, c) => n + c.length, 0)).toBe(window);
    expectPattern(Buffer.concat(got));
    peer.frame(Cmd.DATA, ME, 80, PEER, SRC);
    await roundTrip(peer, 2);
    expect(credit.total()).toBe(window);
    expect(stream.core.receiveBuffered).toBe(0);

    // Paused again: another window fits (credit came back), one byte more is a flow-control reset.
    stream.pause();
    await tinyFrames(peer, window, window);
    await expect.poll(() => stream.core.bytesRead, { timeout: 10_000 }).toBe(2 * window);
    await roundTrip(peer, 3);
    expect(credit.total()).toBe(window);
    peer.frame(Cmd.DATA, ME, 80, PEER, SRC, Uint8Array.of(1));
    const reset = await peer.next((f) => f.cmd === Cmd.RESET);
    expect(decodeReset(reset.payload).code).toBe(ResetCode.FLOW_CONTROL);
  });
});
