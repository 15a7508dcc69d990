import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  type FlexStream,
  type NodeOptions,
  StreamClosedError,
  StreamResetError,
} from '../../src/index.js';
import { links, nodePair, streamPair } from '../helpers/links.js';
import { once, pattern, readAll, sha256 } from '../helpers/streams.js';

/**
 * FlexStream.toWeb() gives Web Streams views that follow one half each, so a half-closed stream
 * works through them: Node 20's Duplex.toWeb ended its readable only once the writable side had
 * finished too, and resolved the writer's close() only once the readable side had ended, so a
 * request/response exchange over the views hung.
 */

const pairs: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const p of pairs.splice(0)) await p.close();
});

async function pair(options: NodeOptions = {}): Promise<{ s: FlexStream; peer: FlexStream }> {
  const { s, peer, close } = await streamPair(options, {});
  pairs.push({ close });
  return { s, peer };
}

async function readWeb(readable: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  const reader = readable.getReader();
  for (;;) {
    const r = await reader.read();
    if (r.done) return Buffer.concat(chunks);
    chunks.push(r.value);
  }
}

describe('FlexStream.toWeb() over a half-closing stream', () => {
  it("the readable is done at the peer's end while this end writes a reply", { timeout: 5_000 }, async () => {
    const { s, peer } = await pair();
    const closed = once(s, 'close');
    const { readable, writable } = s.toWeb();
    const request = pattern(300 * 1024);
    peer.end(request);
    expect(sha256(await readWeb(readable))).toBe(sha256(request));
    const reply = readAll(peer);
    const writer = writable.getWriter();
    await writer.write(new TextEncoder().encode('reply'));
    await writer.close();
    expect((await reply).toString()).toBe('reply');
    await closed;
  });

  it('the writer closes while the peer still sends, then the reply is read', { timeout: 5_000 }, async () => {
    const { s, peer } = await pair();
    const closed = once(s, 'close');
    const { readable, writable } = s.toWeb();
    const request = readAll(peer);
    const writer = writable.getWriter();
    await writer.write(new TextEncoder().encode('question'));
    await writer.close();
    expect(s.writableFinished).toBe(true);
    expect((await request).toString()).toBe('question');
    // The peer answers only now, more than the readable's high-water mark.
    const answer = pattern(600 * 1024);
    peer.end(answer);
    expect(sha256(await readWeb(readable))).toBe(sha256(answer));
    await closed;
  });

  it("a peer's reset errors both views with its StreamResetError", { timeout: 5_000 }, async () => {
    const { s, peer } = await pair();
    const { readable, writable } = s.toWeb();
    const writer = writable.getWriter();
    const read = readWeb(readable);
    // destroy(err) emits the error on the peer too, where nobody listens otherwise.
    const peerFailed = once<Error>(peer, 'error');
    peer.destroy(Object.assign(new Error('go away'), { resetCode: 0x123 }));
    expect((await peerFailed).message).toBe('go away');
    await expect(read).rejects.toBeInstanceOf(StreamResetError);
    await expect(writer.closed).rejects.toMatchObject({ resetCode: 0x123 });
    expect(s.destroyed).toBe(true);
  });

  it('cancelling the readable or aborting the writable resets the peer', { timeout: 5_000 }, async () => {
    for (const how of ['cancel', 'abort'] as const) {
      const { s, peer } = await pair();
      const { readable, writable } = s.toWeb();
      const failed = once<Error>(peer, 'error');
      const reason = Object.assign(new Error(how), { resetCode: 0x200 });
      if (how === 'cancel') await readable.cancel(reason);
      else await writable.abort(reason);
      const err = await failed;
      expect(err).toBeInstanceOf(StreamResetError);
      expect(err).toMatchObject({ resetCode: 0x200 });
      expect(s.destroyed).toBe(true);
    }
  });

  it("a plain v3 peer's close ends the readable and fails further writes", { timeout: 5_000 }, async () => {
    const { s, peer } = await pair({ caps: 0 });
    const { readable, writable } = s.toWeb();
    const writer = writable.getWriter();
    peer.end('last words');
    expect((await readWeb(readable)).toString()).toBe('last words');
    await expect(writer.closed).rejects.toBeInstanceOf(StreamClosedError);
    await expect(writer.write(new Uint8Array(1))).rejects.toBeInstanceOf(StreamClosedError);
  });

  it('a destroy() without an error fails both views as aborted', { timeout: 5_000 }, async () => {
    const { s, peer } = await pair();
    peer.on('error', () => {});
    const { readable, writable } = s.toWeb();
    const writer = writable.getWriter();
    const read = readWeb(readable);
    s.destroy();
    await expect(read).rejects.toThrow('stream aborted');
    await expect(writer.closed).rejects.toBeInstanceOf(StreamClosedError);
  });

  it('views made after the stream failed fail with its error; after a clean end they are done', {
    timeout: 5_000,
  }, async () => {
    // Reset by the peer, the error heard: Node's check (destroyed: a cancelled readable, a closed
    // writable) gave a reader a clean, empty end and a writer whose `closed` resolved.
    const reset = await pair();
    const heard = once<Error>(reset.s, 'error');
    const resetClosed = once(reset.s, 'close');
    reset.peer.on('error', () => {});
    reset.peer.destroy(Object.assign(new Error('go away'), { resetCode: 0x123 }));
    const err = await heard;
    await resetClosed;
    const late = reset.s.toWeb();
    await expect(readWeb(late.readable)).rejects.toBe(err);
    await expect(late.writable.getWriter().closed).rejects.toBe(err);
    // Failed before anyone listened: the error kept in `failure` (an early-data dial refused).
    const unheard = await pair();
    const unheardClosed = once(unheard.s, 'close');
    unheard.peer.on('error', () => {});
    unheard.peer.destroy(Object.assign(new Error('refused'), { resetCode: 0x124 }));
    await unheardClosed;
    expect(unheard.s.failure).toBeInstanceOf(StreamResetError);
    const kept = unheard.s.toWeb();
    await expect(readWeb(kept.readable)).rejects.toBe(unheard.s.failure);
    await expect(kept.writable.getWriter().closed).rejects.toBe(unheard.s.failure);
    // Destroyed here without an error: aborted, as for views made before.
    const aborted = await pair();
    aborted.peer.on('error', () => {});
    const abortedClosed = once(aborted.s, 'close');
    aborted.s.destroy();
    await abortedClosed;
    const gone = aborted.s.toWeb();
    await expect(readWeb(gone.readable)).rejects.toThrow('stream aborted');
    await expect(gone.writable.getWriter().closed).rejects.toBeInstanceOf(StreamClosedError);
    // Ended cleanly both ways: the read side was complete, the write side finished.
    const clean = await pair();
    const cleanClosed = once(clean.s, 'close');
    clean.s.resume();
    clean.peer.resume();
    clean.s.end();
    clean.peer.end();
    await cleanClosed;
    const done = clean.s.toWeb();
    expect((await readWeb(done.readable)).length).toBe(0);
    await expect(done.writable.getWriter().closed).rejects.toBeInstanceOf(StreamClosedError);
  });

  // Found by the browser hunt: views made of a stream already destroyed were a readable that read
  // as a clean end (a reset reply taken for a whole one) and a writable that failed with the
  // standard's TypeError, whatever had ended the stream.
  it('views made after a reset fail with its error, not as a clean end', { timeout: 5_000 }, async () => {
    const { s, peer } = await pair();
    peer.on('error', () => {});
    const failed = once<Error>(s, 'error');
    peer.destroy(Object.assign(new Error('go away'), { resetCode: 0x125 }));
    await failed;
    const { readable, writable } = s.toWeb();
    const err = await readWeb(readable).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamResetError);
    expect(err).toMatchObject({ resetCode: 0x125 });
    await expect(writable.getWriter().write(new Uint8Array(1))).rejects.toBeInstanceOf(StreamResetError);
  });

  it('views made after a reset nobody listened for fail with it too', { timeout: 5_000 }, async () => {
    const { s, peer } = await pair();
    peer.on('error', () => {});
    // No 'error' listener on s: the stream closes without emitting one and keeps it in `failure`.
    const closed = once(s, 'close');
    peer.destroy(Object.assign(new Error('go away'), { resetCode: 0x126 }));
    await closed;
    const { readable, writable } = s.toWeb();
    await expect(readWeb(readable)).rejects.toMatchObject({ resetCode: 0x126 });
    await expect(writable.getWriter().write(new Uint8Array(1))).rejects.toBeInstanceOf(StreamResetError);
  });

  it('views made after a destroy() without an error fail as aborted', { timeout: 5_000 }, async () => {
    const { s, peer } = await pair();
    peer.on('error', () => {});
    s.destroy();
    const { readable, writable } = s.toWeb();
    await expect(readWeb(readable)).rejects.toThrow('stream aborted');
    await expect(writable.getWriter().write(new Uint8Array(1))).rejects.toBeInstanceOf(StreamClosedError);
  });

  it("views made after the stream's clean close: the readable ends, writes fail with StreamClosedError", {
    timeout: 5_000,
  }, async () => {
    const { s, peer } = await pair();
    const closed = once(s, 'close');
    peer.end('bye');
    const got = readAll(s);
    s.end();
    expect((await got).toString()).toBe('bye');
    await closed;
    const { readable, writable } = s.toWeb();
    expect((await readWeb(readable)).length).toBe(0);
    await expect(writable.getWriter().write(new Uint8Array(1))).rejects.toBeInstanceOf(StreamClosedError);
  });

  it('the writable takes any BufferSource as its bytes, as the Web Streams face does', {
    timeout: 5_000,
  }, async () => {
    const { s, peer } = await pair();
    const got = readAll(peer);
    const writer = s.toWeb().writable.getWriter();
    const wide = new Uint16Array([0x0201, 0x0403]);
    await writer.write(Uint8Array.of(9, 8).buffer as unknown as Uint8Array);
    await writer.write(new DataView(Uint8Array.of(0, 7, 6, 0).buffer, 1, 2) as unknown as Uint8Array);
    await writer.write(wide as unknown as Uint8Array);
    await writer.close();
    expect([...(await got)]).toEqual([9, 8, 7, 6, ...new Uint8Array(wide.buffer)]);
  });

  it('a chunk that is not bytes fails the write and the stream: the peer is not left waiting', {
    timeout: 5_000,
  }, async () => {
    const { s, peer } = await pair();
    const seen = readAll(peer).catch((e: unknown) => e);
    const err = await s
      .toWeb()
      .writable.getWriter()
      .write({ not: 'bytes' } as unknown as Uint8Array)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(await seen).toBeInstanceOf(StreamResetError);
    expect(s.destroyed).toBe(true);
  });

  it('reasons mean what they mean to the Web Streams face: a { resetCode } object, or none', {
    timeout: 5_000,
  }, async () => {
    // A plain object with a reset code sends that code.
    const first = await pair();
    const coded = once<Error>(first.peer, 'error');
    await first.s.toWeb().readable.cancel({ resetCode: 0x301 });
    expect(await coded).toMatchObject({ resetCode: 0x301 });
    // An aborted signal's DOMException (pipeTo) is no reason: code 0, no message from it.
    const second = await pair();
    const plain = once<Error>(second.peer, 'error');
    const ac = new AbortController();
    const piped = new ReadableStream<Uint8Array>().pipeTo(second.s.toWeb().writable, { signal: ac.signal });
    ac.abort();
    await expect(piped).rejects.toMatchObject({ name: 'AbortError' });
    expect(await plain).toMatchObject({ resetCode: 0, message: 'stream reset by peer (code 0)' });
  });
  it("a write while the stream waits for 'drain' is written, not dropped", { timeout: 5_000 }, async () => {
    const { s, peer } = await pair();
    // Written to the stream itself, more than the window while the peer does not read yet: it
    // waits for 'drain' when the view's first write comes.
    const head = pattern(4 * 1024 * 1024);
    expect(s.write(head)).toBe(false);
    const writer = s.toWeb().writable.getWriter();
    await writer.ready;
    expect(s.writableNeedDrain).toBe(true);
    const wrote = writer.write(new TextEncoder().encode('tail'));
    const got = readAll(peer);
    await wrote;
    await writer.close();
    const all = await got;
    expect(all.length).toBe(head.length + 4);
    expect(all.subarray(head.length).toString()).toBe('tail');
  });

  it("a chunk that has its buffer to itself (a loopback payload) is the reader's as it is, not a copy", {
    timeout: 5_000,
  }, async () => {
    const nodes = await nodePair(links.memory!, { heartbeatInterval: 0 }, { heartbeatInterval: 0 });
    pairs.push(nodes);
    const accepted = nodes.a.listen(9).accept();
    const s = await nodes.a.dial('alice:9');
    const peer = await accepted;
    const reader = peer.toWeb().readable.getReader();
    // Beside the view (it paused the stream, so this listener does not start the flow).
    const emitted: Uint8Array[] = [];
    peer.on('data', (c: Buffer) => emitted.push(c));
    s.write(pattern(32 * 1024));
    const { value } = await reader.read();
    expect(value?.length).toBe(32 * 1024);
    expect(emitted.length).toBe(1);
    expect(value?.buffer).toBe(emitted[0]?.buffer);
    reader.releaseLock();
  });

  it('a chunk that views a read buffer other payloads share is a copy: transferring it harms no other stream', {
    timeout: 5_000,
  }, async () => {
    const nodes = await nodePair(links.memory!, { heartbeatInterval: 0 }, { heartbeatInterval: 0 });
    pairs.push(nodes);
    const listener = nodes.b.listen(9);
    const s1 = await nodes.a.dial('bob:9');
    const p1 = await listener.accept();
    const s2 = await nodes.a.dial('bob:9');
    const p2 = await listener.accept();
    const reader = p1.toWeb().readable.getReader();
    // The other stream's reader keeps what it was given (views of the read buffer).
    const kept: Buffer[] = [];
    p2.on('data', (c: Buffer) => kept.push(c));
    const ended = once(p2, 'end');
    // Written in one turn: the frames leave in one transport write, so both payloads view one
    // read buffer.
    const data = pattern(20 * 1024);
    s1.end(data);
    s2.end(data);
    const { value } = await reader.read();
    await ended;
    expect(value?.length).toBe(data.length);
    structuredClone(value, { transfer: [value!.buffer] });
    expect(sha256(Buffer.concat(kept))).toBe(sha256(data));
    reader.releaseLock();
  });

  it('cancelling the readable while the stream is about to flow again throws nothing', {
    timeout: 5_000,
  }, async () => {
    const { s, peer } = await pair();
    peer.on('error', () => {});
    const { readable } = s.toWeb();
    const reader = readable.getReader();
    peer.write(pattern(1024 * 1024));
    // The view paused the stream with data still in its buffer (its queue is full).
    await expect.poll(() => s.isPaused() && s.readableLength > 0).toBe(true);
    // The read makes the view resume the stream (on the next tick): the cancel comes first. The
    // buffered chunks the stream then emitted were enqueued on the cancelled readable, which
    // threw out of the 'data' listener: an uncaught exception.
    await reader.read();
    await reader.cancel();
    await once(s, 'close');
    expect(s.destroyed).toBe(true);
  });

  it.for(['a write', 'close()'])(
    "aborting the writable while %s waits for the peer's credit resets at once",
    { timeout: 5_000 },
    async (what, { expect }) => {
      const { s, peer } = await pair();
      const failed = once<Error>(peer, 'error');
      const writer = s.toWeb().writable.getWriter();
      await writer.ready;
      let waiting: Promise<void>;
      if (what === 'a write') {
        // The peer reads nothing: the window fills, then the stream's buffers, and the view's
        // write waits for 'drain' (the sink runs within write(), so writableNeedDrain is known).
        let last: Promise<void> = Promise.resolve();
        while (!s.writableNeedDrain) {
          await last;
          last = writer.write(new Uint8Array(64 * 1024));
        }
        waiting = last;
      } else {
        // More than the 2 MiB window, less than it plus what the stream holds unsent: written,
        // and the end waits for credit.
        await writer.write(new Uint8Array(2 * 1024 * 1024 + 100 * 1024));
        waiting = writer.close();
        expect(s.writableFinished).toBe(false);
      }
      waiting.catch(() => {});
      // WritableStream calls the sink's abort only once the write or close in flight settles:
      // it must not wait for a reader that may never read.
      const reason = Object.assign(new Error('give up'), { resetCode: 0x123 });
      await writer.abort(reason).catch(() => {});
      expect(await failed).toMatchObject({ resetCode: 0x123 });
      await expect(waiting).rejects.toBe(reason);
    },
  );

  it("the writer's desiredSize and ready follow the stream's buffers, counted in bytes", {
    timeout: 5_000,
  }, async () => {
    const { s } = await pair();
    const writer = s.toWeb().writable.getWriter();
    // The peer reads nothing. A writer that waits for `ready` before each write must be held
    // once the window and the stream's buffers are full: the view's own queue counted chunks
    // against the stream's 64 KiB high-water mark (65,536 of them, 1 GiB of such chunks).
    const chunk = new Uint8Array(16 * 1024);
    let written = 0;
    while ((writer.desiredSize ?? 0) > 0 && written < 64 * 1024 * 1024) {
      await writer.ready;
      writer.write(chunk).catch(() => {});
      written += chunk.length;
    }
    expect(written).toBeLessThan(4 * 1024 * 1024);
    expect(s.writableNeedDrain).toBe(true);
    s.destroy();
  });
});
