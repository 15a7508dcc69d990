import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { Transport } from '../../../src/transport/types.js';
import { dialWs, listenWs } from '../../../src/transport/ws.js';
import { Acceptor, attachProbe } from './probe.js';

const HOST = '127.0.0.1';

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

function concat(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.length)));
}

/**
 * Messages of every header size (7-bit, 16-bit and 64-bit lengths), in parts of every shape a
 * scheduler hands over: a flex header and a payload, one part, empty parts anywhere, and an odd
 * split so the masking key must run on across parts at every offset.
 */
const MESSAGES: Uint8Array[][] = [
  [bytes(11, 1)],
  [bytes(11, 2), bytes(64, 3)],
  [bytes(11, 4), bytes(114, 5)],
  [bytes(11, 6), bytes(115, 7)],
  [bytes(11, 8), bytes(65_535, 9)],
  [bytes(11, 10), bytes(65_524, 11)],
  [bytes(11, 12), bytes(65_525, 13)],
  [bytes(0, 14), bytes(11, 15), new Uint8Array(0), bytes(4097, 16), bytes(0, 17)],
  [bytes(1, 18), bytes(2, 19), bytes(3, 20), bytes(5000, 21), bytes(1, 22), bytes(70, 23)],
  [bytes(11, 24), bytes(16_384, 25), bytes(16_384, 26), bytes(16_384, 27), bytes(16_383, 28)],
  [bytes(70, 29), bytes(11, 30)],
];

/** Each message as the peer's `ws` got it: its WebSocket frames (binaryType 'fragments'). */
function collect(ws: WebSocket): { frames: Buffer[][]; until: (n: number) => Promise<void> } {
  ws.binaryType = 'fragments';
  const frames: Buffer[][] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (data: Buffer[], isBinary: boolean) => {
    expect(isBinary).toBe(true);
    frames.push(data);
    for (const w of waiters.splice(0)) w();
  });
  const until = async (n: number): Promise<void> => {
    while (frames.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { frames, until };
}

function check(frames: Buffer[][]): void {
  expect(frames.length).toBe(MESSAGES.length);
  for (let i = 0; i < MESSAGES.length; i++) {
    // One WebSocket frame per message: the receiving ws has no fragments to copy together.
    expect(frames[i].length, `frames of message ${i}`).toBe(1);
    expect(frames[i][0].equals(concat(MESSAGES[i])), `bytes of message ${i}`).toBe(true);
  }
}

describe('ws transport writes each message as one WebSocket frame', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function rawServer(): Promise<{ port: number; next: Promise<WebSocket> }> {
    const wss = new WebSocketServer({ host: HOST, port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    cleanup.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    const next = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
    return { port: (wss.address() as { port: number }).port, next };
  }

  for (const zero of [false, true]) {
    it(`a dialled transport, masked${zero ? ' with an all-zero key' : ''}, in order and whole`, async () => {
      const { port, next } = await rawServer();
      const keys: Buffer[] = [];
      const t = await dialWs(`ws://${HOST}:${port}`, {
        ...(zero
          ? {
              generateMask: (mask: Buffer) => {
                mask.fill(0);
                keys.push(mask);
              },
            }
          : {}),
      });
      cleanup.push(() => t.destroy());
      attachProbe(t);
      const peer = await next;
      cleanup.push(() => peer.terminate());
      const got = collect(peer);
      for (const m of MESSAGES) t.send(m);
      await got.until(MESSAGES.length);
      // The receiving ws refuses an unmasked frame from a client, so every one was masked.
      check(got.frames);
      if (zero) expect(keys.length).toBe(MESSAGES.length);
    });
  }

  it('an accepted transport, unmasked, in order and whole', async () => {
    const acceptor = new Acceptor<Transport>();
    const listener = await listenWs({ host: HOST, port: 0 }, acceptor.accept);
    cleanup.push(() => listener.close());
    const client = new WebSocket(`ws://${HOST}:${listener.address.port}/flex/ws`);
    cleanup.push(() => client.terminate());
    const got = collect(client);
    await new Promise<void>((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    const t = await acceptor.next();
    cleanup.push(() => t.destroy());
    attachProbe(t);
    for (const m of MESSAGES) t.send(m);
    await got.until(MESSAGES.length);
    check(got.frames);
  });

  it('masks many full frames back to back, each buffer reused only once written', async () => {
    const { port, next } = await rawServer();
    const t = await dialWs(`ws://${HOST}:${port}`);
    cleanup.push(() => t.destroy());
    attachProbe(t);
    const peer = await next;
    cleanup.push(() => peer.terminate());
    const got = collect(peer);
    // Many more than the spare buffers kept, sent in one go to a peer not reading: most wait in
    // the socket's queue while the next ones are masked, so a buffer taken back before its bytes
    // left would show here.
    peer.pause();
    const sent: Uint8Array[][] = [];
    for (let i = 0; i < 96; i++) {
      const m = [bytes(11, 100 + i), bytes(65_535, 200 + i)];
      sent.push(m);
      t.send(m);
    }
    expect(t.bufferedAmount).toBeGreaterThan(0);
    peer.resume();
    await got.until(sent.length);
    for (let i = 0; i < sent.length; i++) {
      expect(got.frames[i].length).toBe(1);
      expect(got.frames[i][0].equals(concat(sent[i])), `bytes of message ${i}`).toBe(true);
    }
  });

  it('a transport to a transport: every byte, message by message, both ways', async () => {
    const acceptor = new Acceptor<Transport>();
    const listener = await listenWs({ host: HOST, port: 0 }, acceptor.accept);
    cleanup.push(() => listener.close());
    const client = await dialWs(`ws://${HOST}:${listener.address.port}/flex/ws`);
    cleanup.push(() => client.destroy());
    const server = await acceptor.next();
    cleanup.push(() => server.destroy());
    const atServer = attachProbe(server);
    const atClient = attachProbe(client);
    const fromClient: Buffer[] = [];
    const fromServer: Buffer[] = [];
    atServer.onData = (c) => fromClient.push(Buffer.from(c));
    atClient.onData = (c) => fromServer.push(Buffer.from(c));
    for (const m of MESSAGES) {
      client.send(m);
      server.send(m);
    }
    const total = MESSAGES.reduce((s, m) => s + concat(m).length, 0);
    await atServer.until(() => atServer.bytes === total, 'all at the server');
    await atClient.until(() => atClient.bytes === total, 'all at the client');
    // Message boundaries kept (one chunk per message), and every byte in order.
    const sizes = MESSAGES.map((m) => concat(m).length);
    const all = Buffer.concat(MESSAGES.map((m) => concat(m)));
    expect(fromClient.map((c) => c.length)).toEqual(sizes);
    expect(fromServer.map((c) => c.length)).toEqual(sizes);
    expect(Buffer.concat(fromClient).equals(all)).toBe(true);
    expect(Buffer.concat(fromServer).equals(all)).toBe(true);
  });
});
