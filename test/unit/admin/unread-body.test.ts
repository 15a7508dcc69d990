import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startAdmin } from '../../../src/admin/index.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { captureLogger } from '../../helpers/faulty-log.js';

/**
 * A request answered before its body was read (401 without the token, 403, 404, 405, or any
 * route that reads no body) used to leave the rest of the body to Node, which reads and drops
 * it whole, with no bound but the 30 s request timeout: a client without the token could make
 * the server read gigabytes per connection (on loopback: all the 256 MiB it wrote within a
 * second). And, kept alive, one connection could send such requests one after another.
 */

const TOKEN = 'unread-body-token-9c2a';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An admin server, and a promise of its next answer with `status` (logged at debug). */
async function admin(): Promise<{ port: number; answered: (status: number) => Promise<void> }> {
  const sw = new Switcher({ password: 'unread-body' });
  cleanups.push(() => sw.close({ timeout: 300 }));
  const log = captureLogger();
  const a = await startAdmin({ switcher: sw, port: 0, token: TOKEN, logger: log });
  cleanups.push(() => a.close());
  const answered = async (status: number): Promise<void> => {
    await expect.poll(() => log.find('admin request', { status }).length, { timeout: 5_000 }).toBe(1);
  };
  return { port: a.port, answered };
}

/** Most a client may write before the server stops reading: the bound, plus socket buffers. */
const ACCEPTED_MAX = 16 * 1024 * 1024;
/** What a flood writes at most: far past ACCEPTED_MAX, so that an unbounded read shows. */
const FLOOD = 256 * 1024 * 1024;

interface Flood {
  /** Bytes the client's socket accepted (headers and bodies) before it failed or closed. */
  written: number;
  /** The socket error the client saw (EPIPE, ECONNRESET), if any. */
  error: string | undefined;
}

/**
 * Writes `start`, then `next()` again and again, as fast as the socket takes it, reading the
 * answers meanwhile, until the server closes the connection or FLOOD bytes are written.
 */
function flood(port: number, start: string, next: () => Buffer): Promise<Flood> {
  return new Promise<Flood>((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('no outcome within 20 s'));
    }, 20_000);
    let error: string | undefined;
    let written = 0;
    const finish = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve({ written, error });
    };
    // The answers are read, and dropped: only what the server takes counts.
    s.resume();
    s.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    s.on('close', finish);
    written += start.length;
    s.write(start);
    const pump = (): void => {
      while (!s.destroyed && written < FLOOD) {
        const b = next();
        written += b.length;
        if (!s.write(b)) {
          s.once('drain', pump);
          return;
        }
      }
      if (!s.destroyed) finish();
    };
    pump();
  });
}

const block = Buffer.alloc(64 * 1024, 0x20);
const chunk = (b: Buffer): Buffer =>
  Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);
const GIB = 1024 * 1024 * 1024;

describe('a request answered before its body was read', () => {
  it('without the token, a kick declaring 1 GiB: the server reads a bounded part of it', async () => {
    const { port } = await admin();
    const out = await flood(
      port,
      `DELETE /api/v1/clients/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${GIB}\r\n\r\n`,
      () => block,
    );
    // 256 MiB before the fix; some 4 MiB (the client's socket buffer) after.
    expect(out.written).toBeLessThan(ACCEPTED_MAX);
  });

  it('without the token, a 405 with an endless chunked body: the server reads a bounded part of it', async () => {
    const { port } = await admin();
    const out = await flood(
      port,
      'POST /api/v1/clients HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n',
      () => chunk(block),
    );
    expect(out.written).toBeLessThan(ACCEPTED_MAX);
  });

  it('kept alive, small bodies one request after another: a bounded part in all', async () => {
    const { port } = await admin();
    const body = Buffer.alloc(16 * 1024, 0x20);
    const request = Buffer.concat([
      Buffer.from(
        `DELETE /api/v1/clients/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\n\r\n`,
      ),
      body,
    ]);
    const out = await flood(port, '', () => request);
    expect(out.written).toBeLessThan(ACCEPTED_MAX);
  });
});

interface Talk {
  /** Everything read. */
  text: string;
  /** Whether the server closed the connection (else `done` held). */
  closed: boolean;
  error: string | undefined;
}

