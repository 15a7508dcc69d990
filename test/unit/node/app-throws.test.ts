import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectionClosedError, type FlexStream, Node, ProtocolError } from '../../../src/index.js';
import { Pinger } from '../../../src/node/pinger.js';
import { Scheduler } from '../../../src/scheduler.js';
import { StreamCore } from '../../../src/stream/core.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { Caps, Cmd } from '../../../src/wire/constants.js';
import { FrameDecoder } from '../../../src/wire/decoder.js';
import { encodeOpen } from '../../../src/wire/open.js';
import { encodeReset } from '../../../src/wire/reset.js';
import { captureLogger } from '../../helpers/faulty-log.js';
import { RawPeer, rawLink } from '../../helpers/raw.js';

// Application code runs synchronously inside the node's frame dispatch: a flowing stream's 'data'
// handler (Node's Readable emits it inside push()), a 'readable' handler at the end. What it
// throws is the application's bug: before, the dispatch caught it as the peer's protocol error
// ("frame handling failed") and closed the connection, every stream with it.

const cleanups: (() => unknown)[] = [];
const rethrown: unknown[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  rethrown.length = 0;
  for (const c of cleanups.splice(0)) await c();
});

/** Microtasks that throw hand their error here instead of to vitest's uncaught-error report. */
function captureRethrows(): void {
  const real = globalThis.queueMicrotask;
  vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((fn) =>
    real(() => {
      try {
        fn();
      } catch (err) {
        rethrown.push(err);
      }
    }),
  );
}

function link() {
  const logger = captureLogger();
  const { node, raw } = rawLink({ heartbeatInterval: 0, logger });
  cleanups.push(() => node.destroy());
  const accepted: FlexStream[] = [];
  node.listen(80).on('stream', (s) => accepted.push(s));
  const open = (port: number, caps?: number) =>
    raw.send(Cmd.OPEN, 1, 80, 2, port, encodeOpen({ domain: 'raw', window: 65536, caps }));
  return { node, raw, logger, accepted, open };
}

const turn = () => new Promise((r) => setImmediate(r));
const bytes = (s: string) => new TextEncoder().encode(s);

