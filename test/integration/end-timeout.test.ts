import { afterEach, describe, expect, it, vi } from 'vitest';
import { type FlexStream, Node, type NodeOptions, StreamResetError, TimeoutError } from '../../src/index.js';
import { type MemoryPairOptions, type MemoryTransport, memoryPair } from '../../src/transport/memory.js';
import { captureLogger } from '../helpers/faulty-log.js';
import { pattern } from '../helpers/streams.js';

/**
 * end() on a stream whose peer withholds credit (its reader never reads, so no DATA_ACK comes)
 * used to wait for ever, holding the stream and its unsent bytes: nothing bounded it but
 * node.close(). endTimeout resets such a stream; a slow reader that does return credit is not
 * affected. Only setTimeout/clearTimeout are faked: the memory link delivers in microtasks.
 */
const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
  vi.useRealTimers();
});

const WINDOW = 4096;

async function pair(
  a: NodeOptions,
  link: MemoryPairOptions = {},
  b: NodeOptions = {},
): Promise<{ s: FlexStream; peer: FlexStream; y: MemoryTransport }> {
  const [x, y] = memoryPair(link);
  const na = new Node(x, { domain: 'alice', ip: 1, heartbeatInterval: 0, window: WINDOW, ...a });
  const nb = new Node(y, { domain: 'bob', ip: 2, heartbeatInterval: 0, window: WINDOW, ...b });
  nodes.push(na, nb);
  const accepted = nb.listen(9).accept();
  const s = await na.dial('bob:9');
  return { s, peer: await accepted, y };
}

