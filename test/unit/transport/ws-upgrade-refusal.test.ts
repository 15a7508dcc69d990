import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { ConfigError } from '../../../src/errors.js';
import { wsUpgradeHandler } from '../../../src/transport/ws.js';

/**
 * wsUpgradeHandler's `onRefusal`: an application serving flex on its own HTTP server is told of
 * the upgrades to the path that the handler refused (ws answers them itself and closes), which it
 * could not count before.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const UPGRADE = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n';

/** Sends `bytes` on a fresh connection; resolves with all it read once closed. */
function exchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    cleanups.push(() => sock.destroy());
    sock.on('error', () => {});
    let got = '';
    sock.on('data', (c: Buffer) => {
      got += c.toString('latin1');
    });
    sock.once('close', () => resolve(got));
    sock.write(bytes);
  });
}

describe('wsUpgradeHandler onRefusal', () => {
  it('hears an upgrade to the path that ws refused, with its request; not one it took, nor another path', async () => {
    const heard: [string, string | undefined][] = [];
    const handle = wsUpgradeHandler({ onRefusal: (reason, req) => heard.push([reason, req.url]) }, (t) =>
      t.destroy(),
    );
    const srv = http.createServer();
    srv.on('upgrade', (req, socket, head) => {
      if (!handle(req, socket, head)) socket.destroy();
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      srv.closeAllConnections();
      return new Promise((resolve) => srv.close(resolve));
    });
    const port = (srv.address() as AddressInfo).port;
    // Another path: not the handler's (false), destroyed by the server, told nothing.
    await exchange(port, `GET /other HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`);
    // One it takes.
    const ok = new WebSocket(`ws://127.0.0.1:${port}/flex/ws`);
    ok.on('error', () => {});
    cleanups.push(() => ok.terminate());
    await new Promise((resolve) => ok.once('open', resolve));
    // No Sec-WebSocket-Key: refused with a 400, heard once closed.
    expect(await exchange(port, `GET /flex/ws?a=1 HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`)).toMatch(
      /^HTTP\/1.1 400/,
    );
    // Told at the server's close of it, which the client's need not follow.
    await vi.waitFor(() => expect(heard).toEqual([['bad-upgrade', '/flex/ws?a=1']]), { timeout: 3_000 });
  });

  it('refuses an onRefusal that is not a function', () => {
    const bad = { onRefusal: 'count' } as unknown as Parameters<typeof wsUpgradeHandler>[0];
    expect(() => wsUpgradeHandler(bad, () => {})).toThrow(ConfigError);
    expect(() => wsUpgradeHandler(bad, () => {})).toThrow(
      'option onRefusal must be a function, got "count" (a string)',
    );
  });
});
