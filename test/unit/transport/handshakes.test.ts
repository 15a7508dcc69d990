import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type HandshakeRefusalReason,
  httpClientError,
  PendingHandshakes,
} from '../../../src/transport/handshakes.js';
import { silentLogger } from '../../../src/util/logger.js';

/**
 * PendingHandshakes.request(): a connection found to be plain HTTP leaves the count of pending
 * handshakes, within its own bound; past that bound its response closes it.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Resolves at the socket's 'close' event (listen before it can come: `closed` is set earlier). */
const closing = (s: net.Socket): Promise<void> => new Promise((resolve) => s.once('close', () => resolve()));

interface Fixture {
  port: number;
  handshakes: PendingHandshakes;
  /** The server's side of each connection, in order of arrival, and its 'close'. */
  accepted: { sock: net.Socket; closed: Promise<void> }[];
}

async function server(
  max: number,
  maxHttp: number,
  onRefused?: (reason: HandshakeRefusalReason) => void,
): Promise<Fixture> {
  const srv = http.createServer((req, res) => {
    handshakes.request(req, res);
    res.end('ok');
  });
  const handshakes = new PendingHandshakes(srv, max, undefined, maxHttp, onRefused);
  const accepted: Fixture['accepted'] = [];
  srv.on('connection', (sock: net.Socket) => accepted.push({ sock, closed: closing(sock) }));
  srv.on('upgrade', (_req, socket: net.Socket) => {
    handshakes.done(socket);
    socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n');
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    srv.closeAllConnections();
    return new Promise((resolve) => srv.close(resolve));
  });
  return { port: (srv.address() as AddressInfo).port, handshakes, accepted };
}

/** Opens a connection to `port`, sends `req`, resolves with the first chunk of the answer. */
function exchange(port: number, req: string): Promise<{ sock: net.Socket; head: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    cleanups.push(() => sock.destroy());
    sock.once('error', reject);
    sock.once('data', (chunk) => resolve({ sock, head: chunk.toString('latin1') }));
    sock.write(req);
  });
}

const GET = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n';

describe('PendingHandshakes.request', () => {
  it('takes a keep-alive HTTP connection out of the pending count, until it closes', async () => {
    const f = await server(4, 2);
    const { head } = await exchange(f.port, GET);
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head.toLowerCase()).not.toContain('connection: close');
    // Before: it stayed pending, holding a slot that a node's upgrade needs.
    expect(f.handshakes.size).toBe(0);
    expect(f.handshakes.httpSize).toBe(1);
    f.accepted[0]!.sock.destroy();
    await f.accepted[0]!.closed;
    expect(f.handshakes.httpSize).toBe(0);
  });

  it('past its own bound, answers with Connection: close, and the connection counts as pending until it closes', async () => {
    const f = await server(4, 1);
    await exchange(f.port, GET);
    const second = await exchange(f.port, GET);
    expect(second.head.toLowerCase()).toContain('connection: close');
    expect(f.handshakes.httpSize).toBe(1);
    // The server ends it after the response.
    await f.accepted[1]!.closed;
    expect(f.handshakes.size).toBe(0);
    expect(f.handshakes.httpSize).toBe(1);
  });

  it('past its own bound, counts the connection it closes after its answer as no refusal', async () => {
    const refused: HandshakeRefusalReason[] = [];
    const f = await server(4, 0, (r) => refused.push(r));
    await exchange(f.port, GET);
    await f.accepted[0]!.closed;
    // An HTTP client served (the demo's pages), not a handshake refused: it was counted `closed`.
    const silent = net.connect(f.port, '127.0.0.1');
    cleanups.push(() => silent.destroy());
    await new Promise((resolve) => silent.once('connect', resolve));
    silent.destroy();
    await vi.waitFor(() => expect(f.accepted[1]?.sock.destroyed).toBe(true));
    await f.accepted[1]!.closed;
    expect(refused).toEqual(['closed']);
  });

  it('forgets an HTTP connection that upgrades later', async () => {
    const f = await server(4, 2);
    const { sock } = await exchange(f.port, GET);
    expect(f.handshakes.httpSize).toBe(1);
    const upgraded = new Promise<string>((resolve) =>
      sock.once('data', (c) => resolve(c.toString('latin1'))),
    );
    sock.write('GET /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n');
    expect(await upgraded).toMatch(/^HTTP\/1\.1 101 /);
    expect(f.handshakes.httpSize).toBe(0);
    expect(f.handshakes.size).toBe(0);
  });

  it('keeps counting every connection as pending with no HTTP bound (the default)', async () => {
    const f = await server(4, 0);
    const { head } = await exchange(f.port, GET);
    expect(head.toLowerCase()).toContain('connection: close');
    expect(f.handshakes.httpSize).toBe(0);
  });
});

/**
 * httpClientError: a request Node's parser refuses is answered whenever the answer would be read
 * as that request's own, on a kept-alive connection too (Node's default answers only when nothing
 * was written before: there the client got a bare close).
 */
describe('httpClientError', () => {
  /** A server answering every request 404 as the demo listener does, keep-alive unless `close`. */
  async function refusing(close: boolean): Promise<number> {
    const srv = http.createServer((_req, res) => {
      if (close) res.setHeader('connection', 'close');
      res.writeHead(404, { 'content-type': 'text/plain', 'content-length': 10 });
      res.end('not found\n');
    });
    srv.on('clientError', httpClientError(srv, silentLogger));
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      srv.closeAllConnections();
      return new Promise((resolve) => srv.close(resolve));
    });
    return (srv.address() as AddressInfo).port;
  }

  /** Everything `sock` receives until it closes. */
  const rest = (sock: net.Socket): Promise<string> =>
    new Promise((resolve) => {
      let got = '';
      sock.on('data', (chunk: Buffer) => {
        got += chunk.toString('latin1');
      });
      sock.once('close', () => resolve(got));
    });

  // A header line without a colon: llhttp refuses it (HPE_INVALID_HEADER_TOKEN).
  const BAD = 'GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n';

  it('answers 400 to a malformed request on a fresh connection', async () => {
    const port = await refusing(false);
    const { sock, head } = await exchange(port, BAD);
    await rest(sock);
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
  });

  it('answers 400 to a malformed request after an earlier answer on a kept-alive connection', async () => {
    const port = await refusing(false);
    const sock = net.connect(port, '127.0.0.1');
    cleanups.push(() => sock.destroy());
    // The whole 404 (its body ends the answer), before the malformed request is sent.
    const first = await new Promise<string>((resolve, reject) => {
      let got = '';
      const onData = (chunk: Buffer): void => {
        got += chunk.toString('latin1');
        if (!got.endsWith('not found\n')) return;
        sock.off('data', onData);
        resolve(got);
      };
      sock.on('data', onData);
      sock.once('error', reject);
      sock.write('GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    expect(first).toMatch(/^HTTP\/1\.1 404 /);
    expect(first).toMatch(/\r\nconnection: keep-alive\r\n/i);
    const after = rest(sock);
    sock.write(BAD);
    expect(await after).toMatch(/^HTTP\/1\.1 400 Bad Request\r\nConnection: close\r\n\r\n$/);
  });

  it('writes nothing after an answer that closes the connection, even for a pipelined request', async () => {
    const port = await refusing(true);
    const sock = net.connect(port, '127.0.0.1');
    cleanups.push(() => sock.destroy());
    const all = rest(sock);
    sock.write(`GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n${BAD}`);
    const got = await all;
    expect(got).toMatch(/^HTTP\/1\.1 404 /);
    expect(got).not.toContain('400');
  });
});
