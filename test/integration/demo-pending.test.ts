import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/connect.js';
import { listenDemo } from '../../src/demo/index.js';
import { Switcher } from '../../src/switcher/switcher.js';

/**
 * The demo page's port admits nodes over WebSocket too, and bounds connections before their
 * upgrade at maxPendingAdmissions. A browser's keep-alive connections to the page counted there
 * for as long as they stayed open: a few browsers on the page held the slots, and a node's
 * connection was turned away at once.
 */

const PASSWORD = 'demo-pending';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A raw keep-alive connection that has fetched the page; resolves once the answer began. */
function browserConnection(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    cleanups.push(() => sock.destroy());
    sock.once('error', reject);
    sock.once('data', (chunk) => {
      expect(chunk.toString('latin1')).toMatch(/^HTTP\/1\.1 200 /);
      resolve(sock);
    });
    sock.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
  });
}

describe('the demo page and pending admissions', () => {
  it('admits a node while browsers hold keep-alive connections to the page', async () => {
    const sw = new Switcher({ password: PASSWORD, maxPendingAdmissions: 2 });
    cleanups.push(() => sw.close({ timeout: 1_000 }));
    const demo = await listenDemo(sw, {
      host: '127.0.0.1',
      port: 0,
      echo: false,
      bundle: new TextEncoder().encode('/* bundle */'),
    });
    cleanups.push(() => demo.close());
    const port = demo.address.port;
    const open = [await browserConnection(port), await browserConnection(port)];
    const node = connect(`ws://127.0.0.1:${port}/flex/ws`, {
      password: PASSWORD,
      domain: 'late',
      reconnect: false,
    });
    cleanups.push(() => node.close());
    // Before: the WebSocket's connection was closed on arrival, the session with it.
    await node.ready({ timeout: 10_000 });
    expect(sw.clients().map((c) => c.domain)).toEqual(['late']);
    // The browsers' connections were kept, not dropped to make room.
    for (const s of open) expect(s.destroyed).toBe(false);
  });
});
