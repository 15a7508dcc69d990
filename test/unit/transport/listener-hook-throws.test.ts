import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { listenTcp } from '../../../src/transport/tcp.js';
import { listenTls } from '../../../src/transport/tls.js';
import type { Transport } from '../../../src/transport/types.js';
import { listenWs, wsUpgradeHandler } from '../../../src/transport/ws.js';
import { captureLogger } from '../../helpers/faulty-log.js';
import { trapUncaught } from '../../helpers/faulty-process.js';
import { cert, key } from './tls-fixture.js';

/**
 * The listeners call the application's `onTransport` (and wsUpgradeHandler its `onRefusal`) from
 * a server's event handlers. A hook that threw there was an uncaught exception, which ended the
 * process (a switcher's), and left the connection it was given open. Now the throw is logged at
 * error with its stack, that connection is closed and the listener takes the next one.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** What escaped to the process while the test ran; released after it. */
function trap(): { readonly caught: unknown[] } {
  const t = trapUncaught();
  cleanups.push(() => t.release());
  return t;
}

/**
 * An onTransport that throws for the first connection (`thrown` settles as it does) and hands
 * every later one to `taken`.
 */
function throwingOnce(): {
  onTransport: (t: Transport) => void;
  thrown: Promise<void>;
  taken: Promise<Transport>;
} {
  let calls = 0;
  let threw!: () => void;
  let take!: (t: Transport) => void;
  const thrown = new Promise<void>((resolve) => {
    threw = resolve;
  });
  const taken = new Promise<Transport>((resolve) => {
    take = resolve;
  });
  const onTransport = (t: Transport): void => {
    calls++;
    if (calls === 1) {
      threw();
      throw new Error('application bug in onTransport');
    }
    cleanups.push(() => t.destroy());
    take(t);
  };
  return { onTransport, thrown, taken };
}

/** Resolves once `emitter` closes. */
function closed(emitter: { once(e: 'close', f: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => emitter.once('close', () => resolve()));
}

function tcpClient(port: number): net.Socket {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => {});
  cleanups.push(() => sock.destroy());
  return sock;
}

function tlsClient(port: number): tls.TLSSocket {
  const sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  sock.on('error', () => {});
  cleanups.push(() => sock.destroy());
  return sock;
}

function wsClient(url: string): WebSocket {
  const ws = new WebSocket(url);
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  return ws;
}

/** The error line the listener wrote for the throw, with its stack. */
function expectLogged(logger: ReturnType<typeof captureLogger>, msg: RegExp, text: string): void {
  const lines = logger.find(msg);
  expect(lines).toHaveLength(1);
  expect(lines[0]?.level).toBe('error');
  expect(lines[0]?.fields.err).toBe(text);
  expect(String(lines[0]?.fields.stack)).toContain(`Error: ${text}`);
}

