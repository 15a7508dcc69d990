import { once } from 'node:events';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { splice } from '../../src/splice.js';
import { cert, key } from './transport/tls-fixture.js';

/** splice() between two real TCP connections: a relay in the middle of client and server. */

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

async function listen(onSocket: (s: net.Socket) => void): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true }, onSocket);
  cleanup.push(() => server.close());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** client -> relay (splice) -> server; resolves with splice's result. */
async function relay(serverPort: number): Promise<{ port: number; done: Promise<Error | undefined> }> {
  let resolveDone: (p: Promise<Error | undefined>) => void = () => {};
  const done = new Promise<Promise<Error | undefined>>((r) => {
    resolveDone = r;
  }).then((p) => p);
  const port = await listen((inbound) => {
    const outbound = net.connect({ host: '127.0.0.1', port: serverPort, allowHalfOpen: true });
    resolveDone(splice(inbound, outbound));
  });
  return { port, done };
}

/** A loopback TCP connection: the client end, and the accepted end once the server has it. */
async function connection(): Promise<{ client: net.Socket; accepted: Promise<net.Socket> }> {
  let accept: (s: net.Socket) => void = () => {};
  const accepted = new Promise<net.Socket>((resolve) => {
    accept = resolve;
  });
  const port = await listen((s) => accept(s));
  const client = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  cleanup.push(() => client.destroy());
  return { client, accepted };
}

