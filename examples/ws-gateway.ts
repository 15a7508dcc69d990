/**
 * A switcher mounted on an ordinary Node http.Server: WebSocket upgrades on /flex/ws go to the
 * switcher, every other request is served as usual (here GET /hello).
 *
 *   npx tsx examples/ws-gateway.ts
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type FlexStream, Switcher, upgradeHandler } from '../src/index.js';

const password = 'example-password';
const switcher = new Switcher({ password });

const server = http.createServer((req, res) => {
  if (req.url === '/hello') {
    res.end('hello over plain HTTP\n');
    return;
  }
  res.statusCode = 404;
  res.end();
});
const upgrade = upgradeHandler(switcher, { path: '/flex/ws' });
server.on('upgrade', (req, socket, head) => {
  // Upgrades for other paths are not ours: refuse them.
  if (!upgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
console.log(`http://127.0.0.1:${port}/hello and ws://127.0.0.1:${port}/flex/ws on one server`);

const hello = await fetch(`http://127.0.0.1:${port}/hello`);
console.log(`GET /hello: ${hello.status} ${(await hello.text()).trim()}`);

const url = `ws://127.0.0.1:${port}/flex/ws`;
const alice = connect(url, { password, domain: 'alice' });
alice.listen(80).on('stream', (s: FlexStream) => s.end(`alice here, you are ${s.remoteDomain}`));
const bob = connect(url, { password, domain: 'bob' });
await Promise.all([alice.ready(), bob.ready()]);
const stream = await bob.dial('alice:80');
stream.end();
let text = '';
for await (const chunk of stream) text += String(chunk);
console.log(`bob dialled alice over WebSocket: ${text}`);

await Promise.all([alice.close(), bob.close()]);
await switcher.close();
server.closeAllConnections();
await new Promise<void>((resolve) => server.close(() => resolve()));
console.log('done');
