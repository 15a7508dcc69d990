import * as vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { Node as WebNode, type WebStream } from '../../src/browser.js';
import { ConfigError, StreamClosedError, StreamResetError } from '../../src/errors.js';
import { memoryPair } from '../../src/transport/memory.js';
import { pattern, sha256 } from '../helpers/streams.js';

const nodes: WebNode[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
});

function pair(): [WebNode, WebNode] {
  const [a, b] = memoryPair();
  const na = new WebNode(a, { domain: 'alice', ip: 1, window: 64 * 1024 });
  const nb = new WebNode(b, { domain: 'bob', ip: 2, window: 64 * 1024 });
  nodes.push(na, nb);
  return [na, nb];
}

async function readAll(s: WebStream): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = s.readable.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

describe('Web Streams face', () => {
  it('echoes 1 MiB through ReadableStream/WritableStream with backpressure', async () => {
    const [a, b] = pair();
    b.listen(7).on('stream', (s: WebStream) => {
      s.readable.pipeTo(s.writable).catch(() => {});
    });
    const s = await a.dial('bob:7');
    const data = pattern(1024 * 1024, 9);
    const got = readAll(s);
    const w = s.writable.getWriter();
    for (let off = 0; off < data.length; off += 10_000) await w.write(data.subarray(off, off + 10_000));
    await w.close();
    const out = await got;
    expect(out.length).toBe(data.length);
    expect(sha256(out)).toBe(sha256(data));
  });

  it('half-closes: the writer closes and the reply still arrives', async () => {
    const [a, b] = pair();
    b.listen(9).on('stream', async (s: WebStream) => {
      const req = await readAll(s);
      const w = s.writable.getWriter();
      await w.write(new TextEncoder().encode(`got ${new TextDecoder().decode(req)}`));
      await w.close();
    });
    const s = await a.dial('bob:9');
    const w = s.writable.getWriter();
    await w.write(new TextEncoder().encode('question'));
    await w.close();
    expect(new TextDecoder().decode(await readAll(s))).toBe('got question');
  });

  it('aborting the writable resets the peer with the reason code', async () => {
    const [a, b] = pair();
    const acc = b.listen(5).accept();
    const s = await a.dial('bob:5');
    const peer = await acc;
    const reading = readAll(peer);
    await s.writable.abort(Object.assign(new Error('stop'), { resetCode: 0x200 }));
    const err = await reading.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamResetError);
    expect((err as StreamResetError).resetCode).toBe(0x200);
  });

  it('aborting with a plain object that has a resetCode sends that code, as destroy() does', async () => {
    const [a, b] = pair();
    const acc = b.listen(5).accept();
    const s = await a.dial('bob:5');
    const peer = await acc;
    const reading = readAll(peer);
    await s.writable.abort({ resetCode: 0x201 });
    const err = await reading.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamResetError);
    expect((err as StreamResetError).resetCode).toBe(0x201);
  });

  it('cancelling with a plain object that has a resetCode sends that code', async () => {
    const [a, b] = pair();
    const acc = b.listen(5).accept();
    const s = await a.dial('bob:5');
    const peer = await acc;
    const w = peer.writable.getWriter();
    const failed = w.closed.catch((e: unknown) => e);
    await s.readable.cancel({ resetCode: 0x202 });
    const err = await failed;
    expect(err).toBeInstanceOf(StreamResetError);
    expect((err as StreamResetError).resetCode).toBe(0x202);
  });

  // Found by the browser hunt: destroy(reason) sent the code, but failed this end's reader and
  // writer with the reason itself (a plain object, a string), not with an Error as abort() and
  // cancel() do for the same reason.
  it('destroy() with a plain object or no Error fails this end as abort() does', async () => {
    for (const reason of [{ resetCode: 0x203, message: 'bye' }, 'not an error']) {
      const [a, b] = pair();
      const acc = b.listen(5).accept();
      const s = await a.dial('bob:5');
      const peer = await acc;
      const peerRead = peer.readable
        .getReader()
        .read()
        .catch((e: unknown) => e);
      const read = s.readable
        .getReader()
        .read()
        .catch((e: unknown) => e);
      s.destroy(reason as unknown as Error);
      const err = await read;
      expect(err).toBeInstanceOf(StreamClosedError);
      await expect(s.writable.getWriter().write(new Uint8Array(1))).rejects.toBe(err);
      const peerErr = await peerRead;
      expect(peerErr).toBeInstanceOf(StreamResetError);
      if (typeof reason === 'object') {
        expect(err).toMatchObject({ resetCode: 0x203, message: 'bye' });
        expect(peerErr).toMatchObject({ resetCode: 0x203 });
      } else {
        expect((err as Error).message).toBe('stream aborted');
        expect(peerErr).toMatchObject({ resetCode: 0 });
      }
    }
  });

  // Found by the browser hunt: with streamHighWaterMark below a frame's 65,535 bytes (16 KiB, as
  // Node's streams default to), what a large write left once the window was used stayed queued
  // for good, credit or not: held as a "short tail" for the writer's next write, while the writer
  // waited for that very tail to leave before it could write again.
  it('sends all of a large write when streamHighWaterMark is below a frame', { timeout: 5_000 }, async () => {
    const [ta, tb] = memoryPair();
    const o = { window: 64 * 1024, streamHighWaterMark: 16 * 1024 };
    const a = new WebNode(ta, { domain: 'alice', ip: 1, ...o });
    const b = new WebNode(tb, { domain: 'bob', ip: 2, ...o });
    nodes.push(a, b);
    const acc = b.listen(5).accept();
    const s = await a.dial('bob:5');
    const peer = await acc;
    const data = pattern(100 * 1024, 3);
    const got = readAll(peer);
    const w = s.writable.getWriter();
    await w.write(data);
    await w.close();
    expect(sha256(await got)).toBe(sha256(data));
  });

  it('a paused reader stops the sender at the window', async () => {
    const [a, b] = pair();
    const acc = b.listen(5).accept();
    const s = await a.dial('bob:5');
    const peer = await acc;
    const w = s.writable.getWriter();
    let written = 0;
    const chunk = new Uint8Array(8 * 1024);
    const pump = (async () => {
      for (;;) {
        await w.write(chunk);
        written += chunk.length;
      }
    })().catch(() => {});
    await expect.poll(() => s.core.sendCredit, { timeout: 5_000 }).toBe(0);
    const stalled = written;
    expect(peer.core.receiveBuffered).toBeLessThanOrEqual(64 * 1024);
    const r = peer.readable.getReader();
    let read = 0;
    while (read < 256 * 1024) read += (await r.read()).value!.length;
    expect(written).toBeGreaterThan(stalled);
    a.destroy();
    await pump;
  });

  it("the writer's desiredSize and ready count bytes, as a toWeb() view's do (docs/manual.md)", async () => {
    // The writable had the default strategy, one chunk: desiredSize read 1 or 0, where a toWeb()
    // view's reads bytes against 64 KiB, and a writer that sized its next chunk by it wrote bytes
    // one at a time.
    const [a, b] = pair();
    const acc = b.listen(5).accept();
    const s = await a.dial('bob:5');
    await acc; // its reader reads nothing
    const w = s.writable.getWriter();
    expect(w.desiredSize).toBe(64 * 1024);
    void w.write(new Uint8Array(1000)); // in the queue until the sink has taken it
    expect(w.desiredSize).toBe(64 * 1024 - 1000);
    const chunk = new Uint8Array(16 * 1024);
    let written = 1000;
    while ((w.desiredSize ?? 0) > 0 && written < 16 * 1024 * 1024) {
      await w.ready;
      void w.write(chunk).catch(() => {});
      written += chunk.length;
    }
    // The window (64 KiB here), streamHighWaterMark (256 KiB), then 64 KiB in the queue (with the
    // write the sink holds); one chunk of the queue's, not 64 KiB, before.
    expect(written).toBeGreaterThanOrEqual((64 + 256 + 32) * 1024);
    expect(written).toBeLessThan((64 + 256 + 64 + 32) * 1024);
    a.destroy();
  });

  it('credit goes back as the reader takes chunks, also while more than the high-water mark is queued', async () => {
    // The default 2 MiB window is larger than the readable's 256 KiB high-water mark: a reader
    // that takes chunks one by one from a full queue must hand credit back as it goes, not only
    // once it has emptied the queue down to the high-water mark.
    const [ta, tb] = memoryPair();
    const a = new WebNode(ta, { domain: 'alice', ip: 1 });
    const b = new WebNode(tb, { domain: 'bob', ip: 2 });
    nodes.push(a, b);
    const acc = b.listen(5).accept();
    const s = await a.dial('bob:5');
    const peer = await acc;
    const window = s.core.sendCredit;
    expect(window).toBe(2 * 1024 * 1024);
    const w = s.writable.getWriter();
    const chunk = new Uint8Array(64 * 1024);
    const pump = (async () => {
      for (;;) await w.write(chunk);
    })().catch(() => {});
    await expect.poll(() => s.core.sendCredit, { timeout: 5_000 }).toBe(0);
    await expect.poll(() => peer.core.receiveBuffered, { timeout: 5_000 }).toBe(window);
    // Take 1.25 MiB: 0.75 MiB stays queued, well above the high-water mark.
    const r = peer.readable.getReader();
    let read = 0;
    while (read < 1280 * 1024) read += (await r.read()).value!.length;
    const consumed = () => peer.core.bytesRead - peer.core.receiveBuffered;
    await expect.poll(consumed, { timeout: 2_000 }).toBe(read);
    // Past the ACK threshold (half the window): the sender got credit back and went on.
    await expect.poll(() => s.core.bytesWritten, { timeout: 2_000 }).toBeGreaterThan(window);
    r.releaseLock();
    a.destroy();
    await pump;
  });

  it('aborting the writable while close() waits for credit resets at once', async () => {
    const [a, b] = pair();
    const acc = b.listen(5).accept();
    const s = await a.dial('bob:5');
    const peer = await acc;
    // The peer reads nothing: the window fills, and close() waits to send the rest and the end.
    const w = s.writable.getWriter();
    await w.write(new Uint8Array(100 * 1024));
    const closing = w.close().then(
      () => null,
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 20));
    expect(s.core.writeBuffered).toBeGreaterThan(0);
    let settled = false;
    const reason = Object.assign(new Error('give up'), { resetCode: 0x124 });
    // (The close in flight fails with the reason, and the standard then rejects the abort with it.)
    const abort = w.abort(reason).then(
      () => null,
      (e: unknown) => e,
    );
    void abort.then(() => {
      settled = true;
    });
    // WritableStream settles an abort only once the close in flight settles: the abort must not
    // wait for the peer's reader to return credit (or for endTimeout).
    await expect.poll(() => settled, { timeout: 2_000 }).toBe(true);
    expect(await abort).toBe(reason);
    expect(await closing).toBe(reason);
    const err = await peer.readable
      .getReader()
      .read()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamResetError);
    expect((err as StreamResetError).resetCode).toBe(0x124);
  });

  it('aborting the writable while a write waits for credit resets at once', async () => {
    const [a, b] = pair();
    const acc = b.listen(5).accept();
    const s = await a.dial('bob:5');
    const peer = await acc;
    // The peer reads nothing: the window fills, then the stream's queue, and a write waits.
    const w = s.writable.getWriter();
    const chunk = new Uint8Array(64 * 1024);
    let waiting: Promise<void> | null = null;
    while (waiting === null) {
      const p = w.write(chunk);
      if (s.core.writeBuffered >= 256 * 1024) waiting = p;
      else await p;
    }
    const failed = waiting.then(
      () => null,
      (e: unknown) => e,
    );
    let aborted = false;
    const reason = Object.assign(new Error('give up'), { resetCode: 0x123 });
    const abort = w.abort(reason).then(() => {
      aborted = true;
    });
    // WritableStream calls the sink's abort only after the write in flight settles: the abort
    // must not wait for the peer's reader to return credit.
    await expect.poll(() => aborted, { timeout: 2_000 }).toBe(true);
    await abort;
    expect(await failed).toBe(reason);
    const err = await peer.readable
      .getReader()
      .read()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamResetError);
    expect((err as StreamResetError).resetCode).toBe(0x123);
  });

  it('a reset by the peer errors the writable too: writes fail with StreamResetError, close fails', async () => {
    const [a, b] = pair();
    const acc = b.listen(5).accept();
    const s = await a.dial('bob:5');
    const peer = await acc;
    const w = s.writable.getWriter();
    const closed = w.closed.catch((e: unknown) => e);
    peer.destroy(Object.assign(new Error('go away'), { resetCode: 0x101 }));
    await s.closed;
    // docs/browser.md: the peer's reads and writes fail with StreamResetError; a writer that
    // closes after the reset must not see its close succeed.
    const err = await w.write(new Uint8Array(3)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamResetError);
    expect(err).toMatchObject({ code: 'FLEX_ERR_STREAM_RESET', resetCode: 0x101, remote: true });
    // Closing an errored WritableStream rejects with a TypeError (the Streams spec), not the error.
    await expect(w.close()).rejects.toBeInstanceOf(TypeError);
    expect(await closed).toBe(err);
    await expect(s.readable.getReader().read()).rejects.toBe(err);
  });

  it('writes any BufferSource as its bytes', async () => {
    const [a, b] = pair();
    const acc = b.listen(5).accept();
    const s = await a.dial('bob:5');
    const peer = await acc;
    const w = s.writable.getWriter();
    // Web APIs that take bytes (WebSocket.send, Response, CompressionStream) take any BufferSource.
    const wide = new Uint16Array([0x0201, 0x0403]);
    await w.write(Uint8Array.of(9, 8).buffer as unknown as Uint8Array);
    await w.write(new DataView(Uint8Array.of(0, 7, 6, 0).buffer, 1, 2) as unknown as Uint8Array);
    await w.write(wide as unknown as Uint8Array);
    await w.close();
    expect([...(await readAll(peer))]).toEqual([9, 8, 7, 6, ...new Uint8Array(wide.buffer)]);
  });

  // Found by the browser hunt: an ArrayBuffer made in another realm (a same-origin iframe's, a
  // vm context's) failed `instanceof ArrayBuffer` and the stream with a ConfigError, though it is
  // a BufferSource that WebSocket.send and the rest take. Views from another realm were taken.
  it("writes an ArrayBuffer or a view from another realm (an iframe's) as its bytes", async () => {
    const [a, b] = pair();
    const acc = b.listen(5).accept();
    const s = await a.dial('bob:5');
    const peer = await acc;
    const w = s.writable.getWriter();
    await w.write(vm.runInNewContext('new Uint8Array([1, 2, 3]).buffer'));
    await w.write(vm.runInNewContext('new Uint8Array([0, 4, 5]).subarray(1)'));
    await w.close();
    expect([...(await readAll(peer))]).toEqual([1, 2, 3, 4, 5]);
  });

  it('a chunk that is not bytes fails the write and the stream, and is not sent', async () => {
    const [a, b] = pair();
    const acc = b.listen(5).accept();
    const s = await a.dial('bob:5');
    const peer = await acc;
    const reading = readAll(peer).catch((e: unknown) => e);
    // A string from plain JavaScript: before, its length went out as that many zero bytes.
    const err = await s.writable
      .getWriter()
      .write('abc' as unknown as Uint8Array)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(await reading).toBeInstanceOf(StreamResetError);
  });

  it.for(['destroy()', "writer.abort('not an Error')"])(
    'a local %s without an Error fails the readable: a reader must not take it for the end',
    async (how, { expect }) => {
      const [a, b] = pair();
      const peer = new Promise<WebStream>((resolve) => b.listen(12).on('stream', resolve));
      const s = await a.dial('bob:12');
      const reader = s.readable.getReader();
      const pending = reader.read();
      if (how === 'destroy()') s.destroy();
      else await s.writable.getWriter().abort('not an Error');
      await expect(pending).rejects.toBeInstanceOf(StreamClosedError);
      expect(s.destroyed).toBe(true);
      await s.closed;
      // The peer is told with a reset (both ends are flexmux, so resets are negotiated).
      const remote = await peer;
      await expect(remote.readable.getReader().read()).rejects.toBeInstanceOf(StreamResetError);
    },
  );

  // The standard hands the writable's signal a DOMException AbortError when abort() has no
  // reason; the abort must not fail the stream with that while a write waits and with
  // StreamClosedError otherwise (nor send its text as the reset message).
  it.for([false, true])(
    'writer.abort() without a reason fails the readable with StreamClosedError (a write waiting: %s)',
    async (waiting, { expect }) => {
      const [a, b] = pair();
      const peer = new Promise<WebStream>((resolve) => b.listen(15).on('stream', resolve));
      const s = await a.dial('bob:15');
      const remote = await peer;
      const w = s.writable.getWriter();
      // The peer reads nothing: the window fills, then the stream's queue, and a write waits.
      while (waiting && s.core.writeBuffered < 256 * 1024) {
        const p = w.write(new Uint8Array(64 * 1024));
        if (s.core.writeBuffered >= 256 * 1024) p.catch(() => {});
        else await p;
      }
      await w.abort();
      await expect(s.readable.getReader().read()).rejects.toBeInstanceOf(StreamClosedError);
      const err = await remote.readable
        .getReader()
        .read()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StreamResetError);
      expect(err).toMatchObject({ resetCode: 0, message: 'stream reset by peer (code 0)' });
    },
  );

  it('writer.close() resolves once what was written has left, not while it waits for credit', async () => {
    const [a, b] = pair();
    const peer = new Promise<WebStream>((resolve) => b.listen(13).on('stream', resolve));
    const s = await a.dial('bob:13');
    const remote = await peer;
    // Under the write buffer, so the write resolves at once; over the 64 KiB window, so the rest
    // waits for the peer's reader, which has not started.
    const data = pattern(160 * 1024, 4);
    const w = s.writable.getWriter();
    await w.write(data);
    let closed = false;
    const closing = w.close().then(() => {
      closed = true;
    });
    await expect.poll(() => b.stats.bytesIn).toBeGreaterThanOrEqual(64 * 1024);
    expect(closed).toBe(false);
    const got = readAll(remote);
    await closing;
    // A program that destroys the stream once close() resolved loses nothing.
    s.destroy();
    expect(sha256(await got)).toBe(sha256(data));
  });

  it('a reset after the peer ended drops what the reader has not taken, as docs/errors.md says', async () => {
    const [a, b] = pair();
    const peer = new Promise<WebStream>((resolve) => b.listen(14).on('stream', resolve));
    const s = await a.dial('bob:14');
    const remote = await peer;
    const w = remote.writable.getWriter();
    await w.write(pattern(1000, 5));
    await w.close();
    // Our reader has not read; the end has arrived (the peer's writable closed only once it left).
    const err = Object.assign(new Error('changed my mind'), { resetCode: 0x102 });
    remote.destroy(err);
    await s.closed;
    const reader = s.readable.getReader();
    await expect(reader.read()).rejects.toBeInstanceOf(StreamResetError);
  });

  it("a plain v3 peer's close errors a writable nobody closed: an idle writer hears of it", async () => {
    const [ta, tb] = memoryPair();
    const a = new WebNode(ta, { domain: 'alice', ip: 1 });
    const b = new WebNode(tb, { domain: 'bob', ip: 2, caps: 0 });
    nodes.push(a, b);
    const peer = new Promise<WebStream>((resolve) => b.listen(16).on('stream', resolve));
    const s = await a.dial('bob:16');
    const w = s.writable.getWriter();
    // A plain v3 peer's close ends both directions at once.
    await (await peer).writable.close();
    expect((await readAll(s)).length).toBe(0);
    await s.closed;
    // As the toWeb() views and the Node face do: the writable is closed under its writer, so its
    // closed promise (and a pipeTo into it) settle now, not at the next write.
    await expect(w.closed).rejects.toBeInstanceOf(StreamClosedError);
    await expect(w.write(new Uint8Array(1))).rejects.toBeInstanceOf(StreamClosedError);
  });

  it('has no BYOB reader: asking for one throws a TypeError (docs/browser.md)', async () => {
    const [a, b] = pair();
    b.listen(17);
    const s = await a.dial('bob:17');
    expect(() => s.readable.getReader({ mode: 'byob' })).toThrow(TypeError);
    // The stream is untouched: a default reader still works.
    s.readable.getReader().releaseLock();
  });

  // An inbound payload was enqueued as a view of the read buffer it arrived in, which (over TCP,
  // a Node.js WebSocket or the memory pair) holds other streams' frames too: a reader that
  // transferred its chunk (postMessage, structuredClone) detached them all, and another stream's
  // waiting payload read as an empty chunk.
  it("a chunk transferred by its reader leaves other streams' chunks whole (docs/browser.md)", async () => {
    const [a, b] = pair();
    const accepted: WebStream[] = [];
    b.listen(19).on('stream', (s: WebStream) => accepted.push(s));
    const s1 = await a.dial('bob:19');
    const s2 = await a.dial('bob:19');
    await expect.poll(() => accepted.length).toBe(2);
    // Written in one turn: both payloads leave in one batch and arrive in one read buffer.
    void s1.writable.getWriter().write(new Uint8Array(20_000).fill(1));
    void s2.writable.getWriter().write(new Uint8Array(20_000).fill(2));
    await expect.poll(() => accepted[1]!.core.receiveBuffered).toBe(20_000);
    const first = (await accepted[0]!.readable.getReader().read()).value!;
    const moved = structuredClone(first, { transfer: [first.buffer as ArrayBuffer] });
    expect(moved.byteLength).toBe(20_000);
    const second = (await accepted[1]!.readable.getReader().read()).value!;
    expect(second.byteLength).toBe(20_000);
    expect(second.every((x) => x === 2)).toBe(true);
  });

  it("destroy(reason) stops a pipe whose write waits for the peer's credit (docs/browser.md)", async () => {
    const [a, b] = pair();
    b.listen(18);
    const s = await a.dial('bob:18');
    // One chunk over the window and the stream's buffer: its write waits for a reader that
    // never comes, and pipeTo's signal would wait for it too.
    const source = new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(new Uint8Array(1024 * 1024)),
    });
    const piped = source.pipeTo(s.writable).catch((e: unknown) => e);
    await expect.poll(() => s.core.writeBuffered).toBeGreaterThan(0);
    const reason = Object.assign(new Error('enough'), { resetCode: 0x125 });
    s.destroy(reason);
    expect(await piped).toBe(reason);
  });
});
