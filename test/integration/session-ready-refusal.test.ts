import { createServer } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connect } from '../../src/connect.js';
import {
  AdmissionError,
  ConfigError,
  ConnectionClosedError,
  type ConnectOptions,
  type FlexStream,
  type NodeSession,
  ProtocolError,
  type Session,
  type SessionOptions,
  TimeoutError,
} from '../../src/index.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { listenTcp, listenTls, listenWs } from '../../src/switcher-node.js';
import { certA } from '../helpers/certs.js';
import { memorySessionTo } from '../helpers/sessions.js';

/**
 * `await session.ready()` against a switcher that refuses the node: a refusal that waiting will
 * not mend (a wrong password) rejects it, one that may mend (a domain held by a live node) does
 * not, and the session retries in either case. Before, a first program with a wrong password
 * waited for ever without a word (the default logger is silent).
 */

const PASSWORD = 'ready-refusal';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** No rate limit on failed admissions: these tests fail some on purpose, from one "host". */
function switcher(): Switcher {
  const sw = new Switcher({ password: PASSWORD, failedAdmissionBurst: 0 });
  cleanups.push(() => sw.close({ timeout: 1_000 }));
  return sw;
}

/** A session whose connections are in-memory pairs handed to `sw`. */
function memorySession(
  sw: Switcher,
  domain: string,
  extra: Partial<SessionOptions> = {},
): Session<FlexStream> {
  const s = memorySessionTo(sw, {
    password: PASSWORD,
    domain,
    backoffInitial: 20,
    backoffMax: 100,
    heartbeatInterval: 0,
    ...extra,
  });
  cleanups.push(() => s.close());
  return s;
}

/** A session made by connect() for `url`, with PASSWORD unless `extra` says otherwise. */
function urlSession(url: string, domain: string, extra: Partial<ConnectOptions> = {}): NodeSession {
  const s = connect(url, { password: PASSWORD, domain, backoffInitial: 20, backoffMax: 100, ...extra });
  cleanups.push(() => s.close());
  return s;
}

/** Resolves with the failures of the session's next `n` attempts. */
function refusals(s: Session<FlexStream>, n: number): Promise<Error[]> {
  return new Promise((resolve) => {
    const seen: Error[] = [];
    const on = (err: Error): void => {
      seen.push(err);
      if (seen.length < n) return;
      s.off('disconnect', on);
      resolve(seen);
    };
    s.on('disconnect', on);
  });
}

/** What a ready() came to: 'admitted', or its error. */
const outcome = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => 'admitted',
    (e: unknown) => e,
  );

/** `p`'s outcome if it settles before the session's next `n` attempts all fail, else 'waiting'. */
const beforeRefusals = (p: Promise<unknown>, s: Session<FlexStream>, n: number): Promise<unknown> =>
  Promise.race([p, refusals(s, n).then(() => 'waiting')]);

