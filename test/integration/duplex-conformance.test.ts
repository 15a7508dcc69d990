import * as nodeStream from 'node:stream';
import { addAbortSignal, type Duplex, PassThrough, Readable, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type FlexStream,
  Node,
  type NodeOptions,
  StreamClosedError,
  StreamResetError,
} from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { Cmd } from '../../src/wire/constants.js';
import { streamPair } from '../helpers/links.js';
import { RawPeer, rawStream } from '../helpers/raw.js';
import { once, pattern, readAll, sha256, writeAll } from '../helpers/streams.js';

/**
 * A FlexStream under Node's own stream utilities, as a net.Socket-like Duplex (allowHalfOpen):
 * pipeline, finished, async iteration, half-close, destroy, backpressure, paused-mode reading,
 * AbortSignal and compose. What other files cover is left to them: a local destroy() failing a
 * pipeline (destroy-no-end), 'finish' after the bytes left (finish-flushed), failures nobody
 * listens for (unheard-failure), writes after a v3 peer's close (write-after-close), setEncoding,
 * read(n) and setTimeout (set-encoding, sized-reads, idle-timeout), toWeb (to-web).
 */

const pairs: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const p of pairs.splice(0)) await p.close();
});

async function pair(a: NodeOptions = {}, b: NodeOptions = {}): Promise<{ s: FlexStream; peer: FlexStream }> {
  const { s, peer, close } = await streamPair(a, b);
  pairs.push({ close });
  return { s, peer };
}

/** Records the lifecycle events of `d` in order ('error' with the error's name). */
function events(d: Duplex): string[] {
  const out: string[] = [];
  for (const e of ['end', 'finish', 'close']) d.on(e, () => out.push(e));
  d.on('error', (err: Error) => out.push(`error:${err.name}`));
  return out;
}

/** Everything `d` delivers until it ends, or how it failed. */
function outcome(d: Duplex): Promise<string> {
  return readAll(d).then(
    (b) => `end:${b.toString()}`,
    (err: Error) => `error:${err.name}`,
  );
}

const FLEX = {};
// stream.compose (Node >= 16.9, experimental) is missing from @types/node 20.
const compose = (nodeStream as unknown as { compose(...streams: Duplex[]): Duplex }).compose;
const V3 = { caps: 0 };

describe('stream.pipeline', () => {
  it('a failing source rejects with its error and resets the peer', async () => {
    const { s, peer } = await pair();
    const local = events(s);
    const seen = outcome(peer);
    const closed = once(s, 'close');
    const boom = new Error('boom');
    const src = new Readable({ read() {} });
    src.push('partial');
    setImmediate(() => src.destroy(boom));
    await expect(pipeline(src, s)).rejects.toBe(boom);
    expect(s.destroyed).toBe(true);
    expect(await seen).toBe('error:StreamResetError');
    await closed;
    expect(local).toEqual(['error:Error', 'close']);
  });

  it('a failing source towards a plain v3 peer: it can only close, the peer reads an end', async () => {
    const { s, peer } = await pair(V3);
    const seen = outcome(peer);
    const src = new Readable({ read() {} });
    src.push('partial');
    setImmediate(() => src.destroy(new Error('boom')));
    await expect(pipeline(src, s)).rejects.toThrow('boom');
    // What a Go peer sees too (docs/manual.md, section 3: frame what must be known complete).
    expect(await seen).toBe('end:partial');
  });

  it('a failing sink rejects with its error and resets the peer', async () => {
    const { s, peer } = await pair();
    const local = events(s);
    const failed = once<Error>(peer, 'error');
    const boom = new Error('sink');
    const sink = new Writable({
      write(_c, _e, cb) {
        cb(boom);
      },
    });
    peer.write('x');
    await expect(pipeline(s, sink)).rejects.toBe(boom);
    expect(s.destroyed).toBe(true);
    const err = await failed;
    expect(err).toBeInstanceOf(StreamResetError);
    expect(err.message).toContain('sink');
    expect(local).toEqual(['error:Error', 'close']);
  });

  it("a peer's reset rejects with its StreamResetError and destroys the other streams", async () => {
    const { s, peer } = await pair();
    const sink = new PassThrough().resume();
    const piped = pipeline(s, sink);
    peer.on('error', () => {});
    peer.destroy(Object.assign(new Error('no'), { resetCode: 0x107 }));
    await expect(piped).rejects.toMatchObject({ code: 'FLEX_ERR_STREAM_RESET', resetCode: 0x107 });
    expect(sink.destroyed).toBe(true);
  });

  it('source → stream resolves once the stream finished, and the reply still arrives', async () => {
    const { s, peer } = await pair();
    const request = outcome(peer);
    await pipeline(Readable.from([Buffer.from('a'), Buffer.from('b')]), s);
    expect([s.writableFinished, s.destroyed, s.readable]).toEqual([true, false, true]);
    expect(await request).toBe('end:ab');
    const reply = readAll(s);
    peer.end('reply');
    expect((await reply).toString()).toBe('reply');
  });
});

