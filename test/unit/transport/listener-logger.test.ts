import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { listenWs } from '../../../src/transport/ws.js';
import { captureLogger } from '../../helpers/faulty-log.js';

/**
 * The listeners log a connection that fails its handshake, from the server's event handlers,
 * before they answer or close it. A logger that throws there (pino to a closed pipe, EPIPE)
 * escaped the handler as an uncaught exception, which ends the process of a switcher serving
 * thousands, and skipped the answer: a malformed request got no 400.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("a logger that throws on a listener's lines", () => {
  it('a malformed HTTP request to the WebSocket listener is answered 400 all the same', async () => {
    const logger = {
      ...captureLogger(),
      warn: () => {
        throw new Error('write EPIPE');
      },
    };
    const l = await listenWs({ host: '127.0.0.1', port: 0, logger }, (t) => t.destroy());
    cleanups.push(() => l.close());
    const sock = net.connect(l.address.port, '127.0.0.1');
    cleanups.push(() => sock.destroy());
    const answer = new Promise<string>((resolve, reject) => {
      let got = '';
      sock.on('data', (chunk: Buffer) => {
        got += chunk.toString('latin1');
      });
      sock.once('error', reject);
      sock.once('close', () => resolve(got));
    });
    // A header line without a colon: llhttp refuses it (HPE_INVALID_HEADER_TOKEN).
    sock.write('GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n');
    expect(await answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
  });
});
