import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startAdmin } from '../../../src/admin/index.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { captureLogger } from '../../helpers/faulty-log.js';

/**
 * A kick whose body is over `maxBodyBytes` (16 KiB) is answered 413 at once, before its body has
 * arrived. A client that writes its whole body before it reads (most simple HTTP clients) got a
 * connection reset instead: the server closed with the rest of the body unread, and the kernel's
 * reset threw away the 413 waiting in the client's receive queue. The server now reads and drops
 * up to 1 MiB of such a body, so that client reads its 413; past that it still closes.
 */

const TOKEN = 'body-limit-token-5e1f';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An admin server, and a promise of its answer to the next request (logged at debug). */
async function admin(): Promise<{ port: number; answered: () => Promise<void> }> {
  const sw = new Switcher({ password: 'body-limit' });
  cleanups.push(() => sw.close({ timeout: 300 }));
  const log = captureLogger();
  const a = await startAdmin({ switcher: sw, port: 0, token: TOKEN, logger: log });
  cleanups.push(() => a.close());
  const answered = async (): Promise<void> => {
    await expect.poll(() => log.find('admin request', { status: 413 }).length, { timeout: 5_000 }).toBe(1);
  };
  return { port: a.port, answered };
}

function head(framing: string): string {
  return (
    'DELETE /api/v1/clients/alice HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
    `Authorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\n${framing}\r\n\r\n`
  );
}

interface Outcome {
  /** The status line of the first answer, or '' for none. */
  status: string;
  /** The socket error the client saw, if any (EPIPE, ECONNRESET). */
  error: string | undefined;
  /** Body bytes the client had written when the connection ended. */
  written: number;
}

/**
 * Sends `head`, then `bytes` of body in 16 KiB blocks (each framed by `frame`), reading nothing
 * until all of it is written: the client that lost its 413, which gives up at a failed write.
 * Resolves once the server has closed the connection, or, if it keeps it open, once the answer is in.
 */
function send(
  port: number,
  o: {
    head: string;
    bytes: number;
    frame?: (b: Buffer) => Buffer;
    tail?: string;
    /** Once the first `after` bytes are written, the rest waits for this (the server's answer). */
    gate?: { after: number; open: () => Promise<void> };
  },
) {
  return new Promise<Outcome>((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('no outcome within 10 s'));
    }, 10_000);
    let text = '';
    let error: string | undefined;
    let written = 0;
    const finish = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve({ status: text.split('\r\n')[0] ?? '', error, written });
    };
    s.pause();
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      // Kept alive: the whole answer (its JSON body ends in '}') is the end of the test.
      if (/\r\n\r\n[\s\S]*\}$/.test(text)) finish();
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    s.on('close', finish);
    s.write(o.head);
    const block = Buffer.alloc(16 * 1024, 0x20);
    let gated = o.gate === undefined;
    const pump = (): void => {
      while (written < o.bytes && !s.destroyed) {
        if (!gated && written >= (o.gate?.after ?? 0)) {
          gated = true;
          o.gate?.open().then(pump, reject);
          return;
        }
        written += block.length;
        if (!s.write(o.frame ? o.frame(block) : block)) {
          s.once('drain', pump);
          return;
        }
      }
      if (s.destroyed) return;
      // All of it handed over: only now is anything read.
      s.write(o.tail ?? '', () => s.resume());
    };
    pump();
  });
}

const chunk = (b: Buffer): Buffer =>
  Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);