describe("an application's throw inside the frame dispatch", () => {
  it("a 'data' handler's throw is rethrown as its own, and no stream but its own notices", async () => {
    captureRethrows();
    const { node, raw, logger, accepted, open } = link();
    open(5000);
    open(5001);
    await vi.waitFor(() => expect(accepted).toHaveLength(2));
    const [a, b] = accepted as [FlexStream, FlexStream];
    const bug = new Error('application bug');
    a.on('data', () => {
      throw bug;
    });
    const gotB: string[] = [];
    b.on('data', (c: Buffer) => gotB.push(c.toString()));
    // Flowing from the next tick on: then a payload's 'data' comes inside the dispatch.
    await turn();
    raw.sendAll([
      { cmd: Cmd.DATA, dstIP: 1, dstPort: 80, srcIP: 2, srcPort: 5000, payload: bytes('to a'), size: 4 },
      { cmd: Cmd.DATA, dstIP: 1, dstPort: 80, srcIP: 2, srcPort: 5001, payload: bytes('to b'), size: 4 },
    ]);
    await vi.waitFor(() => expect(gotB).toEqual(['to b']));
    expect(rethrown).toEqual([bug]);
    expect(node.closed).toBe(false);
    expect(a.destroyed).toBe(false);
    expect(logger.find('protocol error, closing')).toEqual([]);
    // The stream whose handler threw still returns credit for what its reader took.
    a.removeAllListeners('data');
    a.on('data', () => {});
    const data = Array.from({ length: 20 }, () => ({
      cmd: Cmd.DATA,
      dstIP: 1,
      dstPort: 80,
      srcIP: 2,
      srcPort: 5000,
      payload: new Uint8Array(4096),
      size: 4096,
    }));
    raw.sendAll(data);
    await raw.next((f) => f.cmd === Cmd.DATA_ACK && f.dstPort === 5000);
  });

  it("a 'readable' handler's throw at the end is rethrown, and the stream still ends", async () => {
    captureRethrows();
    const { node, raw, logger, accepted, open } = link();
    open(5000, Caps.HALF_CLOSE);
    await vi.waitFor(() => expect(accepted).toHaveLength(1));
    const [a] = accepted as [FlexStream];
    const bug = new Error('readable bug');
    let ended = false;
    a.on('end', () => {
      ended = true;
    });
    a.on('readable', () => {
      while (a.read() !== null);
      throw bug;
    });
    await turn();
    raw.send(Cmd.FIN, 1, 80, 2, 5000);
    await vi.waitFor(() => expect(ended).toBe(true));
    expect(rethrown).toContain(bug);
    expect(node.closed).toBe(false);
    expect(logger.find('protocol error, closing')).toEqual([]);
  });

  it("a bug of ours inside the dispatch is an internal error, not the peer's protocol error", async () => {
    const { node, raw, logger, accepted, open } = link();
    open(5000);
    await vi.waitFor(() => expect(accepted).toHaveLength(1));
    const bug = new TypeError('flexmux bug');
    vi.spyOn(StreamCore.prototype, 'onData').mockImplementation(() => {
      throw bug;
    });
    const closed = new Promise<Error | undefined>((r) => node.once('close', r));
    raw.send(Cmd.DATA, 1, 80, 2, 5000, bytes('data'));
    const err = await closed;
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(err).not.toBeInstanceOf(ProtocolError);
    expect(err?.cause).toBe(bug);
    expect(logger.find('protocol error, closing')).toEqual([]);
    const [line] = logger.find('internal error handling a frame, closing');
    expect(line).toMatchObject({ level: 'error', fields: { err: 'flexmux bug' } });
    expect(line?.fields.stack).toContain('TypeError: flexmux bug');
  });

  it("a bug of ours as a reset is handled is an internal error, not the peer's malformed reset", async () => {
    const { node, raw, logger, accepted, open } = link();
    open(5000, Caps.RESET);
    await vi.waitFor(() => expect(accepted).toHaveLength(1));
    accepted[0]!.on('error', () => {});
    const bug = new TypeError('flexmux bug');
    const onReset = vi.spyOn(StreamCore.prototype, 'onReset').mockImplementationOnce(() => {
      throw bug;
    });
    const closed = new Promise<Error | undefined>((r) => node.once('close', r));
    raw.send(Cmd.RESET, 1, 80, 2, 5000, encodeReset(5, 'bye'));
    // Not swallowed and taken for a malformed reset of the peer's (code 1): the stream reset so.
    await vi.waitFor(() => expect(node.closed || onReset.mock.calls.length > 1).toBe(true));
    expect(onReset.mock.calls).toEqual([[5, 'bye']]);
    const err = await closed;
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(err?.cause).toBe(bug);
    expect(logger.find('internal error handling a frame, closing')).toHaveLength(1);
  });

  it('a bug of ours inside the dispatch of a self-dial is an internal error too', async () => {
    const { node, logger, accepted } = link();
    const s = await node.dial('local:80');
    await vi.waitFor(() => expect(accepted).toHaveLength(1));
    s.on('error', () => {});
    accepted[0]!.on('error', () => {});
    const bug = new TypeError('flexmux bug');
    vi.spyOn(StreamCore.prototype, 'onData').mockImplementation(() => {
      throw bug;
    });
    const closed = new Promise<Error | undefined>((r) => node.once('close', r));
    s.write('data');
    const err = await closed;
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(err?.cause).toBe(bug);
    expect(logger.find('internal error handling a frame, closing')).toHaveLength(1);
  });

  it("a bug of ours as the byte stream ends is an internal error, not the peer's cut frame", async () => {
    const logger = captureLogger();
    const [a, b] = memoryPair();
    const node = new Node(a, { domain: 'alice', ip: 1, heartbeatInterval: 0, logger });
    cleanups.push(() => node.destroy());
    b.attach({ data: () => {}, drain: () => {}, close: () => {} });
    const bug = new TypeError('flexmux bug');
    vi.spyOn(FrameDecoder.prototype, 'end').mockImplementation(() => {
      throw bug;
    });
    const closed = new Promise<Error | undefined>((r) => node.once('close', r));
    b.close();
    const err = await closed;
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(err).not.toBeInstanceOf(ProtocolError);
    expect(err?.cause).toBe(bug);
    expect(node.stats.internalErrors).toBe(1);
    expect(logger.find('protocol error, closing')).toEqual([]);
    const [line] = logger.find('internal error handling a frame, closing');
    expect(line).toMatchObject({ level: 'error', fields: { err: 'flexmux bug' } });
    expect(line?.fields.stack).toContain('TypeError: flexmux bug');
  });

  it('a bug of ours queueing a control frame is an internal error, not a failed connection', async () => {
    const { node, logger } = link();
    const bug = new TypeError('flexmux bug');
    vi.spyOn(Scheduler.prototype, 'pushControlFrame').mockImplementationOnce(() => {
      throw bug;
    });
    const closed = new Promise<Error | undefined>((r) => node.once('close', r));
    const ping = node.ping();
    const err = await closed;
    await expect(ping).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(err?.cause).toBe(bug);
    expect(node.stats.internalErrors).toBe(1);
    const [line] = logger.find('internal error handling a frame, closing');
    expect(line?.fields.stack).toContain('TypeError: flexmux bug');
  });

  it('a bug of ours as the node is torn down: the rest of the teardown runs, and it closes', async () => {
    const logger = captureLogger();
    const [a, b] = memoryPair();
    const node = new Node(a, { domain: 'alice', ip: 1, heartbeatInterval: 0, logger });
    cleanups.push(() => node.destroy());
    const raw = new RawPeer(b);
    const accepted: FlexStream[] = [];
    node.listen(80).on('stream', (s) => accepted.push(s));
    raw.send(Cmd.OPEN, 1, 80, 2, 5000, encodeOpen({ domain: 'raw', window: 65536 }));
    await vi.waitFor(() => expect(accepted).toHaveLength(1));
    const [s] = accepted as [FlexStream];
    const failed = new Promise<Error>((r) => s.once('error', r));
    const dial = node.dial('bob:80');
    const bug = new TypeError('flexmux bug');
    vi.spyOn(Pinger.prototype, 'failAll').mockImplementationOnce(() => {
      throw bug;
    });
    const closed = new Promise<Error | undefined>((r) => node.once('close', r));
    b.close();
    expect(await closed).toBeInstanceOf(ConnectionClosedError);
    // What came after the step that threw: the stream failed, the dial too.
    expect(await failed).toBeInstanceOf(ConnectionClosedError);
    await expect(dial).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(node.stats.internalErrors).toBe(1);
    const [line] = logger.find('internal error closing the node');
    expect(line).toMatchObject({ level: 'error', fields: { err: 'flexmux bug' } });
    expect(line?.fields.stack).toContain('TypeError: flexmux bug');
  });

  it("a malformed frame is still the peer's protocol error", async () => {
    const logger = captureLogger();
    const [a, b] = memoryPair({ framing: 'message' });
    const node = new Node(a, { domain: 'alice', ip: 1, heartbeatInterval: 0, logger });
    cleanups.push(() => node.destroy());
    b.attach({ data: () => {}, drain: () => {}, close: () => {} });
    const closed = new Promise<Error | undefined>((r) => node.once('close', r));
    // A message shorter than a frame header.
    b.send([new Uint8Array(3)]);
    expect(await closed).toBeInstanceOf(ProtocolError);
    expect(logger.find('protocol error, closing')).toHaveLength(1);
  });
});
