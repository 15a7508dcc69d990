/**
 * A TCP tunnel through a switcher, what `flexmux node --expose` and `--forward` do:
 *
 *   local TCP server  <-  node "office" (exposes it on virtual port 80)
 *                            |  switcher
 *   TCP client  ->  forward port on 127.0.0.1  ->  node "laptop" (dials office:80)
 *
 * splice() joins each TCP connection to its stream. Both directions carry the half-close: the
 * client ends its request, the server answers after seeing that end, and the client reads the
 * answer to its end. A failure on either side reaches the other as a failure: a stream reset
 * resets the TCP connection (ECONNRESET at the client), where stream.pipeline would end it with a
 * FIN and the client take the part of the answer it got for all of it.
 *
 *   npx tsx examples/tcp-proxy.ts
 */
import * as net from 'node:net';
import { connect, type FlexStream, Switcher, serveTcp, splice } from '../src/index.js';

const listening = (server: net.Server): Promise<number> =>
  new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );

// 1. A plain TCP service: counts the bytes of a request and answers once the request has ended.
const service = net.createServer({ allowHalfOpen: true }, (socket) => {
  let bytes = 0;
  socket.on('data', (c: Buffer) => {
    bytes += c.length;
  });
  socket.on('end', () => socket.end(`service read ${bytes} bytes\n`));
});
const servicePort = await listening(service);

// 2. The switcher.
const password = 'example-password';
const switcher = new Switcher({ password });
const relay = await serveTcp(switcher, { host: '127.0.0.1', port: 0 });
const url = `tcp://127.0.0.1:${relay.address.port}`;

// 3. "office" exposes the service as office:80.
const office = connect(url, { password, domain: 'office' });
office.listen(80).on('stream', (stream: FlexStream) => {
  // noDelay: a tunnel should not add Nagle's wait for a delayed ACK to a reply sent in parts.
  const socket = net.connect({ host: '127.0.0.1', port: servicePort, allowHalfOpen: true, noDelay: true });
  // Resolves once both sides closed: undefined after a clean end, else the first error.
  void splice(socket, stream).then((err) => {
    if (err) console.log(`office tunnel failed: ${err.message}`);
  });
});

// 4. "laptop" forwards a local port to office:80.
const laptop = connect(url, { password, domain: 'laptop' });
const forward = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => {
  laptop.dial('office:80').then(
    (stream) => {
      socket.resume(); // paused while the dial was under way
      void splice(socket, stream);
    },
    // A failed dial resets the client: destroy() would end it like an empty answer.
    () => socket.resetAndDestroy(),
  );
});
const forwardPort = await listening(forward);
await Promise.all([office.ready(), laptop.ready()]);
console.log(`service on 127.0.0.1:${servicePort}, reachable through 127.0.0.1:${forwardPort}`);

// 5. A client of the forwarded port.
const answer = await new Promise<string>((resolve, reject) => {
  const client = net.connect({ host: '127.0.0.1', port: forwardPort, allowHalfOpen: true });
  let text = '';
  client.on('data', (c: Buffer) => {
    text += String(c);
  });
  client.on('end', () => {
    client.end();
    resolve(text);
  });
  client.on('error', reject);
  client.end(Buffer.alloc(100_000, 'x'));
});
console.log(`client got: ${answer.trim()}`);

forward.close();
await Promise.all([laptop.close(), office.close()]);
await relay.close();
await switcher.close();
service.close();
console.log('done');
