import { type AddressInfo, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { AdmissionError, ProtocolError } from '../../../src/errors.js';
import { probeTls, speaksTls } from '../../../src/transport/tls-probe.js';
import { cert, key } from './tls-fixture.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Listens on 127.0.0.1 and resolves with the port; sockets and server go at the test's end. */
async function serve(server: Server): Promise<number> {
  const sockets: Socket[] = [];
  server.on('connection', (s: Socket) => {
    s.on('error', () => {});
    sockets.push(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as AddressInfo).port;
}

describe('probeTls()', () => {
  it('is true for a TLS server, whatever its certificate', async () => {
    const server = createTlsServer({ cert, key });
    server.on('tlsClientError', () => {});
    expect(await probeTls('127.0.0.1', await serve(server), 5_000)).toBe(true);
  });

  it('is true for a TLS server that refuses the handshake with an alert (a client certificate required)', async () => {
    const server = createTlsServer({
      cert,
      key,
      requestCert: true,
      rejectUnauthorized: true,
      maxVersion: 'TLSv1.2',
    });
    server.on('tlsClientError', () => {});
    expect(await probeTls('127.0.0.1', await serve(server), 5_000)).toBe(true);
  });

  it('is false for a plain server that hangs up, answers in plain text, or says nothing', async () => {
    const hangsUp = createTcpServer((s) => s.once('data', () => s.destroy()));
    const answers = createTcpServer((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
    const silent = createTcpServer(() => {});
    expect(await probeTls('127.0.0.1', await serve(hangsUp), 5_000)).toBe(false);
    expect(await probeTls('127.0.0.1', await serve(answers), 5_000)).toBe(false);
    expect(await probeTls('127.0.0.1', await serve(silent), 200)).toBe(false);
  });

  it('reuses its verdict for the same address', async () => {
    let connections = 0;
    const server = createTlsServer({ cert, key });
    server.on('tlsClientError', () => {});
    server.on('connection', () => connections++);
    const port = await serve(server);
    expect(await probeTls('127.0.0.1', port, 5_000)).toBe(true);
    expect(await probeTls('127.0.0.1', port, 5_000)).toBe(true);
    expect(connections).toBe(1);
  });

  it('speaksTls() turns a TLS answer into a ProtocolError naming tls://, the close as its cause', async () => {
    const server = createTlsServer({ cert, key });
    server.on('tlsClientError', () => {});
    const closed = new AdmissionError('closed', 0);
    const err = await speaksTls('127.0.0.1', await serve(server), 5_000, closed);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err?.message).toMatch(/the port answers a TLS handshake: it speaks TLS.*use a tls:\/\/ URL/);
    expect(err?.cause).toBe(closed);
    const plain = createTcpServer((s) => s.once('data', () => s.destroy()));
    expect(await speaksTls('127.0.0.1', await serve(plain), 5_000, closed)).toBeNull();
  });
});
