// The receiving side of bench/wsbulk.mjs: one process serving the same one-way transfer three
// ways on 127.0.0.1, a flexmux node behind listenWs (virtual port 80), a plain `ws` server and a
// plain TCP server. Each connection (or stream) counts the bytes it receives and, once it has
// the count given as argv[2], sends one byte back, which the client times as the end. argv[3] is
// the URL of the flexmux build to load (default: this repository's dist/).

import { createRequire } from 'node:module';
import net from 'node:net';
import { serveRequests } from './relay-ipc.mjs';

const BYTES = Number(process.argv[2]);
const DONE = Buffer.from('A');
const { Node, listenWs } = await import(
  process.argv[3] ?? new URL('../../dist/index.js', import.meta.url).href
);
const { WebSocketServer } = createRequire(import.meta.url)('ws');

/** Calls `done` once `n` bytes have been counted. */
function counter(done) {
  let got = 0;
  return (len) => {
    got += len;
    if (got === BYTES) done();
  };
}

const flex = await listenWs({ host: '127.0.0.1', port: 0 }, (transport) => {
  const node = new Node(transport, { ip: 2, domain: 'server', heartbeatInterval: 0 });
  node.on('error', () => {});
  node.listen(80).on('stream', (s) => {
    s.on('error', () => {});
    const count = counter(() => s.end(DONE));
    s.on('data', (c) => count(c.length));
  });
});

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 0 });
await new Promise((resolve) => wss.once('listening', resolve));
wss.on('connection', (ws) => {
  ws.on('error', () => {});
  const count = counter(() => ws.send(DONE));
  ws.on('message', (m) => count(m.length));
});

const tcp = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => {});
  const count = counter(() => socket.end(DONE));
  socket.on('data', (c) => count(c.length));
});
await new Promise((resolve) => tcp.listen(0, '127.0.0.1', resolve));

serveRequests({});
process.send({ type: 'ready', flex: flex.address.port, ws: wss.address().port, tcp: tcp.address().port });