describe('finished()', () => {
  it('resolves once both directions ended cleanly', async () => {
    const { s, peer } = await pair();
    const local = events(s);
    s.resume();
    peer.resume();
    s.end('x');
    peer.end('y');
    await Promise.all([finished(s), finished(peer)]);
    if (!s.closed) await once(s, 'close');
    expect(local).toEqual(['finish', 'end', 'close']);
    expect([s.readableEnded, s.writableFinished, s.destroyed, s.errored]).toEqual([true, true, true, null]);
  });

  it("rejects on the peer's reset, with or without an error", async () => {
    const { s, peer } = await pair();
    const done = finished(s);
    peer.destroy();
    await expect(done).rejects.toBeInstanceOf(StreamResetError);
    expect(s.errored).toBeInstanceOf(StreamResetError);
  });
});

describe('for await', () => {
  it("ends at the peer's end, then destroys the stream as a socket's iterator does", async () => {
    const { s, peer } = await pair();
    peer.end('abc');
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('abc');
    // Node's iterator destroys a Duplex whose writable side is open: this end wrote nothing more.
    expect(s.destroyed).toBe(true);
  });

  it('iterator({ destroyOnReturn: false }) reads the request to its end and leaves the reply open', async () => {
    const { s, peer } = await pair();
    peer.end('request');
    const chunks: Buffer[] = [];
    for await (const c of s.iterator({ destroyOnReturn: false })) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('request');
    expect(s.destroyed).toBe(false);
    const reply = readAll(peer);
    s.end('reply');
    expect((await reply).toString()).toBe('reply');
  });

  it("throws the peer's reset", async () => {
    const { s, peer } = await pair();
    peer.write('abc');
    const loop = (async () => {
      for await (const _ of s) peer.destroy();
    })();
    await expect(loop).rejects.toBeInstanceOf(StreamResetError);
  });

  for (const [name, options, seen] of [
    ['flexmux peer', FLEX, 'error:StreamResetError'],
    ['plain v3 peer', V3, 'end:'],
  ] as const) {
    it(`break destroys the stream and the ${name} hears of it`, async () => {
      const { s, peer } = await pair(options);
      const view = outcome(peer);
      peer.write('abc');
      for await (const _ of s) break;
      expect(s.destroyed).toBe(true);
      // A v3 stream has no reset: the peer sees the close (docs/manual.md, section 3).
      expect(await view).toBe(seen);
    });
  }
});

