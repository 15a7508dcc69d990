import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortError, ConnectionClosedError } from '../../../src/errors.js';
import {
  connectSocket,
  dialTcp,
  type Listener,
  listenTcp,
  tcpTransport,
} from '../../../src/transport/tcp.js';
import type { Transport } from '../../../src/transport/types.js';
import { captureLogger } from '../../helpers/faulty-log.js';
import { acceptFailure, listenWithServer } from '../../helpers/listen.js';
import { freePort } from '../../helpers/ports.js';
import { rejectsWithConfigError } from '../../helpers/rejects.js';
import { timersArmedBy } from '../../helpers/timers.js';
import { type Harness, transportContract } from './contract.js';
import { Acceptor, attachProbe } from './probe.js';

const HOST = '127.0.0.1';

async function tcpHarness(): Promise<Harness> {
  const acceptor = new Acceptor<Transport>();
  const listener = await listenTcp({ host: HOST, port: 0 }, acceptor.accept);
  return {
    pair: async () => {
      const a = await dialTcp(HOST, listener.address.port);
      return [a, await acceptor.next()];
    },
    dispose: async () => {
      for (const t of acceptor.drainUnclaimed()) t.destroy();
      await listener.close();
    },
  };
}

transportContract('tcp', 'stream', tcpHarness);