describe('a kick body over maxBodyBytes', () => {
  // The rest of the body is written only once the server has answered: a client on a link
  // slower than loopback, whose socket buffers do not take its whole body at once.
  it('declared by its Content-Length: a client that writes all of it first reads its 413', async () => {
    const { port, answered } = await admin();
    const bytes = 512 * 1024;
    const out = await send(port, {
      head: head(`Content-Length: ${bytes}`),
      bytes,
      gate: { after: 0, open: answered },
    });
    expect(out).toMatchObject({ status: 'HTTP/1.1 413 Payload Too Large', error: undefined });
  });

  it('sent chunked: a client that writes all of it first reads its 413', async () => {
    const { port, answered } = await admin();
    const out = await send(port, {
      head: head('Transfer-Encoding: chunked'),
      bytes: 512 * 1024,
      frame: chunk,
      tail: '0\r\n\r\n',
      gate: { after: 32 * 1024, open: answered },
    });
    expect(out).toMatchObject({ status: 'HTTP/1.1 413 Payload Too Large', error: undefined });
  });

  it('read to its end, leaves the connection usable for the next request', async () => {
    const { port } = await admin();
    const body = Buffer.alloc(20 * 1024, 0x20);
    const info = `GET /api/v1/info HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`;
    const s = connect(port, '127.0.0.1');
    cleanups.push(() => s.destroy());
    s.write(Buffer.concat([Buffer.from(head(`Content-Length: ${body.length}`)), body, Buffer.from(info)]));
    let text = '';
    await new Promise<void>((resolve, reject) => {
      s.on('error', reject);
      s.on('close', () => reject(new Error(`closed after ${JSON.stringify(text.slice(0, 200))}`)));
      s.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text.includes('HTTP/1.1 200')) resolve();
      });
    });
    expect(text.startsWith('HTTP/1.1 413 Payload Too Large')).toBe(true);
  });

  // Each body within the bound by itself, the connection kept alive: 413 after 413 used to
  // read all of the 128 MiB written, 17 KiB at a time.
  it('413 after 413 on one kept-alive connection: the server reads a bounded part in all', async () => {
    const { port } = await admin();
    const body = Buffer.alloc(17 * 1024, 0x20);
    for (const framing of [`Content-Length: ${body.length}`, 'Transfer-Encoding: chunked']) {
      const request = Buffer.concat([
        Buffer.from(head(framing)),
        framing.startsWith('T') ? Buffer.concat([chunk(body), Buffer.from('0\r\n\r\n')]) : body,
      ]);
      const written = await flood(port, request, 128 * 1024 * 1024);
      expect(written).toBeLessThan(16 * 1024 * 1024);
    }
  });

  it('far over the bound: answered 413 and closed without reading all of it', async () => {
    const { port } = await admin();
    // 64 MiB: far more than the bound and than the sockets' buffers can hold.
    const bytes = 64 * 1024 * 1024;
    for (const framing of [`Content-Length: ${bytes}`, 'Transfer-Encoding: chunked']) {
      const out = await send(port, {
        head: head(framing),
        bytes,
        frame: framing.startsWith('T') ? chunk : undefined,
      });
      expect(out.written).toBeLessThan(bytes);
    }
  });
});

/**
 * Writes `request` again and again, reading and dropping the answers, until the server closes
 * the connection or `max` bytes are written; resolves with the bytes the client's socket took.
 */
function flood(port: number, request: Buffer, max: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('no outcome within 20 s'));
    }, 20_000);
    let written = 0;
    const finish = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(written);
    };
    s.resume();
    s.on('error', () => {});
    s.on('close', finish);
    const pump = (): void => {
      while (!s.destroyed && written < max) {
        written += request.length;
        if (!s.write(request)) {
          s.once('drain', pump);
          return;
        }
      }
      if (!s.destroyed) finish();
    };
    pump();
  });
}

describe('a kick whose client is gone before its body ended', () => {
  it('is no failure of the server: a debug line, no error line', async () => {
    const sw = new Switcher({ password: 'body-limit' });
    cleanups.push(() => sw.close({ timeout: 300 }));
    const log = captureLogger();
    const a = await startAdmin({ switcher: sw, port: 0, token: TOKEN, logger: log });
    cleanups.push(() => a.close());
    // Half of a declared 1,000-byte body, then the client's end: the server's reader sees the
    // connection end before the body did (TCP delivers the bytes before the FIN).
    const s = connect(a.port, '127.0.0.1');
    s.on('error', () => {});
    s.resume();
    cleanups.push(() => s.destroy());
    s.end(`${head('Content-Length: 1000')}${'{'.padEnd(500, ' ')}`);
    await expect
      .poll(() => log.find('admin request cut off by its client').length, { timeout: 5_000 })
      .toBe(1);
    expect(log.find('admin request cut off by its client')[0]).toMatchObject({
      level: 'debug',
      fields: { path: '/api/v1/clients/alice' },
    });
    expect(log.find('admin handler failed')).toEqual([]);
  });
});