describe('ready() and a refused admission', () => {
  it('rejects at the first refusal of a wrong password (the README’s sample, over TCP); the session retries and is admitted once the switcher takes it', async () => {
    const sw = switcher();
    const listener = await listenTcp(sw, { host: '127.0.0.1', port: 0 });
    cleanups.push(() => listener.close());
    const s = urlSession(`tcp://127.0.0.1:${listener.address.port}`, 'bob', { password: 'wrong' });
    // Before: still waiting after two refused attempts, and for ever after them.
    const err = await beforeRefusals(outcome(s.ready()), s, 2);
    expect(err).toBeInstanceOf(AdmissionError);
    expect((err as AdmissionError).reason).toBe('decrypt');
    // Only the wait gave up: the session retries.
    expect(s.state).not.toBe('closed');
    // An operator makes the switcher take that password: the session's next attempt gets in on
    // its own (a ready() made now could still meet the refusal of an attempt already on its way).
    const admitted = new Promise((resolve) => s.once('ready', resolve));
    sw.setPassword('wrong');
    await admitted;
    expect(await outcome(s.ready())).toBe('admitted');
    expect(sw.clients().map((c) => c.domain)).toEqual(['bob']);
  });

  it('rejects a ready() with a timeout with the refusal, not a TimeoutError later, and clears its timer', async () => {
    const sw = switcher();
    const s = memorySession(sw, 'timed', { password: 'wrong' });
    const err = await beforeRefusals(outcome(s.ready({ timeout: 60_000 })), s, 2);
    expect(err).toBeInstanceOf(AdmissionError);
    expect(err).not.toBeInstanceOf(TimeoutError);
  });

  it('keeps waiting on a domain held by a live node, and resolves once that node leaves', async () => {
    const sw = switcher();
    const holder = memorySession(sw, 'bob');
    await holder.ready({ timeout: 5_000 });
    const newcomer = memorySession(sw, 'bob');
    const waiting = outcome(newcomer.ready());
    const seen = refusals(newcomer, 2);
    expect(await beforeRefusals(waiting, newcomer, 2)).toBe('waiting');
    // Refused because the holder answered its liveness ping: the domain may free up.
    for (const e of await seen) expect(e).toMatchObject({ reason: 'registration' });
    await holder.close();
    expect(await waiting).toBe('admitted');
    expect(newcomer.state).toBe('ready');
  });

  it('with untilAdmitted, waits through a wrong password until the switcher takes it', async () => {
    const sw = switcher();
    const s = memorySession(sw, 'patient', { password: 'wrong' });
    const patient = outcome(s.ready({ untilAdmitted: true }));
    // In the same session a plain ready() gives up (before: neither did).
    expect(await beforeRefusals(outcome(s.ready()), s, 2)).toBeInstanceOf(AdmissionError);
    expect(await beforeRefusals(patient, s, 2)).toBe('waiting');
    sw.setPassword('wrong');
    expect(await patient).toBe('admitted');
  });

  it('rejects when the port of the URL answers in HTTP (a WebSocket port given as tcp://)', async () => {
    const http = createServer((_req, res) => res.end('not flex\n'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => http.close(resolve)));
    http.on('connection', (sock) => cleanups.push(() => sock.destroy()));
    const port = (http.address() as AddressInfo).port;
    const s = urlSession(`tcp://127.0.0.1:${port}`, 'lost');
    const err = await beforeRefusals(outcome(s.ready()), s, 2);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(/answered in HTTP/);
    expect(s.state).not.toBe('closed');
  });

  it('rejects when the certificate of the switcher is not trusted', async () => {
    const sw = switcher();
    const listener = await listenTls(sw, { host: '127.0.0.1', port: 0, cert: certA.cert, key: certA.key });
    cleanups.push(() => listener.close());
    // No `ca`: the test certificate is self-signed, so the handshake fails on every attempt.
    const s = urlSession(`tls://127.0.0.1:${listener.address.port}`, 'wary');
    const err = await beforeRefusals(outcome(s.ready()), s, 2);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBe('waiting');
    expect(s.state).not.toBe('closed');
  });

  it('keeps waiting on a switcher that closes right behind the request (a Go switcher refusing a wrong password over TCP), and a timeout names the likely cause', async () => {
    // What a Go switcher on raw TCP mostly does with a wrong password: reads the request, closes
    // before its refusal leaves. Its refusal of a domain held by a live node looks the same, and
    // may mend: not taken for a refusal that will not (docs/manual.md section 6).
    const go = createTcpServer((sock) => {
      sock.on('error', () => {});
      sock.once('data', () => sock.destroy());
    });
    await new Promise<void>((resolve) => go.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => go.close(resolve)));
    go.on('connection', (sock) => cleanups.push(() => sock.destroy()));
    const s = urlSession(`tcp://127.0.0.1:${(go.address() as AddressInfo).port}`, 'gone', {
      password: 'wrong',
    });
    const seen = refusals(s, 2);
    expect(await beforeRefusals(outcome(s.ready()), s, 2)).toBe('waiting');
    for (const e of await seen) expect(e).toMatchObject({ reason: 'closed' });
    // The last attempt's failure stays until an admission: a bounded wait names it.
    const err = await outcome(s.ready({ timeout: 20 }));
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toContain('wrong password on a Go switcher');
    expect((err as Error).cause).toBeInstanceOf(AdmissionError);
  });

  // A tls:// or wss:// URL given a switcher's plain ws:// port (or any HTTP server): the server
  // answers in plain text on every attempt. ready() used to wait for ever, the session retrying
  // in silence.
  it.for(['tls', 'wss'] as const)(
    'rejects when a %s:// URL is given a port that answers without TLS',
    async (scheme) => {
      const sw = switcher();
      const listener = await listenWs(sw, { host: '127.0.0.1', port: 0 });
      cleanups.push(() => listener.close());
      const path = scheme === 'wss' ? '/flex/ws' : '';
      const s = urlSession(`${scheme}://127.0.0.1:${listener.address.port}${path}`, 'plain');
      const err = await beforeRefusals(outcome(s.ready()), s, 2);
      expect(err).toBeInstanceOf(ConnectionClosedError);
      expect((err as Error).message).toMatch(/not in TLS \(wrong version number\)/);
      expect(s.state).not.toBe('closed');
    },
  );

  // Found by a new-user walkthrough: a tcp:// URL given a switcher's tls:// port. Node's TLS
  // (OpenSSL) answers a request whose header reads as a TLS record header with an alert and
  // hangs up, which read as "closed during admission ... wrong password", and ready() waited for
  // ever. The request's header bytes are random: here they are made to read so.
  it('rejects when a tcp:// URL is given a TLS port that answers with an alert', async () => {
    const sw = switcher();
    const listener = await listenTls(sw, { host: '127.0.0.1', port: 0, cert: certA.cert, key: certA.key });
    cleanups.push(() => listener.close());
    // Header bytes 1..4 (8 of them; the salt and nonce are longer) read as the record's version
    // 3.3 and a length of 16 bytes, which OpenSSL has at once: it answers with an alert.
    const random = vi.spyOn(globalThis.crypto, 'getRandomValues').mockImplementation(<T>(a: T): T => {
      const bytes = a as Uint8Array;
      if (bytes.length === 8) bytes.set([3, 3, 0, 16, 0, 0, 0, 0]);
      return a;
    });
    cleanups.push(() => random.mockRestore());
    const s = urlSession(`tcp://127.0.0.1:${listener.address.port}`, 'crossed');
    const err = await beforeRefusals(outcome(s.ready()), s, 2);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(/answered in TLS.*use a tls:\/\/ URL/);
    expect(s.state).not.toBe('closed');
  });

  /** Header bytes 1..8 a TLS server reads as no TLS version: those of 255 admissions in 256. */
  function noTlsVersionInHeader(): void {
    const random = vi.spyOn(globalThis.crypto, 'getRandomValues').mockImplementation(<T>(a: T): T => {
      const bytes = a as Uint8Array;
      if (bytes.length === 8) bytes.set([0x12, 0x34, 0, 16, 0, 0, 0, 0]);
      return a;
    });
    cleanups.push(() => random.mockRestore());
  }

  // Found by the transport leads hunt: on those bytes OpenSSL hangs up without an alert, so a
  // tcp:// URL given a flexmux switcher's tls:// port read as a refusal without a reason, which
  // ready() waited through for ever. The switcher's TLS listener now answers them with an alert.
  it('rejects when a tcp:// URL is given a flexmux TLS port, whatever its header bytes', async () => {
    const sw = switcher();
    const listener = await listenTls(sw, { host: '127.0.0.1', port: 0, cert: certA.cert, key: certA.key });
    cleanups.push(() => listener.close());
    noTlsVersionInHeader();
    const s = urlSession(`tcp://127.0.0.1:${listener.address.port}`, 'crossed');
    const err = await beforeRefusals(outcome(s.ready()), s, 2);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(/answered in TLS.*use a tls:\/\/ URL/);
  });

  // Regression: Go's crypto/tls hangs up without an alert on a first record that is neither a
  // handshake nor an alert, and an admission request starts with the byte 0x00, so a tcp:// URL
  // given a Go TLS switcher's port read as a close during admission, the same as a Go switcher's
  // refusal of a wrong password: ready() waited through it for ever, the failure listing TLS among
  // four causes. The node now asks the port with a TLS handshake of its own.
  it('rejects when a tcp:// URL is given a TLS port that hangs up without a word (as Go does)', async () => {
    const tlsServer = createTlsServer({ cert: certA.cert, key: certA.key });
    tlsServer.on('tlsClientError', () => {});
    const goTls = createTcpServer((sock) => {
      sock.on('error', () => {});
      sock.once('data', (first: Buffer) => {
        // Go's first-record check: a handshake (22) or an alert (21) goes on to TLS; anything
        // else is no TLS client, and the connection is closed without a byte.
        if (first[0] !== 22 && first[0] !== 21) {
          sock.destroy();
          return;
        }
        sock.pause();
        sock.unshift(first);
        tlsServer.emit('connection', sock);
      });
    });
    await new Promise<void>((resolve) => goTls.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => goTls.close(resolve)));
    goTls.on('connection', (sock) => cleanups.push(() => sock.destroy()));
    const s = urlSession(`tcp://127.0.0.1:${(goTls.address() as AddressInfo).port}`, 'crossed');
    const err = await beforeRefusals(outcome(s.ready()), s, 2);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(
      /the port answers a TLS handshake: it speaks TLS.*use a tls:\/\/ URL/,
    );
    expect((err as Error).cause).toMatchObject({ reason: 'closed' });
    expect(s.state).not.toBe('closed');
  });

  // Found by a new-user walkthrough: a ws:// URL given a switcher's tcp:// port. The switcher read
  // the upgrade request as a frame header and waited for its payload: each attempt timed out
  // after 10 s (connectTimeout) and ready() waited for ever. Now the switcher answers 400 at once,
  // which the node takes as a port that answers in another protocol.
  it('rejects at once when a ws:// URL is given the switcher’s tcp:// port', async () => {
    const sw = switcher();
    const listener = await listenTcp(sw, { host: '127.0.0.1', port: 0 });
    cleanups.push(() => listener.close());
    const refused: string[] = [];
    sw.on('refused', (r) => refused.push(r.reason));
    const s = urlSession(`ws://127.0.0.1:${listener.address.port}/flex/ws`, 'crossed-ws', {
      // Not what ends the wait: the switcher's answer comes long before.
      connectTimeout: 60_000,
    });
    const err = await beforeRefusals(outcome(s.ready()), s, 2);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(
      /the server answered the upgrade with HTTP 400 Bad Request \("This is a flex TCP port, not HTTP or WebSocket: connect to it with a tcp:\/\/ URL/,
    );
    expect(s.state).not.toBe('closed');
    expect(refused[0]).toBe('http');
  });

  it('refuses an untilAdmitted that is not a boolean', async () => {
    const sw = switcher();
    const s = memorySession(sw, 'badopt');
    await expect(s.ready({ untilAdmitted: 'yes' as unknown as boolean })).rejects.toBeInstanceOf(ConfigError);
  });

  it('a dial that waits for the session still waits through a refusal, until its own timeout', async () => {
    const sw = switcher();
    const s = memorySession(sw, 'dialer', { password: 'wrong' });
    const err = await outcome(s.dial('nobody:1', { wait: true, timeout: 300 }));
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).cause).toBeInstanceOf(AdmissionError);
    // Named for the dial, with its whole wait. Before: `session not ready in time; last attempt:
    // ...`, which `flexmux ping` matched by its start to add the time it had waited.
    const cause = (err as Error).cause as Error;
    expect((err as Error).message).toBe(
      `dial nobody:1 timed out after 300 ms waiting for the switcher; last attempt: ${cause.message}`,
    );
    const pinged = await outcome(s.ping('bob', { wait: true, timeout: 200 }));
    expect(pinged).toBeInstanceOf(TimeoutError);
    expect((pinged as Error).message).toMatch(
      /^ping bob timed out after 200 ms waiting for the switcher; last attempt: .*wrong password/,
    );
  });

  it('leaves no unhandled rejection when nobody waits on ready()', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    cleanups.push(() => process.off('unhandledRejection', onUnhandled));
    const sw = switcher();
    const s = memorySession(sw, 'unheard', { password: 'wrong' });
    const seen = await refusals(s, 3);
    expect(seen[0]).toBeInstanceOf(AdmissionError);
    // Node reports an unhandled rejection once the microtasks of the turn that made it have run:
    // a turn of the event loop later, any would be in.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
  });
});
