import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type AdminServer, startAdmin } from '../../src/admin/index.js';
import { startTraffic, type Traffic } from './admin-fixture.js';

/**
 * Requests pipelined behind one whose answer is not finished: Node parses them and calls the
 * handler for each at once, and keeps their answers until the earlier one ends. Behind an event
 * stream (which never ends) a client held every answer it asked for in the server's memory for
 * as long as it kept reading events: 64 KB of pipelined `GET /api/v1/clients` is some 1,400
 * answers, each a page of up to 1,000 clients. Now a connection has one request answered at a
 * time, the next waiting for it, and more than 16 waiting close the connection.
 */
describe('admin server: pipelined requests', () => {
  let t: Traffic;
  let admin: AdminServer;

  beforeAll(async () => {
    t = await startTraffic();
    // maxSnapshotItems 999: the event stream's reads of the clients are told from the list's.
    admin = await startAdmin({ switcher: t.sw, port: 0, maxSnapshotItems: 999 });
  });

  afterAll(async () => {
    await admin?.close();
    await t?.close();
  });

  it('behind an event stream are not answered in advance, and too many close the connection', async () => {
    const spy = vi.spyOn(t.sw, 'clients');
    const sock = connect(admin.port, '127.0.0.1');
    sock.on('error', () => {});
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    sock.resume(); // reads the events: the stream is alive, not a stalled reader
    const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    sock.write(get('/api/v1/events') + get('/api/v1/clients').repeat(40));
    const timer = new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), 3_000));
    try {
      expect(await Promise.race([closed.then(() => 'closed' as const), timer])).toBe('closed');
      // The list was never built: every list request waited behind the event stream.
      expect(spy.mock.calls.filter((args) => args[0] === 1_000)).toHaveLength(0);
    } finally {
      spy.mockRestore();
      sock.destroy();
    }
  });

  it('up to 17 at once are answered one after another, in order', async () => {
    const sock = connect(admin.port, '127.0.0.1');
    sock.on('error', () => {});
    let text = '';
    const all = new Promise<void>((resolve) =>
      sock.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text.split('HTTP/1.1 200').length - 1 === 17) resolve();
      }),
    );
    // One answered, 16 waiting: the most a connection may have.
    sock.write('GET /api/v1/clients HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(17));
    try {
      await all;
      expect(text.split('"count":2').length - 1).toBe(17);
    } finally {
      sock.destroy();
    }
  });
});
