import { afterEach, describe, expect, it, vi } from 'vitest';
import { Node as WebNode, type WebStream } from '../../src/browser.js';
import { type FlexStream, Node, type NodeOptions, StreamResetError, TimeoutError } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { pattern } from '../helpers/streams.js';

/**
 * writer.close() on a Web Streams writable (the WebStream face, FlexStream.toWeb()) after a write
 * larger than the high-water mark, to a peer whose reader never reads. The standard calls the
 * sink's close only once that write has settled, and it settles only when the peer takes data:
 * the close waited for ever, although endTimeout bounds end() on the Node face. The end timeout
 * now runs from the close() call. Only setTimeout/clearTimeout are faked: the memory link
 * delivers in microtasks.
 */
const nodes: { destroy(): void }[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
  vi.useRealTimers();
});

const WINDOW = 4096;
const OPTIONS: NodeOptions = {
  heartbeatInterval: 0,
  window: WINDOW,
  endTimeout: 100,
  streamHighWaterMark: WINDOW,
};

/** What webPair and duplexPair need of a node: the two faces' Node classes both have it. */
interface Dialer<S> {
  destroy(): void;
  dial(target: string): Promise<S>;
  listen(port: number): { accept(): Promise<S> };
}

/** Nodes alice and bob, made by `make`, on a memory link: a stream from alice and bob's end of it. */
async function pairOf<S>(
  make: (t: ReturnType<typeof memoryPair>[0], o: NodeOptions) => Dialer<S>,
): Promise<{ s: S; peer: S }> {
  const [x, y] = memoryPair();
  const na = make(x, { domain: 'alice', ip: 1, ...OPTIONS });
  const nb = make(y, { domain: 'bob', ip: 2, ...OPTIONS });
  nodes.push(na, nb);
  const accepted = nb.listen(9).accept();
  const s = await na.dial('bob:9');
  return { s, peer: await accepted };
}

const webPair = (): Promise<{ s: WebStream; peer: WebStream }> => pairOf((t, o) => new WebNode(t, o));
const duplexPair = (): Promise<{ s: FlexStream; peer: FlexStream }> => pairOf((t, o) => new Node(t, o));

const outcome = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => 'resolved',
    (e: unknown) => e,
  );

/** The peer's reader learns of the reset with the idle-timeout code. */
async function expectTimeoutReset(peer: ReadableStream<Uint8Array>): Promise<void> {
  const err = await outcome(peer.getReader().read());
  expect(err).toBeInstanceOf(StreamResetError);
  expect((err as StreamResetError).resetCode).toBe(5);
}

describe('a Web Streams close() behind a write the peer never takes', () => {
  it('WebStream: writer.close() fails with TimeoutError after endTimeout from the call', async () => {
    const { s, peer } = await webPair();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const w = s.writable.getWriter();
    const written = outcome(w.write(pattern(4 * WINDOW)));
    const closed = outcome(w.close());
    let settled = false;
    void closed.then(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(50);
    expect(settled).toBe(false);
    expect(s.core.state).toBe('open');
    await vi.advanceTimersByTimeAsync(60);
    const err = await closed;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(await written).toBe(err);
    expect(s.core.state).toBe('closed');
    await expectTimeoutReset(peer.readable);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("WebStream: the stream's own close(), with no writer holding it, does the same", async () => {
    const { s } = await webPair();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const w = s.writable.getWriter();
    const written = outcome(w.write(pattern(4 * WINDOW)));
    w.releaseLock();
    const closed = outcome(s.writable.close());
    await vi.advanceTimersByTimeAsync(110);
    expect(await closed).toBeInstanceOf(TimeoutError);
    expect(await written).toBeInstanceOf(TimeoutError);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("WebStream: a released writer's close() closes nothing, so it starts no timer", async () => {
    const { s } = await webPair();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const w = s.writable.getWriter();
    void outcome(w.write(pattern(4 * WINDOW)));
    w.releaseLock();
    expect(await outcome(w.close())).toBeInstanceOf(TypeError);
    // Nor does a close() the locked stream refuses.
    const next = s.writable.getWriter();
    expect(await outcome(s.writable.close())).toBeInstanceOf(TypeError);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(s.core.state).toBe('open');
    expect(s.destroyed).toBe(false);
    next.releaseLock();
  });

  it('toWeb(): writer.close() fails with TimeoutError after endTimeout from the call', async () => {
    const { s, peer } = await duplexPair();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const peerErrors: Error[] = [];
    peer.on('error', (e) => peerErrors.push(e));
    const w = s.toWeb().writable.getWriter();
    // Over the view's high-water mark (the stream's, 64 KiB): the view's write waits for 'drain'.
    const written = outcome(w.write(pattern(20 * WINDOW)));
    const closed = outcome(w.close());
    let settled = false;
    void closed.then(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(50);
    expect(settled).toBe(false);
    expect(s.writableEnded).toBe(false); // the view's close has not reached the Duplex
    await vi.advanceTimersByTimeAsync(60);
    const err = await closed;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(await written).toBe(err);
    expect(s.core.state).toBe('closed');
    expect(peerErrors).toHaveLength(1);
    expect((peerErrors[0] as StreamResetError).resetCode).toBe(5);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the writes queued behind the close() still go out before the end, for a reader that reads', async () => {
    const web = await webPair();
    const duplex = await duplexPair();
    const views = duplex.s.toWeb();
    for (const [writable, readable] of [
      [web.s.writable, web.peer.readable],
      [views.writable, duplex.peer.toWeb().readable],
    ] as const) {
      const data = pattern(30 * WINDOW);
      const w = writable.getWriter();
      // The first waits for credit, the others wait in the writable's queue behind it.
      const writes = [w.write(data.subarray(0, 20 * WINDOW)), w.write(data.subarray(20 * WINDOW))];
      const closed = w.close();
      const got: Uint8Array[] = [];
      const reader = readable.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) got.push(r.value);
      await Promise.all([...writes, closed]);
      expect(Buffer.concat(got).equals(Buffer.from(data))).toBe(true);
    }
  });
});
