import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startAdmin } from '../../../src/admin/index.js';
import { Switcher } from '../../../src/switcher/switcher.js';

/**
 * `Expect: 100-continue` (curl sends it for bodies over 1 MiB): Node used to answer `100 Continue`
 * before the server had looked at the request, so a client whose body was about to be refused
 * (no token, no such endpoint, over maxBodyBytes, a bad path parameter) was invited to send it. The server now says
 * `100 Continue` only to a request whose body it will read.
 */

const TOKEN = 'continue-token-4f1b';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function admin(): Promise<number> {
  const sw = new Switcher({ password: 'continue' });
  cleanups.push(() => sw.close({ timeout: 300 }));
  const a = await startAdmin({ switcher: sw, port: 0, token: TOKEN });
  cleanups.push(() => a.close());
  return a.port;
}

/** A raw connection to `port`: the text received so far, and when it closed. */
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

async function waitFor(until: () => boolean, what: string): Promise<void> {
  await expect.poll(until, { timeout: 5_000, interval: 10, message: what }).toBe(true);
}

/** `p`, or a rejection naming `what` after 5 s. */
async function within(p: Promise<void>, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not within 5 s: ${what}`)), 5_000);
  });
  await Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const auth = `Authorization: Bearer ${TOKEN}\r\n`;

/** The head of a request that waits for `100 Continue` before sending `length` bytes of body. */
function head(method: string, path: string, length: number, extra = ''): string {
  return (
    `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}Content-Type: application/json\r\n` +
    `Content-Length: ${length}\r\nExpect: 100-continue\r\n\r\n`
  );
}

describe('admin server: Expect: 100-continue', () => {
  it('a request refused anyway gets its answer at once, without 100 Continue, and is closed', async () => {
    const port = await admin();
    const refused: [string, string, number, string, number][] = [
      ['no token', 'DELETE /api/v1/clients/alpha', 2_000_000, '', 401],
      ['no such endpoint', 'DELETE /api/v1/nothing', 2_000_000, auth, 404],
      ['a kick of no valid domain', 'DELETE /api/v1/clients/a.b', 100, auth, 400],
      ['over maxBodyBytes', 'DELETE /api/v1/clients/alpha', 2_000_000, auth, 413],
      ['an endpoint that reads no body', 'GET /api/v1/info', 100, auth, 200],
    ];
    for (const [what, target, length, extra, status] of refused) {
      const [method, path] = target.split(' ');
      const c = open(port);
      c.s.write(head(method, path, length, extra));
      // The client sends nothing more: without the answer it would wait for the 100 (curl: 1 s).
      await within(c.closed, `${what}: the server closes after its answer`);
      expect(c.text(), what).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(c.text(), what).not.toContain('100 Continue');
      expect(c.text().toLowerCase(), what).toContain('\r\nconnection: close\r\n');
    }
  });

  it('a kick with the token and a small body gets 100 Continue, then its answer', async () => {
    const port = await admin();
    const body = JSON.stringify({ reason: 'maintenance' });
    const c = open(port);
    c.s.write(head('DELETE', '/api/v1/clients/nobody', body.length, auth));
    await waitFor(() => c.text().length > 0, 'the 100 Continue');
    expect(c.text()).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    c.s.write(body);
    // Read whole: nobody holds the domain, which the kick finds only after its body.
    await waitFor(() => c.text().includes('no client holds the domain'), 'the answer');
    expect(c.text()).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 404 /);
    // Kept alive: the body was read, the connection serves a next request.
    c.s.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await waitFor(() => c.text().includes('{"ok":true}'), 'a second answer on the connection');
  });

  // Node answered any other expectation itself: a bare 417 status line, without the API's JSON
  // error or the headers every answer carries.
  it('an expectation other than 100-continue gets the JSON 417, and is closed', async () => {
    const port = await admin();
    const c = open(port);
    c.s.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 200-ok\r\n\r\n`);
    await within(c.closed, 'the server closes after its answer');
    const [headText, body] = c.text().split('\r\n\r\n');
    expect(headText).toMatch(/^HTTP\/1\.1 417 /);
    expect(headText.toLowerCase()).toContain('\r\nconnection: close');
    expect(headText.toLowerCase()).toContain('\r\nx-content-type-options: nosniff');
    expect(JSON.parse(body ?? '')).toEqual({
      error: { code: 'expectation_failed', message: 'Expect: 200-ok is not supported (only 100-continue)' },
    });
  });
});