describe('tcp dial and listen', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function listen(acceptor: Acceptor<Transport>): Promise<Listener> {
    const listener = await listenTcp({ host: HOST, port: 0 }, acceptor.accept);
    cleanup.push(() => listener.close());
    return listener;
  }

  function track(t: Transport): Transport {
    const p = attachProbe(t);
    cleanup.push(async () => {
      t.destroy();
      await p.closed();
    });
    return t;
  }

  it('reports the bound address and the peer address', async () => {
    const acceptor = new Acceptor<Transport>();
    const listener = await listen(acceptor);
    expect(listener.address.host).toBe(HOST);
    expect(listener.address.port).toBeGreaterThan(0);
    const a = track(await dialTcp(HOST, listener.address.port));
    const b = track(await acceptor.next());
    expect(a.remoteAddress).toBe(`${HOST}:${listener.address.port}`);
    expect(b.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    // A socket write per part costs more than copying short frames: both ends ask for one part.
    expect(a.coalesce).toBe(true);
    expect(b.coalesce).toBe(true);
  });

  it('stops accepting on close but leaves accepted transports working', async () => {
    const acceptor = new Acceptor<Transport>();
    const listener = await listen(acceptor);
    const a = await dialTcp(HOST, listener.address.port);
    const b = await acceptor.next();
    const pa = attachProbe(a);
    const pb = attachProbe(b);
    await listener.close();
    await expect(dialTcp(HOST, listener.address.port)).rejects.toBeInstanceOf(ConnectionClosedError);
    a.send([new Uint8Array(10)]);
    await pb.until(() => pb.bytes === 10, 'data after listener close');
    a.close();
    await Promise.all([pa.closed(), pb.closed()]);
  });

  // Found by the transport hunt: startListener swallowed every error the server reported after
  // listening (a failed accept: ENOBUFS, ENOMEM, or EMFILE once libuv lost its spare descriptor)
  // with an empty listener, so an operator whose switcher turned connections away saw nothing.
  it('logs an error the server reports after listening (a failed accept) and keeps serving', async () => {
    const log = captureLogger();
    const acceptor = new Acceptor<Transport>();
    const { listener, server } = await listenWithServer(() =>
      listenTcp({ host: HOST, port: 0, logger: log }, acceptor.accept),
    );
    cleanup.push(() => listener.close());
    server.emit('error', acceptFailure());
    expect(log.find('listener error (still listening)')).toEqual([
      {
        level: 'warn',
        msg: 'listener error (still listening)',
        fields: { address: `${HOST}:${listener.address.port}`, code: 'ENOBUFS', err: 'accept ENOBUFS' },
      },
    ]);
    track(await dialTcp(HOST, listener.address.port));
    track(await acceptor.next());
  });

  it('rejects a refused dial with ConnectionClosedError carrying the cause', async () => {
    const port = await freePort();
    const err = await dialTcp(HOST, port).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect((err as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
  });

  // The manual's direct link wraps `net.connect(...)` at once, before it has connected: its peer
  // address was then "unknown" for good, in logs and in the error of a connection that failed.
  it('names the peer of a socket wrapped while it was still connecting', async () => {
    const acceptor = new Acceptor<Transport>();
    const listener = await listen(acceptor);
    const socket = net.connect(listener.address.port, HOST);
    const t = track(tcpTransport(socket));
    track(await acceptor.next());
    await new Promise((resolve) => (socket.connecting ? socket.once('connect', resolve) : resolve(null)));
    expect(t.remoteAddress).toBe(`${HOST}:${listener.address.port}`);

    const port = await freePort();
    const refused = tcpTransport(net.connect(port, HOST));
    const p = attachProbe(refused);
    await p.closed();
    const err = p.closes[0];
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect((err as Error).message).toBe(
      `connection to ${HOST}:${port} failed: connect ECONNREFUSED ${HOST}:${port}`,
    );
    expect(refused.remoteAddress).toBe(`${HOST}:${port}`);
  });

  // A name with several addresses (localhost as ::1 and 127.0.0.1) is connected to by Node's happy
  // eyeballs: all refused, it reports an AggregateError with no address and an empty message, and
  // the wrapped socket failed with "connection to unknown failed: ", naming nothing.
  it('names the peer and every refusal of a socket that tried several addresses', async () => {
    const port = await freePort();
    const socket = net.connect({ host: 'twohost', port, autoSelectFamily: true, lookup: twoAddresses });
    const refused = tcpTransport(socket);
    const p = attachProbe(refused);
    await p.closed();
    const err = p.closes[0];
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect((err as Error).message).toBe(
      `connection to ${HOST}:${port} failed: connect ECONNREFUSED ${HOST}:${port}; connect ECONNREFUSED 127.0.0.2:${port}`,
    );
    expect((err as Error).cause).toBeInstanceOf(AggregateError);
    expect(refused.remoteAddress).toBe(`${HOST}:${port}`);
  });

  // Its dial failed the same way: "TCP dial to localhost:9 failed: ", and the CLI printed that.
  it('rejects a dial refused on every address of its name with each refusal', async () => {
    const port = await freePort();
    const dial = connectSocket(
      `TCP dial to twohost:${port}`,
      {},
      () => net.connect({ host: 'twohost', port, autoSelectFamily: true, lookup: twoAddresses }),
      'connect',
      {},
    );
    const err = await dial.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect((err as Error).message).toBe(
      `TCP dial to twohost:${port} failed: connect ECONNREFUSED ${HOST}:${port}; connect ECONNREFUSED 127.0.0.2:${port}`,
    );
    expect((err as Error).cause).toBeInstanceOf(AggregateError);
  });

  it('rejects with AbortError when the signal is already aborted or aborts while connecting', async () => {
    const port = await freePort();
    const reason = new Error('stop');
    await expect(dialTcp(HOST, port, { signal: AbortSignal.abort(reason) })).rejects.toBeInstanceOf(
      AbortError,
    );
    const ac = new AbortController();
    const dial = dialTcp(HOST, port, { signal: ac.signal });
    ac.abort(reason);
    const err = await dial.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as Error).cause).toBe(reason);
  });

  // A throw from the call itself escaped code that handled failures with .catch() alone.
  it('rejects with ConfigError for bad arguments, without throwing from the call', async () => {
    await rejectsWithConfigError(() => dialTcp(HOST, 70_000));
    await rejectsWithConfigError(() => dialTcp(HOST, 1, { timeout: -5 }));
    await rejectsWithConfigError(() => listenTcp({ host: HOST, port: -1 }, () => {}));
    await rejectsWithConfigError(() => listenTcp({ host: HOST, port: 0, closeTimeout: -1 }, () => {}));
  });

  it('rejects listening on a port in use', async () => {
    const acceptor = new Acceptor<Transport>();
    const listener = await listen(acceptor);
    await expect(listenTcp({ host: HOST, port: listener.address.port }, () => {})).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
  });

  it('reports a close that timed out with bytes unsent as a failure, not a clean end', async () => {
    const acceptor = new Acceptor<Transport>();
    const listener = await listen(acceptor);
    const a = await dialTcp(HOST, listener.address.port, { closeTimeout: 200 });
    const b = await acceptor.next();
    const pa = attachProbe(a);
    const pb = attachProbe(b);
    cleanup.push(async () => {
      b.destroy();
      await pb.closed();
    });
    b.pauseReading(); // a reader that never takes what is sent
    const chunk = new Uint8Array(64 * 1024);
    while (a.send([chunk])) {}
    a.close();
    await pa.closed();
    // What send() accepted never left: the end must not look like a completed close.
    expect(pa.closes[0]).toBeInstanceOf(ConnectionClosedError);
    expect(pa.closes[0]!.message).toMatch(/unsent/);
    expect(pa.closes).toHaveLength(1);
  });

  it('reports a send released once the socket has written it, in order, not while it holds it', async () => {
    const acceptor = new Acceptor<Transport>();
    const listener = await listen(acceptor);
    const a = track(await dialTcp(HOST, listener.address.port));
    const b = track(await acceptor.next());
    expect(a.releasesLater).toBe(true);
    b.pauseReading(); // the kernel's buffers fill: the socket keeps what it was given
    const chunk = new Uint8Array(64 * 1024);
    const released: number[] = [];
    let sends = 0;
    for (;;) {
      const n = sends++;
      if (!a.send([new Uint8Array(11), chunk], () => released.push(n))) break;
    }
    // Never from inside send; the last sends wait in the socket's own queue.
    await new Promise((r) => setImmediate(r));
    expect(released.length).toBeLessThan(sends);
    expect(a.bufferedAmount).toBeGreaterThan(0);
    b.resumeReading();
    await expect.poll(() => released.length, { timeout: 5_000 }).toBe(sends);
    expect(released).toEqual([...released].sort((x, y) => x - y));
  });

  it('arms no timer when close() comes after the connection already ended', async () => {
    const server = net.createServer((s) => s.once('data', () => s.resetAndDestroy()));
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const a = await dialTcp(HOST, (server.address() as net.AddressInfo).port);
    const pa = attachProbe(a);
    a.send([new Uint8Array(1)]);
    await pa.closed();
    // A grace timer here would outlive the connection by closeTimeout, holding the transport.
    expect(timersArmedBy(() => a.close())).toBe(0);
    expect(pa.closes).toHaveLength(1);
  });

  it('reports a peer reset as ConnectionClosedError', async () => {
    const server = net.createServer((s) => s.once('data', () => s.resetAndDestroy()));
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as net.AddressInfo).port;
    const a = await dialTcp(HOST, port);
    const pa = attachProbe(a);
    a.send([new Uint8Array(1)]);
    await pa.closed();
    expect(pa.closes[0]).toBeInstanceOf(ConnectionClosedError);
  });
});

/** A port nothing listens on: bind one, then let it go. */
/** Resolves any name to 127.0.0.1 and 127.0.0.2, which Node then tries in turn (autoSelectFamily). */
const twoAddresses: net.LookupFunction = (_host, options, cb) => {
  const all = [
    { address: HOST, family: 4 },
    { address: '127.0.0.2', family: 4 },
  ];
  if ((options as { all?: boolean }).all) (cb as (e: null, a: typeof all) => void)(null, all);
  else cb(null, HOST, 4);
};
