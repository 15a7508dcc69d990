import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EventHub } from '../../../src/admin/events.js';
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

async function serve(hub: EventHub): Promise<string> {
  const server: Server = createServer((req, res) => {
    try {
      hub.open(req, res, () => [['hello', {}]]);
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
