import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGunzip } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { acceptsGzip, EventHub } from '../../../src/admin/events.js';
import type { HttpError } from '../../../src/admin/http.js';
import { captureLogger } from '../../helpers/faulty-log.js';

/**
 * The event hub on real HTTP connections: a reader that stops reading is closed once its unsent
 * bytes pass the limit (and its slot is free again), while a reader that keeps up is not; the
 * number of streams is capped.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Serves `hub` on 127.0.0.1; `responses` collects the server's end of each request. */
async function serve(hub: EventHub, hello: unknown = {}, responses: ServerResponse[] = []): Promise<string> {
  const server: Server = createServer((req, res) => {
    responses.push(res);
    try {
      hub.open(req, res, () => [['hello', hello]]);
    } catch (err) {
      res.writeHead((err as HttpError).status).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

interface Reader {
  status: number;
  /** Bytes received so far. */
  received(): number;
  closed: Promise<void>;
  pause(): void;
  resume(): void;
  destroy(): void;
}

function follow(url: string): Promise<Reader> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      res.on('error', () => {});
      const closed = new Promise<void>((r) => res.socket.once('close', () => r()));
      resolve({
        status: res.statusCode ?? 0,
        received: () => bytes,
        closed,
        pause: () => res.socket.pause(),
        resume: () => res.socket.resume(),
        destroy: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin event hub', () => {
  it('closes a stream whose reader stopped reading, frees its slot, and keeps the others', async () => {
    const log = captureLogger();
    const hub = new EventHub(2, 1024 * 1024, log);
    cleanups.push(() => hub.close());
    const url = await serve(hub);
    const stalled = await follow(url);
    const reading = await follow(url);
    cleanups.push(
      () => stalled.destroy(),
      () => reading.destroy(),
    );
    expect([stalled.status, reading.status]).toEqual([200, 200]);
    expect((await follow(url)).status).toBe(503);
    stalled.pause();
    const payload = { fill: 'x'.repeat(64 * 1024) };
    const size = JSON.stringify(payload).length + 'event: snapshot\ndata: \n\n'.length;
    // One message at a time, each once the reader that keeps up has it all: the stalled one's
    // kernel buffers (a few MB on loopback) fill, then its unsent bytes pass the limit.
    let expected = reading.received();
    for (let sent = 0; hub.size === 2 && sent < 1_000; sent++) {
      hub.send('snapshot', payload);
      expected += size;
      await expect.poll(() => reading.received(), { timeout: 5_000, interval: 2 }).toBe(expected);
    }
    expect(hub.size).toBe(1);
    // The stalled reader, reading again, finds its connection closed.
    stalled.resume();
    await stalled.closed;
    expect(log.find('admin event stream too slow; closing it')).toHaveLength(1);
    // The reader that kept up is still open, and the slot is free again.
    hub.send('snapshot', payload);
    expected += size;
    await expect.poll(() => reading.received(), { timeout: 5_000, interval: 2 }).toBe(expected);
    const again = await follow(url);
    cleanups.push(() => again.destroy());
    expect(again.status).toBe(200);
  });
});

describe('admin event hub ending its streams', () => {
  it('closes an ended stream whose reader stopped reading once it makes no progress, and ends the others', async () => {
    // endAll() (a rotated token) ends the streams and forgets them. A stream's stall deadline is
    // lifted while it is open (bufferLimit bounds it instead): a reader that had stopped reading
    // kept its connection, and the bytes held for it, for good once its stream was ended.
    const hub = new EventHub(2, 64 * 1024 * 1024, captureLogger(), 200);
    cleanups.push(() => hub.close());
    const responses: ServerResponse[] = [];
    const url = await serve(hub, {}, responses);
    const stalled = await follow(url);
    const reading = await follow(url);
    cleanups.push(
      () => stalled.destroy(),
      () => reading.destroy(),
    );
    const [held, kept] = responses;
    let heldClosed = false;
    held.once('close', () => {
      heldClosed = true;
    });
    stalled.pause();
    const payload = { fill: 'x'.repeat(64 * 1024) };
    const size = JSON.stringify(payload).length + 'event: snapshot\ndata: \n\n'.length;
    // Until the stalled reader's kernel buffers are full and the server holds bytes for it.
    let expected = reading.received();
    for (let sent = 0; held.writableLength === 0 && sent < 1_000; sent++) {
      hub.send('snapshot', payload);
      expected += size;
      await expect.poll(() => reading.received(), { timeout: 5_000, interval: 2 }).toBe(expected);
    }
    expect(held.writableLength).toBeGreaterThan(0);
    hub.endAll();
    expect(hub.size).toBe(0);
    // The reader that keeps up gets the end of its stream.
    await reading.closed;
    expect(kept.writableFinished).toBe(true);
    // The stalled one's connection is closed, not held for as long as its client likes.
    await expect.poll(() => heldClosed, { timeout: 3_000, interval: 20 }).toBe(true);
  });
});

/** A reader of the stream's text, asking for gzip or not: what arrived, on the wire and decoded. */
interface TextReader {
  headers: Record<string, string | string[] | undefined>;
  /** Bytes received on the wire (compressed when gzip). */
  wire(): number;
  /** The decoded text so far. */
  text(): string;
  /** Settles when the body ended (after the gzip trailer, decoded without error). */
  ended: Promise<void>;
  destroy(): void;
}

/** The socket of each reader, for a test that stops reading one. */
const sockets = new WeakMap<TextReader, { pause(): void }>();

function readText(url: string, gzip: boolean): Promise<TextReader> {
  return new Promise((resolve, reject) => {
    const headers = gzip ? { 'accept-encoding': 'gzip' } : {};
    const req = request(url, { agent: false, headers }, (res) => {
      let wire = 0;
      let text = '';
      res.on('data', (c: Buffer) => {
        wire += c.length;
      });
      const body = res.headers['content-encoding'] === 'gzip' ? res.pipe(createGunzip()) : res;
      body.setEncoding('utf8');
      body.on('data', (c: string) => {
        text += c;
      });
      const ended = new Promise<void>((r, j) => {
        body.on('end', () => r());
        body.on('error', j);
      });
      ended.catch(() => {});
      const reader: TextReader = {
        headers: res.headers,
        wire: () => wire,
        text: () => text,
        ended,
        destroy: () => req.destroy(),
      };
      sockets.set(reader, res.socket);
      resolve(reader);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin event hub compression', () => {
  it('compresses a stream that accepts gzip, each event decodable as it is sent, the same text as plain', async () => {
    const hub = new EventHub(4, 4 * 1024 * 1024, captureLogger());
    cleanups.push(() => hub.close());
    const url = await serve(hub, { hello: true });
    const plain = await readText(url, false);
    const zipped = await readText(url, true);
    cleanups.push(
      () => plain.destroy(),
      () => zipped.destroy(),
    );
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toBe('accept-encoding');
    // Rows much alike, as a snapshot's are; each event must be readable before the next is sent
    // (a flush per event), and the deflate context carries over from event to event.
    const rows = (n: number) =>
      Array.from({ length: 200 }, (_, i) => ({ domain: `client-${i}`, bytesIn: i * n, rateIn: n }));
    for (let n = 1; n <= 5; n++) {
      hub.send('snapshot', { t: n, clients: rows(n) });
      const tail = `"rateIn":${n}}]}\n\n`;
      await expect.poll(() => zipped.text().endsWith(tail), { timeout: 5_000, interval: 2 }).toBe(true);
      await expect.poll(() => plain.text().endsWith(tail), { timeout: 5_000, interval: 2 }).toBe(true);
    }
    expect(zipped.text()).toBe(plain.text());
    expect(zipped.wire()).toBeLessThan(plain.wire() / 5);
    // Closing the hub ends the compressed body properly: the trailer decodes without error.
    hub.close();
    await zipped.ended;
    await plain.ended;
    expect(zipped.text()).toBe(plain.text());
  });

  it('closes a compressed stream whose reader stopped reading, and keeps the one that reads', async () => {
    const log = captureLogger();
    const hub = new EventHub(2, 1024 * 1024, log);
    cleanups.push(() => hub.close());
    const url = await serve(hub);
    const stalled = await readText(url, true);
    const reading = await readText(url, true);
    cleanups.push(
      () => stalled.destroy(),
      () => reading.destroy(),
    );
    expect(stalled.headers['content-encoding']).toBe('gzip');
    sockets.get(stalled)?.pause();
    // Base64 of random bytes: gzip saves a quarter of it, so the backlog grows as it is sent.
    for (let n = 0; hub.size === 2 && n < 2_000; n++) {
      const tail = `"n":${n}}\n\n`;
      hub.send('snapshot', { fill: randomBytes(48 * 1024).toString('base64'), n });
      await expect.poll(() => reading.text().endsWith(tail), { timeout: 5_000, interval: 2 }).toBe(true);
    }
    expect(hub.size).toBe(1);
    expect(log.find('admin event stream too slow; closing it')).toHaveLength(1);
    hub.send('snapshot', { n: 'after' });
    await expect.poll(() => reading.text().endsWith('"n":"after"}\n\n'), { timeout: 5_000 }).toBe(true);
  });

  it('reads Accept-Encoding as HTTP does', () => {
    expect(acceptsGzip(undefined)).toBe(false);
    expect(acceptsGzip('')).toBe(false);
    expect(acceptsGzip('gzip, deflate, br, zstd')).toBe(true);
    expect(acceptsGzip('br;q=1.0, GZIP;q=0.5')).toBe(true);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('gzip;q=0, *')).toBe(false);
    expect(acceptsGzip('x-gzip')).toBe(true);
    expect(acceptsGzip('*')).toBe(true);
    expect(acceptsGzip('identity, deflate')).toBe(false);
  });
});

describe('admin event hub close', () => {
  it('ends the streams and settles when their ends went out, or after its grace for a reader that stopped reading', async () => {
    // The admin server closes the connections once close() settles (server.ts): before the
    // ends went out, a compressed stream lost its gzip trailer; waited for without a bound, a
    // reader that stopped reading held close() for as long as it liked.
    const hub = new EventHub(2, 64 * 1024 * 1024, captureLogger());
    cleanups.push(() => hub.close());
    const responses: ServerResponse[] = [];
    const url = await serve(hub, {}, responses);
    const stalled = await readText(url, true);
    const reading = await readText(url, true);
    cleanups.push(
      () => stalled.destroy(),
      () => reading.destroy(),
    );
    const [held] = responses;
    sockets.get(stalled)?.pause();
    // Until the stalled reader's kernel buffers are full and the server holds bytes for it.
    for (let n = 0; held.writableLength === 0 && n < 2_000; n++) {
      const tail = `"n":${n}}\n\n`;
      hub.send('snapshot', { fill: randomBytes(48 * 1024).toString('base64'), n });
      await expect.poll(() => reading.text().endsWith(tail), { timeout: 5_000, interval: 2 }).toBe(true);
    }
    expect(held.writableLength).toBeGreaterThan(0);
    let bound: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      hub.close(300).then(() => 'settled'),
      new Promise<string>((r) => {
        bound = setTimeout(() => r('held'), 5_000);
      }),
    ]);
    clearTimeout(bound);
    expect(outcome).toBe('settled');
    // The reader that keeps up got its whole compressed body, trailer and all.
    await reading.ended;
    expect(held.writableFinished).toBe(false);
  });
});

/**
 * A response whose reader takes what the test says: `writableLength` is what was written and not
 * taken yet; the request asks for no gzip.
 */
function heldResponse() {
  const res = Object.assign(new EventEmitter(), {
    writableLength: 0,
    writableFinished: false,
    destroyed: false,
    text: '',
    writeHead: () => res,
    write(text: string) {
      res.writableLength += Buffer.byteLength(text);
      res.text += text;
      return true;
    },
    end() {
      res.writableFinished = true;
      res.emit('finish');
    },
    destroy() {
      res.destroyed = true;
      res.emit('close');
    },
  });
  const req = { method: 'GET', headers: {}, socket: { setNoDelay: () => {}, setTimeout: () => {} } };
  return { req: req as unknown as IncomingMessage, res };
}

describe('admin event hub and a hello larger than its buffer limit', () => {
  it('lets a slow reader receive the hello, then holds it to the limit', () => {
    // A limit below the hello's size: a reader that took longer than a sample to receive the
    // hello was closed, reconnected and was sent it again, for ever.
    const log = captureLogger();
    const hub = new EventHub(4, 1024, log);
    cleanups.push(() => hub.close());
    const { req, res } = heldResponse();
    hub.open(req, res as unknown as ServerResponse, () => [['hello', { fill: 'x'.repeat(10_000) }]]);
    const hello = res.writableLength;
    expect(hello).toBeGreaterThan(10_000);
    hub.send('delta', { n: 1 });
    // Some of the hello taken, not all: still more than the limit unsent.
    res.writableLength = 5_000;
    hub.send('delta', { n: 2 });
    expect(res.destroyed).toBe(false);
    expect(res.text).toContain('"n":2');
    // The reader caught up: from now on the limit holds alone.
    res.writableLength = 0;
    hub.send('delta', { n: 3 });
    res.writableLength = 1025;
    hub.send('delta', { n: 4 });
    expect(res.destroyed).toBe(true);
    expect(res.text).not.toContain('"n":4');
    expect(log.find('admin event stream too slow; closing it')).toHaveLength(1);
  });

  it('closes a reader that takes nothing once the hello and the limit are unsent', () => {
    const log = captureLogger();
    const hub = new EventHub(4, 1024, log);
    cleanups.push(() => hub.close());
    const { req, res } = heldResponse();
    hub.open(req, res as unknown as ServerResponse, () => [['hello', { fill: 'x'.repeat(10_000) }]]);
    const hello = res.writableLength;
    let sent = 0;
    while (!res.destroyed && sent < 100) hub.send('delta', { fill: 'y'.repeat(200), n: sent++ });
    expect(res.destroyed).toBe(true);
    // Closed at the first message sent past the hello and the limit, not before.
    expect(res.writableLength).toBeGreaterThan(hello + 1024);
    expect(res.writableLength).toBeLessThan(hello + 1024 + 300);
  });
});