describe('end() against a peer that withholds credit', () => {
  it('resets the stream after endTimeout, releasing what it held, with a log line', async () => {
    const logger = captureLogger();
    const { s, peer } = await pair({ endTimeout: 100, logger });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const errors: Error[] = [];
    const peerErrors: Error[] = [];
    s.on('error', (e) => errors.push(e));
    peer.on('error', (e) => peerErrors.push(e));
    // The peer never reads: one window goes out, the rest waits for credit that never comes.
    s.write(pattern(4 * WINDOW));
    s.end();
    await vi.advanceTimersByTimeAsync(50);
    expect(s.core.writeBuffered).toBe(3 * WINDOW);
    expect(errors).toEqual([]);
    await vi.advanceTimersByTimeAsync(60);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(TimeoutError);
    expect(s.core.state).toBe('closed');
    expect(s.core.writeBuffered).toBe(0);
    // The peer hears a reset with the idle-timeout code and drops what it buffered.
    expect(peerErrors).toHaveLength(1);
    expect(peerErrors[0]).toBeInstanceOf(StreamResetError);
    expect((peerErrors[0] as StreamResetError).resetCode).toBe(5);
    expect(peer.core.receiveBuffered).toBe(WINDOW);
    expect(logger.find(/^end\(\) got no credit/, { unsent: 3 * WINDOW, ms: 100 })).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  // Node runs _final (which told the core of the end) only once every write's callback came, and
  // a write's callback waits while more than streamHighWaterMark is unsent: end() after a large
  // write to a reader that never reads waited for ever, holding everything written.
  it('also resets a stream whose end() is still behind a write the stream has not taken', async () => {
    const { s, peer } = await pair({ endTimeout: 100, streamHighWaterMark: WINDOW });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const errors: Error[] = [];
    const peerErrors: Error[] = [];
    s.on('error', (e) => errors.push(e));
    peer.on('error', (e) => peerErrors.push(e));
    const written = new Promise<Error | null | undefined>((r) => s.write(pattern(4 * WINDOW), r));
    s.end(pattern(WINDOW));
    await vi.advanceTimersByTimeAsync(50);
    expect(s.writableLength).toBeGreaterThan(0); // the write's callback still waits
    expect(errors).toEqual([]);
    await vi.advanceTimersByTimeAsync(60);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(TimeoutError);
    expect(await written).toBe(errors[0]);
    expect(s.core.state).toBe('closed');
    expect(peerErrors).toHaveLength(1);
    expect((peerErrors[0] as StreamResetError).resetCode).toBe(5);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('leaves a slow reader that returns credit alone, and 0 disables the timer', async () => {
    const { s, peer } = await pair({ endTimeout: 100 });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const data = pattern(8 * WINDOW);
    const got: Buffer[] = [];
    const ended = new Promise<void>((r) => peer.once('end', r));
    const finished = new Promise<void>((r) => s.once('finish', r));
    s.write(data);
    s.end();
    // A window every 90 ms: the whole transfer takes far longer than endTimeout.
    for (let i = 0; i < 10; i++) {
      await vi.advanceTimersByTimeAsync(90);
      for (let c = peer.read(); c !== null; c = peer.read()) got.push(c);
    }
    peer.resume();
    peer.on('data', (c: Buffer) => got.push(c));
    await ended;
    await finished;
    expect(Buffer.concat(got).equals(Buffer.from(data))).toBe(true);
    expect(s.destroyed && s.errored).toBeFalsy();

    const off = await pair({ endTimeout: 0 });
    off.s.on('error', () => {});
    off.s.write(pattern(2 * WINDOW));
    off.s.end();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(off.s.core.state).toBe('open');
    expect(off.s.core.writeBuffered).toBe(WINDOW);
  });

  it('leaves a reader alone that consumes too slowly for credit to reach a batch in endTimeout', async () => {
    // Credit went back per half window, or 100 ms after the last once 64 KiB was owed: a reader
    // that took 10 KiB/s of a 64 KiB window sent none for 3.2 s, and the writer's end() timed out
    // after 1 s though the reader was busy all along. While the peer has used over half its
    // window it may be waiting for that credit: whatever is owed now goes back 100 ms after the
    // last. (The clocks are faked too: the credit rule reads the monotonic one.)
    const window = 64 * 1024;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    const { s, peer } = await pair({ endTimeout: 1000, window }, {}, { window });
    const errors: Error[] = [];
    s.on('error', (e) => errors.push(e));
    peer.on('error', (e) => errors.push(e));
    const data = pattern(2 * window);
    s.write(data);
    s.end();
    const got: Buffer[] = [];
    let ended = false;
    peer.once('end', () => {
      ended = true;
    });
    for (let i = 0; i < 200 && !ended && errors.length === 0; i++) {
      await vi.advanceTimersByTimeAsync(100);
      const c = peer.read(Math.min(1024, peer.readableLength || 1024)) as Buffer | null;
      if (c !== null) got.push(c);
      else peer.read(0); // lets Node emit 'end' once nothing is left
    }
    expect(errors).toEqual([]);
    expect(ended).toBe(true);
    expect(Buffer.concat(got).equals(Buffer.from(data))).toBe(true);
  });

  it('does not reset a stream whose own connection has not sent what it wrote yet', async () => {
    // The link takes nothing (the far end reads no bytes off it): the stream's frames wait in its
    // own connection's queue, so the peer has not seen them and cannot give credit for them. That
    // is a slow or dead connection (the heartbeat's business), not a peer withholding credit.
    const { s, peer, y } = await pair({ endTimeout: 100 }, { highWaterMark: 1024 });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const errors: Error[] = [];
    s.on('error', (e) => errors.push(e));
    y.pauseReading();
    const data = pattern(4 * WINDOW);
    s.write(data);
    s.end();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(errors).toEqual([]);
    expect(s.core.state).toBe('open');
    // The link moves again: the peer gets everything, and returns credit as its reader reads.
    const got: Buffer[] = [];
    const ended = new Promise<void>((r) => peer.once('end', r));
    peer.on('data', (c: Buffer) => got.push(c));
    y.resumeReading();
    await vi.advanceTimersByTimeAsync(10);
    await ended;
    expect(Buffer.concat(got).equals(Buffer.from(data))).toBe(true);
    expect(errors).toEqual([]);
  });

  it('gives the peer a whole endTimeout for credit once the connection has sent the data', async () => {
    // The link is blocked past several endTimeouts, then moves, but the peer never reads: it is
    // reset, though no sooner than endTimeout after the frames left.
    const { s, y } = await pair({ endTimeout: 100 }, { highWaterMark: 1024 });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const errors: Error[] = [];
    s.on('error', (e) => errors.push(e));
    y.pauseReading();
    s.write(pattern(4 * WINDOW));
    s.end();
    await vi.advanceTimersByTimeAsync(350);
    expect(s.core.state).toBe('open');
    y.resumeReading();
    await vi.advanceTimersByTimeAsync(90);
    expect(s.core.writeBuffered).toBe(3 * WINDOW);
    expect(s.core.state).toBe('open');
    await vi.advanceTimersByTimeAsync(300);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(TimeoutError);
  });
});
