import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { Transport } from '../../../src/transport/types.js';
import { dialWs, listenWs, wsTransport } from '../../../src/transport/ws.js';
import { Acceptor, attachProbe } from './probe.js';

const HOST = '127.0.0.1';

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seed * 17 + i) & 0xff;
  return b;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('ws transport send: one WebSocket frame for a small message', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  /** A server-side transport whose ws.send calls are recorded, and the raw client's messages. */
  async function setUp() {
    const wss = new WebSocketServer({ host: HOST, port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    cleanup.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
    const { port } = wss.address() as { port: number };
    const client = new WebSocket(`ws://${HOST}:${port}`);
    cleanup.push(() => client.terminate());
    const messages: Uint8Array[] = [];
    const waiters: (() => void)[] = [];
    client.on('message', (data: Buffer) => {
      messages.push(new Uint8Array(data));
      for (const w of waiters.splice(0)) w();
    });
    await new Promise<void>((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    const ws = await accepted;
    const calls: { size: number; fin: boolean | undefined }[] = [];
    const original = ws.send.bind(ws);
    vi.spyOn(ws, 'send').mockImplementation(((data: Uint8Array, opts: { fin?: boolean }, cb?: () => void) => {
      calls.push({ size: data.length, fin: opts?.fin });
      return original(data, opts, cb);
    }) as typeof ws.send);
    const t = wsTransport(ws, 'test');
    attachProbe(t);
    cleanup.push(() => t.destroy());
    const message = async (n: number): Promise<Uint8Array> => {
      while (messages.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
      return messages[n - 1]!;
    };
    return { t, calls, message };
  }

  it('copies a header and a small payload into one frame', async () => {
    const { t, calls, message } = await setUp();
    const parts = [bytes(11, 1), bytes(64, 2)];
    t.send(parts);
    expect(await message(1)).toEqual(concat(parts));
    expect(calls).toEqual([{ size: 75, fin: undefined }]);
  });

  it('sends a large payload as fragments behind its header, not copied', async () => {
    const { t, calls, message } = await setUp();
    const parts = [bytes(11, 3), bytes(8192, 4)];
    t.send(parts);
    expect(await message(1)).toEqual(concat(parts));
    expect(calls).toEqual([
      { size: 11, fin: false },
      { size: 8192, fin: true },
    ]);
  });
});

describe('ws transport send: a message leaves in one socket write', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('writes a message of a dialled transport and of an accepted one at once', async () => {
    const acceptor = new Acceptor<Transport>();
    const listener = await listenWs({ host: HOST, port: 0 }, acceptor.accept);
    cleanup.push(() => listener.close());
    const client = await dialWs(`ws://${HOST}:${listener.address.port}/flex/ws`);
    cleanup.push(() => client.destroy());
    const server = await acceptor.next();
    cleanup.push(() => server.destroy());
    const atServer = attachProbe(server);
    const atClient = attachProbe(client);
    // Every write the two sockets make reaches the kernel through _write or _writev.
    const writes: number[] = [];
    const proto = net.Socket.prototype as unknown as {
      _write: (...a: unknown[]) => void;
      _writev: (...a: unknown[]) => void;
    };
    const write = proto._write;
    const writev = proto._writev;
    vi.spyOn(proto, '_write').mockImplementation(function (this: net.Socket, ...a: unknown[]) {
      writes.push(1);
      return write.apply(this, a);
    });
    vi.spyOn(proto, '_writev').mockImplementation(function (this: net.Socket, ...a: unknown[]) {
      writes.push((a[0] as unknown[]).length);
      return writev.apply(this, a);
    });
    const parts = [bytes(11, 5), bytes(8192, 6)];
    client.send(parts);
    await atServer.until(() => atServer.bytes === 8203, 'the message at the server');
    // Masked by the client into one buffer with its WebSocket header: one write.
    expect(writes).toEqual([1]);
    writes.length = 0;
    server.send(parts);
    await atClient.until(() => atClient.bytes === 8203, 'the message at the client');
    // Unmasked from the server: the WebSocket header with the flex header, and the payload as it
    // is, in one writev.
    expect(writes).toEqual([2]);
  });
});

/**
 * A scripted stand-in for a `ws` WebSocket: the test decides when each send's bytes reach the
 * socket (its callback) and what else sits in `bufferedAmount` meanwhile.
 */
class ScriptedWs extends EventEmitter {
  readyState = 1;
  binaryType = 'nodebuffer';
  bufferedAmount = 0;
  readonly pending: (() => void)[] = [];

  pause(): void {}
  resume(): void {}
  close(): void {}
  terminate(): void {}

  send(data: Uint8Array, _options: unknown, cb?: (err?: Error) => void): void {
    this.bufferedAmount += data.length;
    this.pending.push(() => {
      this.bufferedAmount -= data.length;
      cb?.();
    });
  }

  /** The oldest send reaches the socket. */
  written(): void {
    this.pending.shift()?.();
  }
}

describe('ws transport drain', () => {
  it('drains once every send was written, though a control frame of ws (a pong) is still buffered', () => {
    const ws = new ScriptedWs();
    const t = wsTransport(ws as unknown as WebSocket, 'scripted', { highWaterMark: 100, lowWaterMark: 0 });
    const p = attachProbe(t);
    expect(t.send([new Uint8Array(200)])).toBe(false);
    // ws answers a ping of the peer behind our message: its pong carries no callback of ours.
    ws.bufferedAmount += 6;
    ws.written();
    // The pong leaves too; nothing of ours is left to report it. Without a drain now the writer
    // would wait for ever.
    ws.bufferedAmount -= 6;
    expect(p.drains).toBe(1);
    expect(t.send([new Uint8Array(10)])).toBe(true);
  });
});
