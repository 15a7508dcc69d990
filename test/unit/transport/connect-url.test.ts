import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, connector } from '../../../src/connect.js';
import { ConfigError } from '../../../src/errors.js';
import type { Listener } from '../../../src/transport/tcp.js';
import { listenTls } from '../../../src/transport/tls.js';
import type { Transport } from '../../../src/transport/types.js';
import { listenWs } from '../../../src/transport/ws.js';
import { withoutPassword } from '../../../src/util/url.js';
import { Acceptor, attachProbe } from './probe.js';
import { cert, key } from './tls-fixture.js';

const HOST = '127.0.0.1';

/** How connect() reaches a switcher for each URL scheme (src/connect.ts). */
describe('connector', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  /** Both ends of a connection made by `open`, closed after the test. */
  async function pair(acceptor: Acceptor<Transport>, open: Promise<Transport>): Promise<void> {
    const [a, b] = [await open, await acceptor.next()];
    const [pa, pb] = [attachProbe(a), attachProbe(b)];
    cleanup.push(async () => {
      a.destroy();
      await Promise.all([pa.closed(), pb.closed()]);
    });
  }

  // Found by the transport audit: ConnectOptions.tls is documented as the TLS options of tls://
  // and wss://, but for wss:// only ca, cert, key and rejectUnauthorized were passed on, so
  // servername (and pfx, passphrase, checkServerIdentity, minVersion...) were silently dropped.
  for (const scheme of ['tls', 'wss'] as const) {
    it(`${scheme}:// passes the TLS options on (servername is sent as SNI)`, async () => {
      const names: string[] = [];
      const context = tls.createSecureContext({ key, cert });
      const SNICallback = (name: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => {
        names.push(name);
        cb(null, context);
      };
      const acceptor = new Acceptor<Transport>();
      const o = { host: HOST, port: 0, key, cert, SNICallback };
      const listener: Listener =
        scheme === 'tls' ? await listenTls(o, acceptor.accept) : await listenWs(o, acceptor.accept);
      cleanup.push(() => listener.close());
      const url = `${scheme}://${HOST}:${listener.address.port}${scheme === 'wss' ? '/flex/ws' : ''}`;
      const open = connector(url, {
        password: 'p',
        domain: 'd',
        tls: { ca: cert, servername: 'localhost' },
      });
      await pair(acceptor, open(new AbortController().signal));
      expect(names).toEqual(['localhost']);
    });
  }

  /**
   * A server that completes the WebSocket handshake by hand and resolves with the masking key of
   * the first frame the client sends (RFC 6455 5.2): ws's own server unmasks before anyone sees it.
   */
  async function maskProbe(): Promise<{ url: string; key: Promise<number[]> }> {
    const sockets: Duplex[] = [];
    let found: (key: number[]) => void = () => {};
    const key = new Promise<number[]>((resolve) => (found = resolve));
    const server = http.createServer();
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
      sockets.push(socket);
      const accept = createHash('sha1')
        .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
        .digest('base64');
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      let got = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        if (got.length < 2) return;
        // Masked client frame: the key follows the 7-bit length and its 2- or 8-byte extension.
        const len7 = got[1]! & 0x7f;
        const at = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0);
        if ((got[1]! & 0x80) === 0 || got.length < at + 4) return;
        found([...got.subarray(at, at + 4)]);
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    cleanup.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return { url: `ws://${HOST}:${(server.address() as AddressInfo).port}/flex/ws`, key };
  }

  for (const [zero, what] of [
    [true, 'an all-zero masking key'],
    [false, 'a random masking key'],
  ] as const) {
    it(`ws:// with wsZeroMask ${zero} sends frames with ${what}`, async () => {
      const probe = await maskProbe();
      const open = connector(probe.url, { password: 'p', domain: 'd', wsZeroMask: zero });
      const t = await open(new AbortController().signal);
      attachProbe(t);
      cleanup.push(() => t.destroy());
      t.send([new Uint8Array(11).fill(7)]);
      const key = await probe.key;
      // A random key is all zeros once in 2^32 frames.
      if (zero) expect(key).toEqual([0, 0, 0, 0]);
      else expect(key).not.toEqual([0, 0, 0, 0]);
    });
  }

  it('refuses a wsZeroMask that is not a boolean', () => {
    expect(() =>
      connector('ws://127.0.0.1:1/', { password: 'p', domain: 'd', wsZeroMask: 1 as never }),
    ).toThrow(/wsZeroMask must be a boolean/);
  });

  // wsZeroMask: true on tcp:// or tls:// was taken and ignored: nothing is masked there, and the
  // caller believed it bought faster uploads. connect() refuses it before any session exists.
  it.for([
    ['tcp', true, /option wsZeroMask is for ws:\/\/ and wss:\/\/ only, not tcp:\/\//],
    ['tls', true, /option wsZeroMask is for ws:\/\/ and wss:\/\/ only, not tls:\/\//],
    ['ws', true, null],
    ['wss', true, null],
    ['tcp', false, null],
    ['tls', false, null],
    ['ws', false, null],
    ['wss', false, null],
  ] as const)('%s:// with wsZeroMask %s: %s', ([scheme, zero, refused]) => {
    const url = `${scheme}://127.0.0.1:1/`;
    const o = { password: 'p', domain: 'd', wsZeroMask: zero };
    if (refused === null) {
      expect(() => connector(url, o)).not.toThrow();
      return;
    }
    let err: unknown;
    try {
      connect(url, o);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(refused);
  });

  // Found by a new-user walkthrough: `tls` options (a `ca`, `rejectUnauthorized`) given with a
  // tcp:// or ws:// URL were ignored without a word, so the connection was plain text while its
  // opener believed it was TLS; `headers` with tcp:// or tls:// went nowhere. connect() refuses
  // both before any session exists, naming the fix.
  it.for([
    [
      'tcp',
      'tls',
      /option tls is for tls:\/\/ and wss:\/\/ URLs only: a tcp:\/\/ connection is not encrypted.*use a tls:\/\/ URL/,
    ],
    [
      'ws',
      'tls',
      /option tls is for tls:\/\/ and wss:\/\/ URLs only: a ws:\/\/ connection is not encrypted.*use a wss:\/\/ URL/,
    ],
    ['tls', 'tls', null],
    ['wss', 'tls', null],
    [
      'tcp',
      'headers',
      /option headers is for ws:\/\/ and wss:\/\/ URLs only: .*a tcp:\/\/ connection makes no HTTP request/,
    ],
    [
      'tls',
      'headers',
      /option headers is for ws:\/\/ and wss:\/\/ URLs only: .*a tls:\/\/ connection makes no HTTP request/,
    ],
    ['ws', 'headers', null],
    ['wss', 'headers', null],
  ] as const)('%s:// with option %s: %s', ([scheme, option, refused]) => {
    const url = `${scheme}://127.0.0.1:1/`;
    const extra =
      option === 'tls'
        ? { tls: { rejectUnauthorized: true, ca: cert } }
        : { headers: { authorization: 'x' } };
    const o = { password: 'p', domain: 'd', ...extra };
    if (refused === null) {
      expect(() => connector(url, o)).not.toThrow();
      return;
    }
    let err: unknown;
    try {
      connect(url, o);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(refused);
    // Even an empty object says its caller expects TLS (or headers) there.
    expect(() => connector(url, { password: 'p', domain: 'd', [option]: {} })).toThrow(ConfigError);
  });

  it('takes tls and headers left undefined with every scheme', () => {
    for (const scheme of ['tcp', 'tls', 'ws', 'wss']) {
      expect(() =>
        connector(`${scheme}://127.0.0.1:1/`, {
          password: 'p',
          domain: 'd',
          tls: undefined,
          headers: undefined,
        }),
      ).not.toThrow();
    }
  });

  // A timer delay of 2^31 ms or more runs after 1 ms: every dial timed out at once and the
  // session retried for ever (the browser connect() refuses it since 6d034d2).
  it('refuses a connectTimeout beyond a timer’s range', () => {
    for (const scheme of ['tcp', 'tls', 'ws']) {
      expect(() =>
        connector(`${scheme}://127.0.0.1:1/`, { password: 'p', domain: 'd', connectTimeout: 2 ** 31 }),
      ).toThrow(/option connectTimeout /);
    }
  });
});

describe('a switcher URL without a scheme', () => {
  it('is refused with the forms that work, not only "invalid"', () => {
    // Before: 'invalid switcher URL "127.0.0.1:7000"', with no hint that tcp:// was missing.
    expect(() => connect('127.0.0.1:7000', { password: 'x', domain: 'u' })).toThrow(
      new ConfigError(
        'invalid switcher URL "127.0.0.1:7000": expected tcp://HOST:PORT, tls://HOST:PORT, ws://HOST:PORT/PATH or wss://HOST:PORT/PATH',
      ),
    );
  });
});

describe('a malformed switcher URL with a password', () => {
  it('is quoted with the password masked', () => {
    // Not a URL (the port is out of range), so the mask cannot come from parsing it.
    const url = 'ws://alice:s3cret@127.0.0.1:99999/flex/ws';
    let message = '';
    try {
      connect(url, { password: 'x', domain: 'u' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('invalid switcher URL "ws://alice:***@127.0.0.1:99999/flex/ws"');
    expect(message).not.toContain('s3cret');
  });

  it('is masked whatever follows the userinfo, and text without one is left alone', () => {
    expect(withoutPassword('tcp://bob:p@ss:word@[bad')).toBe('tcp://bob:***@[bad');
    expect(withoutPassword('tcp://bob@[bad')).toBe('tcp://bob@[bad');
    expect(withoutPassword('not a url: x:y@z')).toBe('not a url: x:y@z');
  });
});
