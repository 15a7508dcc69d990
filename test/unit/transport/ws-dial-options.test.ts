import * as http from 'node:http';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionClosedError, TimeoutError } from '../../../src/errors.js';
import type { Transport } from '../../../src/transport/types.js';
import { dialWs, listenWs, type WsDialOptions } from '../../../src/transport/ws.js';
import { rejectsWithConfigError } from '../../helpers/rejects.js';
import { Acceptor, attachProbe } from './probe.js';

/**
 * dialWs's options as an app passes them: spread from settings some of which are unset (explicit
 * undefined), and ws's own `handshakeTimeout`, which its types leave out but JavaScript can give.
 */

const HOST = '127.0.0.1';

describe('dialWs options', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  /** A plain TCP server at a ws:// URL: it takes the connection and never answers the upgrade. */
  async function silentServer(): Promise<{ url: string; connected: Promise<void> }> {
    const sockets = new Set<net.Socket>();
    let connected: () => void = () => {};
    const reached = new Promise<void>((resolve) => {
      connected = resolve;
    });
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      connected();
    });
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    );
    return { url: `ws://${HOST}:${(server.address() as net.AddressInfo).port}/flex/ws`, connected: reached };
  }

  it('takes an option given as undefined for its default, for every option passed to ws', async () => {
    const acceptor = new Acceptor<Transport>();
    const listener = await listenWs({ host: HOST, port: 0 }, acceptor.accept);
    cleanup.push(() => listener.close());
    cleanup.push(() => {
      for (const t of acceptor.drainUnclaimed()) t.destroy();
    });
    // Every option of WsDialOptions, and ws's handshakeTimeout, set to undefined.
    const unset: Record<keyof WsDialOptions | 'handshakeTimeout', undefined> = {
      signal: undefined,
      timeout: undefined,
      handshakeTimeout: undefined,
      highWaterMark: undefined,
      lowWaterMark: undefined,
      closeTimeout: undefined,
      maxPayload: undefined,
      headers: undefined,
      origin: undefined,
      protocolVersion: undefined,
      followRedirects: undefined,
      maxRedirects: undefined,
      agent: undefined,
      family: undefined,
      localAddress: undefined,
      createConnection: undefined,
      generateMask: undefined,
      finishRequest: undefined,
      rejectUnauthorized: undefined,
      servername: undefined,
      checkServerIdentity: undefined,
      allowSynchronousEvents: undefined,
      skipUTF8Validation: undefined,
      maxFragments: undefined,
      maxBufferedChunks: undefined,
      ca: undefined,
      cert: undefined,
      sigalgs: undefined,
      ciphers: undefined,
      clientCertEngine: undefined,
      crl: undefined,
      dhparam: undefined,
      ecdhCurve: undefined,
      honorCipherOrder: undefined,
      key: undefined,
      privateKeyEngine: undefined,
      privateKeyIdentifier: undefined,
      maxVersion: undefined,
      minVersion: undefined,
      passphrase: undefined,
      pfx: undefined,
      secureOptions: undefined,
      secureProtocol: undefined,
      sessionIdContext: undefined,
      ticketKeys: undefined,
      sessionTimeout: undefined,
      ALPNCallback: undefined,
      allowPartialTrustChain: undefined,
    };
    // A protocolVersion of undefined was refused (ConfigError: "Unsupported protocol version").
    const a = await dialWs(`ws://${HOST}:${listener.address.port}/flex/ws`, unset);
    const pa = attachProbe(a);
    cleanup.push(async () => {
      a.destroy();
      await pa.closed();
    });
    const b = await acceptor.next();
    const pb = attachProbe(b);
    cleanup.push(async () => {
      b.destroy();
      await pb.closed();
    });
    const got: number[] = [];
    pb.onData = (chunk) => got.push(...chunk);
    a.send([new Uint8Array([1, 2, 3])]);
    await pb.until(() => got.length === 3, 'the bytes sent');
    expect(got).toEqual([1, 2, 3]);
  });

  it('keeps ws’s limit of 10 redirects when maxRedirects is given as undefined', async () => {
    // With maxRedirects: undefined in ws's options, `++redirects > undefined` never held: a server
    // redirecting to itself was followed for as long as the dial's timeout allowed, or for ever.
    let requests = 0;
    const server = http.createServer();
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
      requests += 1;
      socket.end(
        `HTTP/1.1 302 Found\r\nLocation: ${req.url}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
    });
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    cleanup.push(() => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const url = `ws://${HOST}:${(server.address() as net.AddressInfo).port}/flex/ws`;
    const err = (await dialWs(url, { followRedirects: true, maxRedirects: undefined, timeout: 10_000 }).catch(
      (e: unknown) => e,
    )) as Error;
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(err.message).toContain('Maximum redirects exceeded');
    expect(requests).toBe(11);
  });

  it('fails a dial whose upgrade is never answered within a handshakeTimeout given from JavaScript, as a TimeoutError', async () => {
    const silent = await silentServer();
    const started = performance.now();
    // Handed to ws, it failed as a ConnectionClosedError ("Opening handshake has timed out") that
    // named neither the delay nor what was likely wrong.
    const options = { handshakeTimeout: 200 } as WsDialOptions;
    const err = (await dialWs(silent.url, options).catch((e: unknown) => e)) as Error;
    await silent.connected;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.message).toBe(
      `WebSocket dial to ${silent.url} timed out after 200 ms: the connection was made, but nothing answered the WebSocket upgrade; the URL's scheme may not match the port: a switcher's tcp:// or tls:// port takes no ws:// or wss:// URL, and a wss:// port takes no ws:// URL`,
    );
    // Bounded by it, not by some default of ws or Node (there is none: it would wait for ever).
    expect(performance.now() - started).toBeLessThan(15_000);
  });

  it('takes the smaller of timeout and handshakeTimeout', async () => {
    const silent = await silentServer();
    const both = { timeout: 30_000, handshakeTimeout: 150 } as WsDialOptions;
    await expect(dialWs(silent.url, both)).rejects.toThrow(/timed out after 150 ms/);
    const other = { timeout: 150, handshakeTimeout: 30_000 } as WsDialOptions;
    await expect(dialWs(silent.url, other)).rejects.toThrow(/timed out after 150 ms/);
  });

  it('refuses a handshakeTimeout that is not a delay, as it refuses such a timeout', async () => {
    const silent = await silentServer();
    // ws read 0 as none: the dial waited for ever.
    for (const handshakeTimeout of [0, -1, Number.NaN, 2 ** 31]) {
      const err = await rejectsWithConfigError(() =>
        dialWs(silent.url, { handshakeTimeout, timeout: 5_000 } as WsDialOptions),
      );
      expect(err.message).toMatch(/^handshakeTimeout /);
    }
  });
});