/** An http server on 127.0.0.1 with `handle` on its upgrades; resolves with its port. */
async function upgradeServer(
  handle: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => boolean,
): Promise<number> {
  const srv = http.createServer();
  srv.on('upgrade', (req, socket, head) => {
    if (!handle(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    srv.closeAllConnections();
    return new Promise((resolve) => srv.close(resolve));
  });
  return (srv.address() as AddressInfo).port;
}

describe('an application hook that throws', () => {
  it('listenTcp: logged with its stack, that connection closed, the next one taken', async () => {
    const escaped = trap();
    const logger = captureLogger();
    const hook = throwingOnce();
    const l = await listenTcp({ host: '127.0.0.1', port: 0, logger }, hook.onTransport);
    cleanups.push(() => l.close());
    const first = tcpClient(l.address.port);
    await hook.thrown;
    // Escaped (with no fix) as the hook threw, not later: checked before waiting for the close.
    expect(escaped.caught).toEqual([]);
    await closed(first);
    tcpClient(l.address.port);
    await hook.taken;
    expect(escaped.caught).toEqual([]);
    expectLogged(logger, /^onTransport threw/, 'application bug in onTransport');
  });

  it('listenTcp: an async onTransport that rejects is the same', async () => {
    const escaped = trap();
    const logger = captureLogger();
    let rejected!: () => void;
    const rejecting = new Promise<void>((resolve) => {
      rejected = resolve;
    });
    const onTransport = async (): Promise<void> => {
      await Promise.resolve();
      rejected();
      throw new Error('async application bug');
    };
    const l = await listenTcp({ host: '127.0.0.1', port: 0, logger }, onTransport);
    cleanups.push(() => l.close());
    // With no fix the rejection escapes, after the hook returned, and the socket stays open: the
    // test ends at whichever comes first.
    const escapes = new Promise<void>((resolve) => {
      const on = (): void => resolve();
      process.once('unhandledRejection', on);
      cleanups.push(() => process.off('unhandledRejection', on));
    });
    const sock = tcpClient(l.address.port);
    await rejecting;
    await Promise.race([escapes, closed(sock)]);
    expect(escaped.caught).toEqual([]);
    expectLogged(logger, /^onTransport threw/, 'async application bug');
  });

  it('listenTls: logged with its stack, that connection closed, the next one taken', async () => {
    const escaped = trap();
    const logger = captureLogger();
    const hook = throwingOnce();
    const l = await listenTls({ host: '127.0.0.1', port: 0, key, cert, logger }, hook.onTransport);
    cleanups.push(() => l.close());
    const first = tlsClient(l.address.port);
    await hook.thrown;
    // Escaped (with no fix) as the hook threw, not later: checked before waiting for the close.
    expect(escaped.caught).toEqual([]);
    await closed(first);
    tlsClient(l.address.port);
    await hook.taken;
    expect(escaped.caught).toEqual([]);
    expectLogged(logger, /^onTransport threw/, 'application bug in onTransport');
  });

  it('listenWs: logged with its stack, that connection closed, the next one taken', async () => {
    const escaped = trap();
    const logger = captureLogger();
    const hook = throwingOnce();
    const l = await listenWs({ host: '127.0.0.1', port: 0, logger }, hook.onTransport);
    cleanups.push(() => l.close());
    const url = `ws://127.0.0.1:${l.address.port}/flex/ws`;
    const first = wsClient(url);
    await hook.thrown;
    // Escaped (with no fix) as the hook threw, not later: checked before waiting for the close.
    expect(escaped.caught).toEqual([]);
    await closed(first);
    wsClient(url);
    await hook.taken;
    expect(escaped.caught).toEqual([]);
    expectLogged(logger, /^onTransport threw/, 'application bug in onTransport');
  });

  it("wsUpgradeHandler: onTransport's throw logged through its logger, that connection closed, the next one taken", async () => {
    const escaped = trap();
    const logger = captureLogger();
    const hook = throwingOnce();
    const port = await upgradeServer(wsUpgradeHandler({ logger }, hook.onTransport));
    const url = `ws://127.0.0.1:${port}/flex/ws`;
    const first = wsClient(url);
    await hook.thrown;
    // Escaped (with no fix) as the hook threw, not later: checked before waiting for the close.
    expect(escaped.caught).toEqual([]);
    await closed(first);
    wsClient(url);
    await hook.taken;
    expect(escaped.caught).toEqual([]);
    expectLogged(logger, /^onTransport threw/, 'application bug in onTransport');
  });

  it("wsUpgradeHandler: onRefusal's throw logged and ignored, the server goes on", async () => {
    const escaped = trap();
    const logger = captureLogger();
    let told!: () => void;
    const refusalTold = new Promise<void>((resolve) => {
      told = resolve;
    });
    const onRefusal = (): void => {
      told();
      throw new Error('application bug in onRefusal');
    };
    let take!: (t: Transport) => void;
    const taken = new Promise<Transport>((resolve) => {
      take = resolve;
    });
    const onTransport = (t: Transport): void => {
      cleanups.push(() => t.destroy());
      take(t);
    };
    const port = await upgradeServer(wsUpgradeHandler({ logger, onRefusal }, onTransport));
    // No Sec-WebSocket-Key: ws answers 400 and closes; onRefusal is told then.
    const bad = tcpClient(port);
    bad.write(
      'GET /flex/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await refusalTold;
    expect(escaped.caught).toEqual([]);
    expectLogged(logger, /^onRefusal threw/, 'application bug in onRefusal');
    wsClient(`ws://127.0.0.1:${port}/flex/ws`);
    await taken;
    expect(escaped.caught).toEqual([]);
  });
});