describe('splice', () => {
  it('carries the half-close both ways: the answer follows the end of the request', async () => {
    const serverPort = await listen((s) => {
      let n = 0;
      s.on('data', (c: Buffer) => {
        n += c.length;
      });
      s.on('end', () => s.end(`got ${n}`));
    });
    const { port, done } = await relay(serverPort);
    const client = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    client.end(Buffer.alloc(200_000));
    let answer = '';
    client.on('data', (c: Buffer) => {
      answer += String(c);
    });
    await new Promise((resolve) => client.on('end', resolve));
    client.end();
    expect(answer).toBe('got 200000');
    expect(await done).toBeUndefined();
  });

  /** How a TCP connection ended, seen from one end: a clean 'end' (FIN) or an error (RST). */
  function ending(socket: net.Socket): Promise<string> {
    return new Promise((resolve) => {
      socket.on('data', () => {});
      socket.on('end', () => resolve('end'));
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
  }

  // A FIN would pass for the end of the data: whoever reads the other side must learn of the
  // abort, or it takes a truncated transfer for a whole one.
  it('a reset by the server resets the client, not a clean end', async () => {
    const serverPort = await listen((s) => {
      s.on('error', () => {});
      s.write(Buffer.alloc(10_000), () => s.resetAndDestroy());
    });
    const { port, done } = await relay(serverPort);
    const client = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    cleanup.push(() => client.destroy());
    expect(await ending(client)).toBe('ECONNRESET');
    expect(await done).toMatchObject({ code: 'ECONNRESET' });
  });

  it('a reset by the client resets the server, not a clean end', async () => {
    let serverSide: Promise<string> = new Promise(() => {});
    let accepted: () => void = () => {};
    const got = new Promise<void>((resolve) => {
      accepted = resolve;
    });
    const serverPort = await listen((s) => {
      serverSide = ending(s);
      s.once('data', () => accepted());
    });
    const { port, done } = await relay(serverPort);
    const client = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    client.on('error', () => {});
    client.write('request, then the client goes away');
    await got;
    client.resetAndDestroy();
    expect(await serverSide).toBe('ECONNRESET');
    expect(await done).toMatchObject({ code: 'ECONNRESET' });
  });

  // A socket whose FIN is under way cannot be reset: libuv refuses (EINVAL) and Node then never
  // closes it. A reset that comes right behind the end of the data must still close the socket.
  it('a reset right behind the end of the data still closes the socket', { timeout: 5_000 }, async () => {
    const { client, accepted } = await connection();
    client.on('error', () => {});
    client.resume();
    const socket = await accepted;
    const socketClosed = new Promise((resolve) => socket.on('close', resolve));
    const flex = endpoint();
    const done = splice(socket, flex);
    // The pipe ends the socket on 'end' (its listener runs first); the reset follows at once.
    flex.on('end', () => flex.destroy(new Error('reset right behind the end')));
    flex.push(null);
    expect(await done).toMatchObject({ message: 'reset right behind the end' });
    await socketClosed;
  });

  // A flex stream can close in both directions at once (a v3 close: a Go peer, or a node that
  // shuts down) while the TCP side is still sending. What it sends then has nowhere to go: left
  // alone, the socket would sit half-open for ever, its data dropped, and splice never settle.
  it('data that comes after the other side closed resets the sender', { timeout: 5_000 }, async () => {
    const { client, accepted } = await connection();
    const clientEnded = ending(client);
    const clientFailed = new Promise<string>((resolve) => {
      client.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    const socket = await accepted;
    // The flex side: ends its reading, and its writing is finished for it, as FlexStream does
    // on a CloseStream from the peer.
    const flex = new Duplex({
      allowHalfOpen: true,
      read() {},
      write(_chunk, _enc, cb) {
        cb();
      },
    });
    const done = splice(socket, flex);
    flex.push(null);
    flex.end();
    await new Promise((resolve) => flex.on('close', resolve));
    // The client sees the end of the data; what it sends now cannot be delivered.
    expect(await clientEnded).toBe('end');
    client.write('more data');
    expect(await done).toMatchObject({ message: expect.stringContaining('could not be delivered') });
    // Past its end of data the client reads no more: it learns of the reset by writing again.
    client.write('and more');
    expect(await clientFailed).toMatch(/^(ECONNRESET|EPIPE)$/);
  });

  // A server that answers a request in part, then resets (it crashed, or gave up): Node on Linux
  // reports that reset as a plain end of the data ('end', no 'error'), and the tunnel passed it
  // on as the answer's clean end, a cut-off answer taken at the other end for a whole one.
  it('a reset that the socket reports as an end is passed on as a reset', { timeout: 20_000 }, async () => {
    const serverPort = await listen((s) => {
      s.on('error', () => {});
      s.once('data', () => {
        for (let i = 0; i < 9; i++) s.write(Buffer.alloc(32 * 1024, 3));
        s.resetAndDestroy();
      });
    });
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      const socket = net.connect({ host: '127.0.0.1', port: serverPort, allowHalfOpen: true });
      cleanup.push(() => socket.destroy());
      const flex = endpoint();
      // The flex side hears either the end of the data (end(), 'finish') or the abort ('close').
      const heard = new Promise<string>((resolve) => {
        flex.on('finish', () => resolve('end'));
        flex.on('close', () => resolve('reset'));
      });
      void splice(socket, flex);
      flex.push(Buffer.from('request'));
      outcomes.push(await heard);
      flex.destroy();
    }
    expect(outcomes).toEqual(Array(20).fill('reset'));
  });

  // The flex side ended (the service's whole answer came) and the socket was ended behind it,
  // but a slow client has not taken the answer yet: its last piece still waits in the socket's
  // own buffer. A reset now (the service reset the other direction: an HTTP 413 that closes
  // while the upload goes on) dropped that piece and closed the socket with a FIN: the client
  // read a cut answer and a clean end. Nothing is shutting down yet (Node shuts the socket down
  // once its buffer is empty), so it can be reset, and is. (The test watches the socket, not the
  // client: libuv reports a reset that finds unread bytes waiting as a plain end of data.)
  it('a reset after the end, while the answer still waits for a slow client, resets the client', {
    timeout: 10_000,
  }, async () => {
    const { client, accepted } = await connection();
    client.pause();
    client.on('error', () => {});
    const socket = await accepted;
    const closed = new Promise((resolve) => socket.on('close', resolve));
    const reset = vi.spyOn(socket, 'resetAndDestroy');
    const flex = endpoint();
    const done = splice(socket, flex);
    // Pieces below the socket's high-water mark (so that the pipe does not pause) go in while the
    // kernel takes them; the first one it cannot take stays in the socket's buffer, the end behind it.
    const piece = Buffer.alloc(4 * 1024, 7);
    for (let i = 0; i < 65_536 && socket.writableLength === 0; i++) {
      flex.push(piece);
      await new Promise((resolve) => setImmediate(resolve));
    }
    flex.push(null);
    await new Promise((resolve) => setImmediate(resolve));
    expect([socket.writableEnded, socket.writableFinished, socket.writableLength > 0]).toEqual([
      true,
      false,
      true,
    ]);
    flex.destroy(new Error('reset by the service'));
    expect(await done).toMatchObject({ message: 'reset by the service' });
    expect(reset).toHaveBeenCalled();
    await closed;
  });

  // A TCP client that hangs up while the dial for its stream waits: its socket is closed, its
  // 'close' past, before splice joins it to the stream. splice waited for that 'close' for good:
  // it never settled, and the stream (and the service's connection at the far node) stayed open.
  it('a side closed before splice is called aborts the other, and splice settles', {
    timeout: 5_000,
  }, async () => {
    const { client, accepted } = await connection();
    const socket = await accepted;
    socket.on('error', () => {});
    socket.resume();
    const socketClosed = new Promise((resolve) => socket.on('close', resolve));
    client.resetAndDestroy();
    await socketClosed;
    const flex = endpoint();
    const flexFailed = new Promise<Error>((resolve) => flex.on('error', resolve));
    const done = splice(socket, flex);
    expect(await done).toMatchObject({ code: 'ECONNRESET' });
    expect(await flexFailed).toMatchObject({ code: 'ECONNRESET' });
    expect(flex.destroyed).toBe(true);
  });

  it('a live TCP side is reset when the other was destroyed before splice', { timeout: 5_000 }, async () => {
    const { client, accepted } = await connection();
    const clientEnding = ending(client);
    const socket = await accepted;
    const flex = endpoint();
    flex.destroy();
    await new Promise((resolve) => flex.on('close', resolve));
    expect(await splice(socket, flex)).toMatchObject({ message: 'the other side closed before finishing' });
    expect(await clientEnding).toBe('ECONNRESET');
  });

  // net.Socket's default: without allowHalfOpen a socket ends its writing at the end of its
  // data. A client that ended its request got a FIN back before the answer, read an empty answer
  // to a clean end, and the answer met a closed socket.
  it('refuses a side without allowHalfOpen, touching neither', async () => {
    const { client, accepted } = await connection();
    client.on('error', () => {});
    const socket = await accepted;
    const halfClosing = new net.Socket({ allowHalfOpen: false });
    cleanup.push(() => halfClosing.destroy());
    const flex = endpoint();
    await expect(splice(halfClosing, flex)).rejects.toThrow(ConfigError);
    await expect(splice(flex, halfClosing)).rejects.toThrow(/allowHalfOpen/);
    await expect(splice(socket, new Duplex({ allowHalfOpen: false }))).rejects.toThrow(ConfigError);
    expect([socket.destroyed, flex.destroyed, flex.listenerCount('data')]).toEqual([false, false, 0]);
  });

  // docs/errors.md: a call that returns a promise rejects with its ConfigError, never throws.
  // splice(null, s) threw a TypeError from the call, and a side that is no stream rejected with
  // one ("self.on is not a function"), neither naming the argument.
  it('rejects a side that is no stream with a ConfigError, without throwing, touching the other', async () => {
    const flex = endpoint();
    let calls: Promise<unknown>[] = [];
    expect(() => {
      calls = [
        splice(null as never, flex),
        splice(flex, undefined as never),
        splice({} as never, flex),
        splice(flex, 'socket' as never),
      ];
    }).not.toThrow();
    for (const call of calls) await expect(call).rejects.toThrow(ConfigError);
    await expect(calls[3]).rejects.toThrow(/"socket" \(a string\)/);
    expect([flex.destroyed, flex.listenerCount('data')]).toEqual([false, 0]);
  });

  /** A TLS server on 127.0.0.1 that allows half-open; resolves with its port. */
  async function tlsServer(): Promise<{ port: number; accepted: Promise<tls.TLSSocket> }> {
    const server = tls.createServer({ key, cert, allowHalfOpen: true });
    cleanup.push(() => server.close());
    const accepted = new Promise<tls.TLSSocket>((resolve) => server.once('secureConnection', resolve));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as net.AddressInfo).port, accepted };
  }

  /**
   * A round trip on a new TLS connection: both ends have then read all the other sent (TLS 1.3
   * session tickets included), and a reset finds nothing unread, which would pass it for an end.
   */
  async function roundTrip(client: tls.TLSSocket, server: tls.TLSSocket): Promise<void> {
    const hello = once(client, 'data');
    server.write('hello');
    await hello;
    const hi = once(server, 'data');
    client.write('hi');
    await hi;
  }

  // Node resets only a plain TCP handle: a TLS socket was destroyed, which closes with a FIN and
  // no close_notify, and its Node peer read a clean end of the data. The TCP socket under it is
  // reset instead. (resetAndDestroy() on the TLS socket throws: from splice's listener, it ended
  // the process.)
  it('an abort resets the TCP socket under a TLS socket a server accepted', {
    timeout: 5_000,
  }, async () => {
    const { port, accepted } = await tlsServer();
    const client = tls.connect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost' });
    cleanup.push(() => client.destroy());
    const socket = await accepted;
    await roundTrip(client, socket);
    const clientEnding = ending(client);
    const flex = endpoint();
    const done = splice(socket, flex);
    flex.destroy(new Error('the service failed'));
    expect(await done).toMatchObject({ message: 'the service failed' });
    expect(socket.destroyed).toBe(true);
    expect(await clientEnding).toBe('ECONNRESET');
  });

  it('an abort resets the TCP socket a TLS client was made over', { timeout: 5_000 }, async () => {
    const { port, accepted } = await tlsServer();
    // The TLS socket takes allowHalfOpen from the socket it is made over.
    const tcp = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const client = tls.connect({ socket: tcp, ca: cert, servername: 'localhost' });
    cleanup.push(() => client.destroy());
    const server = await accepted;
    await roundTrip(client, server);
    const serverEnding = ending(server);
    const flex = endpoint();
    const done = splice(client, flex);
    flex.destroy(new Error('the service failed'));
    expect(await done).toMatchObject({ message: 'the service failed' });
    expect([client.destroyed, tcp.destroyed]).toEqual([true, true]);
    expect(await serverEnding).toBe('ECONNRESET');
  });

  // tls.connect({ host, port }) keeps no socket under it: the limit docs/manual.md states.
  it('an abort destroys a TLS client with no socket under it, without throwing', {
    timeout: 5_000,
  }, async () => {
    const { port, accepted } = await tlsServer();
    // (tls.connect takes allowHalfOpen, which its type leaves out.)
    const options = { host: '127.0.0.1', port, ca: cert, servername: 'localhost', allowHalfOpen: true };
    const client = tls.connect(options);
    cleanup.push(() => client.destroy());
    const server = await accepted;
    await roundTrip(client, server);
    const serverEnding = ending(server);
    const flex = endpoint();
    const done = splice(client, flex);
    flex.destroy(new Error('the service failed'));
    expect(await done).toMatchObject({ message: 'the service failed' });
    expect(client.destroyed).toBe(true);
    expect(await serverEnding).toBe('end');
  });

  it('an abort on one side destroys the other and reports the error', async () => {
    const a = endpoint();
    const b = endpoint();
    const done = splice(a, b);
    a.destroy(new Error('boom'));
    expect(await done).toMatchObject({ message: 'boom' });
    expect(b.destroyed).toBe(true);
  });

  it('a close before finishing counts as an abort too', async () => {
    const a = endpoint();
    const b = endpoint();
    const done = splice(a, b);
    b.destroy();
    expect(await done).toMatchObject({ message: 'the other side closed before finishing' });
    expect(a.destroyed).toBe(true);
  });
});

/** A Duplex that accepts writes and produces nothing until told. */
function endpoint(): Duplex {
  return new Duplex({
    allowHalfOpen: true,
    read() {},
    write(_chunk, _enc, cb) {
      cb();
    },
  });
}