describe('half-close', () => {
  it("after the peer's end the stream still writes; 'end', 'finish', 'close' once each", async () => {
    const { s, peer } = await pair();
    const local = events(s);
    const closed = once(s, 'close');
    peer.end('question');
    expect((await readAll(s)).toString()).toBe('question');
    expect([s.readableEnded, s.writable, s.writableFinished, s.destroyed]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    const reply = readAll(peer);
    let endCalled = false;
    s.end('answer', () => {
      endCalled = true;
    });
    expect((await reply).toString()).toBe('answer');
    await closed;
    expect(endCalled).toBe(true);
    expect(local).toEqual(['end', 'finish', 'close']);
  });

  it("a plain v3 peer's end closes both directions, then writes fail", async () => {
    const { s, peer } = await pair(V3);
    const local = events(s);
    const closed = once(s, 'close');
    peer.end('bye');
    expect((await readAll(s)).toString()).toBe('bye');
    await closed;
    // 'finish' may come before 'end': the close ends the writable side at once.
    expect([...local].sort()).toEqual(['close', 'end', 'finish']);
    expect(local.at(-1)).toBe('close');
    const err = await new Promise<Error | null | undefined>((resolve) => {
      s.write('late', resolve);
    });
    expect(err).toBeInstanceOf(StreamClosedError);
  });
});

describe("'close'(hadError), as a net.Socket's", () => {
  it('is false after a clean end both ways, and after destroy() without an error', async () => {
    const { s, peer } = await pair();
    const closed = once<boolean>(s, 'close');
    peer.end('question');
    await readAll(s);
    s.end('answer');
    await readAll(peer);
    expect(await closed).toBe(false);
    const other = await pair();
    const destroyed = once<boolean>(other.s, 'close');
    other.peer.on('error', () => {});
    other.s.destroy();
    expect(await destroyed).toBe(false);
  });

  it("is true after destroy(err) and after the peer's reset", async () => {
    const { s, peer } = await pair();
    peer.on('error', () => {});
    s.on('error', () => {});
    const closed = once<boolean>(s, 'close');
    s.destroy(new Error('boom'));
    expect(await closed).toBe(true);
    const other = await pair();
    other.s.on('error', () => {});
    other.peer.on('error', () => {});
    const reset = once<boolean>(other.s, 'close');
    other.peer.destroy(new Error('go away'));
    expect(await reset).toBe(true);
    expect(other.s.errored).toBeInstanceOf(StreamResetError);
  });

  it("is true after a failure nobody listened for (kept in 'failure')", async () => {
    const { s, peer } = await pair();
    peer.on('error', () => {});
    const closed = once<boolean>(s, 'close');
    peer.destroy(new Error('go away'));
    expect(await closed).toBe(true);
    expect(s.failure).toBeInstanceOf(StreamResetError);
  });
});

describe('destroy(err)', () => {
  it("emits 'error' then 'close' exactly once, also when destroyed again and reset by the peer", async () => {
    const { s, peer } = await pair();
    peer.on('error', () => {});
    const local = events(s);
    const closed = once(s, 'close');
    s.destroy(new Error('first'));
    s.destroy(new Error('second'));
    peer.destroy();
    await closed;
    await new Promise((r) => setImmediate(r));
    expect(local).toEqual(['error:Error', 'close']);
    expect((s.errored as Error).message).toBe('first');
    expect([s.destroyed, s.readableEnded, s.writableFinished]).toEqual([true, false, false]);
  });

  it("fails the callback of an end() that waited for the peer's credit", async () => {
    const { s, peer } = await pair({}, { window: 64 * 1024 });
    peer.pause();
    peer.on('error', () => {});
    const ended = new Promise<Error | null | undefined>((resolve) => {
      const cb = (err?: Error | null): void => resolve(err);
      s.end(Buffer.alloc(200_000), cb);
    });
    await expect.poll(() => s.core.sendCredit).toBe(0);
    s.destroy();
    expect(await ended).toMatchObject({ code: 'ERR_STREAM_DESTROYED' });
  });
});

describe('backpressure', () => {
  it("a paused reader stalls the sender at one window: write() says wait, memory stays bounded, 'drain' follows", async () => {
    const WINDOW = 64 * 1024;
    const HIGH_WATER = 256 * 1024; // streamHighWaterMark
    const { s, peer } = await pair({}, { window: WINDOW });
    peer.pause();
    const data = pattern(2 * 1024 * 1024);
    let drains = 0;
    s.on('drain', () => drains++);
    const written = writeAll(s, data, 16 * 1024);
    await expect.poll(() => peer.bytesRead).toBe(WINDOW);
    // The memory link delivers within a turn: whatever else was sent would have arrived.
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    expect(peer.bytesRead).toBe(WINDOW);
    expect(s.bytesWritten).toBe(WINDOW);
    expect(s.writableNeedDrain).toBe(true);
    expect(s.core.writeBuffered).toBeLessThanOrEqual(HIGH_WATER + 16 * 1024);
    expect(s.writableLength).toBeLessThanOrEqual(s.writableHighWaterMark);
    const got = readAll(peer);
    peer.resume();
    await written;
    expect(sha256(await got)).toBe(sha256(data));
    expect(drains).toBeGreaterThan(0);
  });
});

describe('write callbacks', () => {
  it('come in the order of the writes, also for writes made after an await', async () => {
    const { s, peer } = await pair();
    peer.resume();
    // In a microtask (this test's body after its await), as most writes are: the first two are
    // taken at once (Node calls them back on a tick of its own); the third fills the stream
    // (streamHighWaterMark) and waits, and the drain that frees it comes in a microtask too,
    // before that tick. Its callback came first, and a writer noting its progress went back.
    const order: number[] = [];
    for (let i = 0; i < 6; i++) s.write(Buffer.alloc(100_000), () => order.push(i));
    await new Promise<void>((resolve) => s.end(resolve));
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('come in the order of the writes when the stream is destroyed with a write waiting', async () => {
    const { s, peer } = await pair();
    peer.on('error', () => {});
    s.on('error', () => {});
    // As above: 0 and 1 are taken at once and called back on a tick of their own, 2 waits in the
    // stream, 3 to 5 in the Duplex's buffer. destroy() failed 2 at once, and with it (Node errors
    // the buffered writes when a failed write returns) 3 to 5: all before 0 and 1.
    const order: number[] = [];
    for (let i = 0; i < 6; i++) s.write(Buffer.alloc(100_000), () => order.push(i));
    s.destroy(new Error('stop'));
    await once(s, 'close');
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("come in the order of the writes when the peer's close ends a write's wait", async () => {
    // The node's output is backed up (the raw peer reads nothing more), so its third write waits
    // with everything framed (streamHighWaterMark); the peer's v3 close, delivered in a microtask before the tick of the
    // first two callbacks, called the third back at once, ahead of them.
    const [a, b] = memoryPair({ highWaterMark: 1024 });
    const node = new Node(a, { domain: 'alice', ip: 1, heartbeatInterval: 0 });
    const raw = new RawPeer(b);
    const { accepted: s } = await rawStream(node, raw, 2 * 1024 * 1024);
    try {
      b.pauseReading();
      s.resume();
      const order: number[] = [];
      // Whole 16 KiB frames: a short tail would wait for the writer's next write, and the close
      // then find bytes unsent (an error, no clean close).
      for (let i = 0; i < 3; i++) s.write(Buffer.alloc(6 * 16 * 1024), () => order.push(i));
      expect(s.writableLength).toBeGreaterThan(0); // the third waits
      const errors: Error[] = [];
      s.on('error', (e) => errors.push(e));
      raw.send(Cmd.CLOSE, 1, 80, 2, 5000);
      await once(s, 'close');
      expect(order).toEqual([0, 1, 2]);
      expect(errors).toEqual([]);
    } finally {
      node.destroy();
    }
  });
});

describe('paused-mode reading', () => {
  it('read(n) and unshift() put bytes back without counting them twice', async () => {
    const { s, peer } = await pair();
    peer.end('hello, world');
    await once(s, 'readable');
    const head = s.read(5) as Buffer;
    expect(head.toString()).toBe('hello');
    s.unshift(head);
    expect((await readAll(s)).toString()).toBe('hello, world');
    expect(s.core.receiveBuffered).toBe(0);
  });

  it('refuses objects: the stream is bytes only', async () => {
    const { s } = await pair();
    expect(s.readableObjectMode).toBe(false);
    expect(s.writableObjectMode).toBe(false);
    expect(() => s.write({ n: 1 } as unknown as Buffer)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(s.destroyed).toBe(false);
  });
});

describe('AbortSignal and compose', () => {
  it('addAbortSignal destroys the stream with an AbortError and resets the peer', async () => {
    const { s, peer } = await pair();
    const ac = new AbortController();
    addAbortSignal(ac.signal, s);
    const local = once<Error>(s, 'error');
    const remote = once<Error>(peer, 'error');
    ac.abort();
    expect((await local).name).toBe('AbortError');
    expect(await remote).toBeInstanceOf(StreamResetError);
  });

  it('compose(stream, transform) writes to the stream and reads through the transform', async () => {
    const { s, peer } = await pair();
    void pipeline(peer, peer).catch(() => {});
    const upper = new PassThrough({
      transform(chunk: Buffer, _e, cb) {
        cb(null, chunk.toString().toUpperCase());
      },
    });
    const both = compose(s, upper);
    both.end('echo me');
    expect((await readAll(both)).toString()).toBe('ECHO ME');
  });
});