/**
 * Writes `data` (the rest of `later` once `gate` resolves: a client whose body the socket buffers
 * did not take at once), reading nothing until all of it is written; resolves once `done(text)`
 * holds or the server has closed the connection.
 */
function talk(
  port: number,
  data: string | Buffer,
  done: (text: string) => boolean,
  later?: { gate: () => Promise<void>; data: string | Buffer },
): Promise<Talk> {
  return new Promise<Talk>((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no outcome within 10 s: ${JSON.stringify(text.slice(0, 300))}`));
    }, 10_000);
    let text = '';
    let error: string | undefined;
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve({ text, closed, error });
    };
    s.pause();
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (done(text)) finish(false);
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    s.on('close', () => finish(true));
    s.write(data);
    if (later === undefined) s.resume();
    else later.gate().then(() => s.write(later.data, () => s.resume()), reject);
  });
}

const statuses = (text: string): string[] => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);

describe('an answer given before the body was read', () => {
  it('to a declared length past the bound: says connection: close, and the server closes', async () => {
    const { port } = await admin();
    const out = await talk(
      port,
      `DELETE /api/v1/clients/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${GIB}\r\n\r\n`,
      () => false,
    );
    expect(out).toMatchObject({ closed: true, error: undefined });
    expect(out.text).toMatch(/^HTTP\/1\.1 401 /);
    expect(out.text.toLowerCase()).toContain('\r\nconnection: close\r\n');
  });

  // 48 KiB: three default-sized kick bodies, within the bound. Written only once the server has
  // answered, as a client on a link slower than loopback would.
  const body = Buffer.alloc(48 * 1024, 0x20);
  for (const framing of ['declared', 'chunked'] as const) {
    it(`reaches a client that writes its whole body (${framing}) first, then reads`, async () => {
      const { port, answered } = await admin();
      const head =
        'DELETE /api/v1/clients/x HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
        (framing === 'declared' ? `Content-Length: ${body.length}` : 'Transfer-Encoding: chunked') +
        '\r\n\r\n';
      const rest = framing === 'declared' ? body : Buffer.concat([chunk(body), Buffer.from('0\r\n\r\n')]);
      const out = await talk(port, head, (t) => /\r\n\r\n[\s\S]*\}$/.test(t), {
        gate: () => answered(401),
        data: rest,
      });
      expect(out).toMatchObject({ closed: false, error: undefined });
      expect(out.text).toMatch(/^HTTP\/1\.1 401 /);
      expect(out.text.toLowerCase()).not.toContain('connection: close');
    });
  }

  it('keeps the connection alive for small bodies, up to the bound in all', async () => {
    const { port } = await admin();
    const small = Buffer.alloc(16 * 1024, 0x20);
    const kick = (length: number): string =>
      `DELETE /api/v1/clients/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${length}\r\n\r\n`;
    const info = `GET /api/v1/info HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`;
    const kicks = Array.from({ length: 4 }, () => Buffer.concat([Buffer.from(kick(small.length)), small]));
    // Four 16 KiB bodies, a request without a body, then a fifth body with none of it sent:
    // the bound is spent, so its answer closes the connection without waiting for it.
    const out = await talk(
      port,
      Buffer.concat([...kicks, Buffer.from(info + kick(small.length))]),
      () => false,
    );
    expect(statuses(out.text)).toEqual(['401', '401', '401', '401', '200', '401']);
    expect(out).toMatchObject({ closed: true, error: undefined });
    const last = out.text.slice(out.text.lastIndexOf('HTTP/1.1 401')).toLowerCase();
    expect(last).toContain('\r\nconnection: close\r\n');
    expect(out.text.slice(0, out.text.lastIndexOf('HTTP/1.1 401')).toLowerCase()).not.toContain(
      'connection: close',
    );
  });

  it('leaves requests without a body kept alive, however many', async () => {
    const { port } = await admin();
    const health = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    const out = await talk(port, health.repeat(10), (t) => statuses(t).length === 10 && t.endsWith('}'));
    expect(statuses(out.text)).toHaveLength(10);
    expect(out).toMatchObject({ closed: false, error: undefined });
  });
});
