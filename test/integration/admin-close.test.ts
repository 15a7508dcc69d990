import { request } from 'node:http';
import { createGunzip } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { type AdminServer, startAdmin } from '../../src/admin/index.js';
import { Switcher } from '../../src/switcher/index.js';

/**
 * admin.close() ends the event streams before it closes their connections: a compressed stream
 * (every browser's) gets its gzip trailer and ends cleanly, as a plain one does.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Stream {
  gzip: boolean;
  /** Settles once the first event (hello) has arrived. */
  opened: Promise<void>;
  /** 'end' when the body ended cleanly (decoded whole), else the error's message. */
  outcome: Promise<string>;
}

function follow(url: string, gzip: boolean): Stream {
  const u = new URL('/api/v1/events', url);
  let open = (): void => {};
  const opened = new Promise<void>((r) => {
    open = r;
  });
  const outcome = new Promise<string>((resolve) => {
    const req = request(u, { agent: false, headers: gzip ? { 'accept-encoding': 'gzip' } : {} }, (res) => {
      const zipped = res.headers['content-encoding'] === 'gzip';
      expect(zipped).toBe(gzip);
      const body = zipped ? res.pipe(createGunzip()) : res;
      res.on('error', (err) => resolve(err.message));
      res.on('aborted', () => resolve('aborted'));
      body.on('error', (err) => resolve(err.message));
      body.setEncoding('utf8');
      let text = '';
      body.on('data', (c: string) => {
        text += c;
        if (text.includes('event: hello')) open();
      });
      body.on('end', () => resolve(res.complete ? 'end' : 'aborted'));
    });
    req.on('error', (err) => resolve(err.message));
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    cleanups.push(() => req.destroy());
    req.end();
  });
  return { gzip, opened, outcome };
}

describe('admin.close() and open event streams', () => {
  it('ends compressed and plain streams cleanly before closing their connections', async () => {
    const sw = new Switcher({ password: 'x' });
    cleanups.push(() => sw.close());
    const admin: AdminServer = await startAdmin({ switcher: sw, port: 0 });
    cleanups.push(() => admin.close());
    const streams = [follow(admin.url, true), follow(admin.url, false), follow(admin.url, true)];
    await Promise.all(streams.map((s) => s.opened));
    await admin.close();
    const outcomes = await Promise.all(streams.map((s) => s.outcome));
    expect(outcomes).toEqual(['end', 'end', 'end']);
  });
});
