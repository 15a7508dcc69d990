import * as http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { listenDemo } from '../../src/demo/index.js';
import { Switcher } from '../../src/switcher/switcher.js';

/**
 * Found by the transport leads hunt: the demo listener matched the request target as sent, so a
 * GET in absolute form (GET http://host/ HTTP/1.1, what a client sends through a forward proxy,
 * and which a server must accept: RFC 9112 3.2.2) was answered 404, the page and the WebSocket
 * path's 426 alike. The upgrade path took such a target already (d60b761).
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** GET `target` as the request target, as sent; resolves to the status and the headers. */
function get(port: number, target: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, agent: false }, (res) => {
      res.resume();
      resolve(res);
    });
    req.once('error', reject);
    cleanups.push(() => req.destroy());
    req.end();
  });
}

describe('the demo listener and request targets in absolute form', () => {
  it('serves the page and answers 426 at the WebSocket path', async () => {
    const sw = new Switcher({ password: 'demo-requests' });
    cleanups.push(() => sw.close({ timeout: 1_000 }));
    const demo = await listenDemo(sw, {
      host: '127.0.0.1',
      port: 0,
      echo: false,
      bundle: new TextEncoder().encode('/* bundle */'),
    });
    cleanups.push(() => demo.close());
    const port = demo.address.port;
    const origin = `http://127.0.0.1:${port}`;
    expect((await get(port, `${origin}/`)).statusCode).toBe(200);
    expect((await get(port, `${origin}/?x=1`)).statusCode).toBe(200);
    const ws = await get(port, `${origin}/flex/ws`);
    expect(ws.statusCode).toBe(426);
    expect(ws.headers.upgrade).toBe('websocket');
    expect((await get(port, `${origin}/nothing-here`)).statusCode).toBe(404);
  });
});
