import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { answerClientError } from '../../../src/admin/client-error.js';
import { startAdmin } from '../../../src/admin/index.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { captureLogger } from '../../helpers/faulty-log.js';

/**
 * A request Node's HTTP parser refuses (headers too large, not valid HTTP/1.1) or that does not
 * arrive in time is answered with the API's JSON error, like every other error; Node's own answer
 * there was a bare status line without a body.
 */

const TOKEN = 'client-error-token';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function admin(): Promise<{ port: number; log: ReturnType<typeof captureLogger> }> {
  const log = captureLogger();
  const sw = new Switcher({ password: 'client-error' });
  cleanups.push(() => sw.close({ timeout: 300 }));
  const a = await startAdmin({ switcher: sw, port: 0, token: TOKEN, logger: log });
  cleanups.push(() => a.close());
  return { port: a.port, log };
}

/** A raw connection to `port`, what it received so far, and when it closed. */
function open(port: number): { s: Socket; text: () => string; closed: Promise<void> } {
  const s = connect(port, '127.0.0.1');
  cleanups.push(() => s.destroy());
  let text = '';
  s.on('data', (c: Buffer) => {
    text += c.toString('latin1');
  });
  s.on('error', () => {});
  const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
  return { s, text: () => text, closed };
}

/** The responses in `text`, each as its status, lower-cased headers and body. */
function responses(text: string): { status: number; headers: Record<string, string>; body: string }[] {
  const out: { status: number; headers: Record<string, string>; body: string }[] = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n');
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    out.push({
      status: Number(statusLine.split(' ')[1]),
      headers,
      body: rest.slice(end + 4, end + 4 + length),
    });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

/** Expects `r` to be the API's JSON error `code` with `status`, closing the connection. */
function expectJsonError(
  r: ReturnType<typeof responses>[number] | undefined,
  status: number,
  code: string,
): void {
  expect(r?.status).toBe(status);
  expect(r?.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(r?.headers.connection).toBe('close');
  expect(r?.headers['x-content-type-options']).toBe('nosniff');
  const body = JSON.parse(r?.body ?? '') as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message).not.toBe('');
}

describe('admin server: requests the HTTP parser refuses', () => {
  it('headers over 16 KiB are answered 431 with a JSON error, logged at debug only', async () => {
    const { port, log } = await admin();
    const c = open(port);
    c.s.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`);
    await c.closed;
    const [r, ...more] = responses(c.text());
    expectJsonError(r, 431, 'headers_too_large');
    expect(more).toEqual([]);
    expect(
      log.find('admin request refused before it was read', { code: 'HPE_HEADER_OVERFLOW' }),
    ).toHaveLength(1);
    expect(log.atLeast('warn')).toEqual([]);
  });

  it('a malformed request on a kept-alive connection is answered 400 with a JSON error', async () => {
    const { port } = await admin();
    const c = open(port);
    // Answered 200 first: the connection has written before, and the 400 still goes out.
    c.s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await expect.poll(() => c.text().includes('{"ok":true}'), { timeout: 10_000, interval: 10 }).toBe(true);
    c.s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nNo colon here\r\n\r\n');
    await c.closed;
    const [ok, r, ...more] = responses(c.text());
    expect(ok?.status).toBe(200);
    expectJsonError(r, 400, 'bad_request');
    expect(more).toEqual([]);
  });

  it('a kick whose chunked body is malformed gets the 400 as its answer', async () => {
    const { port } = await admin();
    const c = open(port);
    c.s.write(
      `DELETE /api/v1/clients/alice HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n` +
        'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    );
    await c.closed;
    const [r, ...more] = responses(c.text());
    expectJsonError(r, 400, 'bad_request');
    expect(more).toEqual([]);
  });

  it('nothing is written into an answer under way (an event stream): the connection is closed', async () => {
    const { port } = await admin();
    const c = open(port);
    c.s.write(`GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
    await expect.poll(() => c.text().includes('event: hello'), { timeout: 10_000, interval: 10 }).toBe(true);
    c.s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nNo colon here\r\n\r\n');
    await c.closed;
    expect(c.text()).toMatch(/^HTTP\/1\.1 200 /);
    expect(c.text()).not.toContain('HTTP/1.1 400');
    expect(c.text()).not.toContain('bad_request');
  });
});

describe('answerClientError', () => {
  /** A connected pair on 127.0.0.1: the server's end and the client's. */
  async function pair(): Promise<{ server: Socket; client: ReturnType<typeof open> }> {
    const srv: Server = createServer();
    cleanups.push(() => new Promise((resolve) => srv.close(resolve)));
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<Socket>((resolve) => srv.once('connection', resolve));
    const client = open((srv.address() as { port: number }).port);
    const server = await accepted;
    cleanups.push(() => server.destroy());
    return { server, client };
  }

  it('answers a request timeout 408 with a JSON error', async () => {
    const { server, client } = await pair();
    const err = Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
    answerClientError(err, server, true, captureLogger());
    await client.closed;
    const [r, ...more] = responses(client.text());
    expectJsonError(r, 408, 'request_timeout');
    expect(more).toEqual([]);
  });

  it('writes nothing for a broken connection or when an answer is under way, and never throws', async () => {
    const { server, client } = await pair();
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    answerClientError(reset, server, true, captureLogger());
    await client.closed;
    expect(client.text()).toBe('');

    const other = await pair();
    const parse = Object.assign(new Error('Parse Error'), { code: 'HPE_INVALID_HEADER_TOKEN' });
    answerClientError(parse, other.server, false, captureLogger());
    await other.client.closed;
    expect(other.client.text()).toBe('');
    // Destroyed already: not written to, and no throw.
    expect(() => answerClientError(parse, other.server, true, captureLogger())).not.toThrow();
  });
});
