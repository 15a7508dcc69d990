import { once } from 'node:events';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type FlexStream, memoryPair, Node, splice } from '../../src/index.js';

/**
 * `splice` as a user of the package runs it, from the package entry: a local TCP port forwarded
 * into a flex stream (examples/tcp-proxy.ts, the manual's tunnel sample). The service at the far
 * end is a flex listener, so that the test can fail the flex side at will.
 */

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/**
 * A TCP port on 127.0.0.1 forwarded to bob:80 through splice, and the streams bob accepts; each
 * forwarded connection's splice result is pushed to `results`.
 */
async function tunnel(): Promise<{
  port: number;
  accepted: AsyncIterator<FlexStream>;
  results: Promise<Error | undefined>[];
  relayed: net.Socket[];
}> {
  const [ta, tb] = memoryPair();
  const alice = new Node(ta, { domain: 'alice', ip: 1 });
  const bob = new Node(tb, { domain: 'bob', ip: 2 });
  cleanups.push(() => {
    alice.destroy();
    bob.destroy();
  });
  const listener = bob.listen(80);
  const results: Promise<Error | undefined>[] = [];
  const relayed: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    socket.on('error', () => {});
    relayed.push(socket);
    cleanups.push(() => socket.destroy());
    alice.dial('bob:80').then(
      (stream) => {
        socket.resume();
        results.push(splice(socket, stream));
      },
      () => socket.resetAndDestroy(),
    );
  });
  cleanups.push(() => server.close());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { port, accepted: listener[Symbol.asyncIterator](), results, relayed };
}

/** Resolves once `cond` holds, looked at once a turn of the event loop. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((resolve) => setImmediate(resolve));
}

function client(port: number): net.Socket {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  cleanups.push(() => socket.destroy());
  return socket;
}

describe('splice from the package entry, TCP socket <-> flex stream', () => {
  it('carries a request and its answer, each ended by a half-close', async () => {
    const { port, accepted, results } = await tunnel();
    const c = client(port);
    c.end('request');
    const { value: stream } = await accepted.next();
    let request = '';
    stream.on('data', (chunk: Buffer) => {
      request += String(chunk);
    });
    stream.on('end', () => stream.end(`answer to ${request}`));
    let answer = '';
    c.on('data', (chunk: Buffer) => {
      answer += String(chunk);
    });
    await new Promise((resolve) => c.on('end', resolve));
    expect(answer).toBe('answer to request');
    expect(await results[0]).toBeUndefined();
  });

  // The flex side fails in the middle of its answer: the TCP client must see the transfer cut
  // off (ECONNRESET), not a clean end after part of it, which it would take for the whole answer.
  it('a reset on the flex side reaches the TCP client as ECONNRESET, not an end', async () => {
    const { port, accepted, results } = await tunnel();
    const c = client(port);
    c.write('request');
    const { value: stream } = await accepted.next();
    // The request is read through: a TCP socket closed with bytes unread in its kernel buffer
    // resets its connection by itself, whatever the code that closed it meant.
    expect(String(await once(stream, 'data'))).toBe('request');
    const firstPart = once(c, 'data');
    stream.write('the first part of the answer');
    // Read before the reset: a reset that finds unread bytes waiting is reported as an end.
    await firstPart;
    const ending = new Promise<string>((resolve) => {
      c.on('end', () => resolve('end'));
      c.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    stream.on('error', () => {});
    stream.destroy(new Error('the service failed'));
    expect(await ending).toBe('ECONNRESET');
    expect(await results[0]).toMatchObject({ code: 'FLEX_ERR_STREAM_RESET' });
  });

  // The relay's socket writes to a client that reads nothing, and has the client's bytes unread
  // (the service paused): the client's reset then reached the relay as the end of its data, and
  // only the pending write failed, later. The end went on at once, so the service read a clean
  // end of a cut-off upload, then a reset it could take for a late hiccup.
  it("a client's reset while the relay writes to it reaches the service as a reset, not an end", {
    timeout: 10_000,
  }, async () => {
    const { port, accepted, results, relayed } = await tunnel();
    const c = client(port);
    c.write('request');
    const { value: stream } = await accepted.next();
    expect(String(await once(stream, 'data'))).toBe('request');
    c.pause();
    stream.pause();
    const heard: string[] = [];
    stream.on('end', () => heard.push('end'));
    stream.on('error', () => heard.push('error'));
    const closed = new Promise((resolve) => stream.on('close', resolve));
    // Enough for the relay's socket to queue what the client's buffers cannot take...
    stream.write(Buffer.alloc(8 << 20, 1));
    await until(() => (relayed[0]?.writableLength ?? 0) > 0);
    // ...and for the relay to stop reading the client, the service's side being full.
    c.write(Buffer.alloc(8 << 20, 2));
    await until(() => relayed[0]?.isPaused() === true);
    c.resetAndDestroy();
    stream.resume();
    await closed;
    expect(heard).toEqual(['error']);
    expect(await results[0]).toMatchObject({ code: 'ECONNRESET' });
  });
});
