import * as net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tcpTransport } from '../../../src/transport/tcp.js';
import { attachProbe, type Probe } from './probe.js';

const HOST = '127.0.0.1';

/** A connected socket pair; the client end is handed over raw so a test can watch its writes. */
async function socketPair(): Promise<{ client: net.Socket; server: net.Socket; close: () => Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const { port } = server.address() as net.AddressInfo;
  const client = net.connect(port, HOST);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const peer = await accepted;
  return {
    client,
    server: peer,
    close: async () => {
      client.destroy();
      peer.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seed * 31 + i) & 0xff;
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

describe('tcp transport send: small parts share one socket write', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function setUp(): Promise<{
    send: (parts: Uint8Array[]) => boolean;
    writes: unknown[][];
    received: () => Uint8Array;
    probe: Probe;
  }> {
    const pair = await socketPair();
    cleanup.push(pair.close);
    const writes: unknown[][] = [];
    const original = pair.client.write.bind(pair.client);
    vi.spyOn(pair.client, 'write').mockImplementation(((...args: Parameters<typeof original>) => {
      writes.push(args);
      return original(...args);
    }) as typeof pair.client.write);
    const sender = tcpTransport(pair.client);
    attachProbe(sender);
    const receiver = tcpTransport(pair.server);
    const probe = attachProbe(receiver);
    const chunks: Uint8Array[] = [];
    probe.onData = (c) => chunks.push(new Uint8Array(c));
    return { send: (parts) => sender.send(parts), writes, received: () => concat(chunks), probe };
  }

  it('copies a run of small parts into one write and passes large parts through untouched', async () => {
    const { send, writes, received, probe } = await setUp();
    const big = bytes(4096, 9);
    const parts = [
      bytes(11, 1),
      bytes(5, 2),
      bytes(11, 3),
      big,
      bytes(11, 4),
      new Uint8Array(0),
      bytes(100, 5),
    ];
    send(parts);
    const total = parts.reduce((s, p) => s + p.length, 0);
    await probe.until(() => probe.bytes === total, 'all bytes');
    expect(received()).toEqual(concat(parts));
    // [11, 5, 11] copied together, the 4 KiB part as it is, then [11, 100].
    expect(writes.map((w) => (w[0] as Uint8Array).length)).toEqual([27, 4096, 111]);
    expect(writes[1]![0]).toBe(big);
  });

  it('cuts a long run of small parts so a copy stays bounded', async () => {
    const { send, writes, received, probe } = await setUp();
    const parts = Array.from({ length: 40 }, (_, i) => bytes(1000, i));
    send(parts);
    await probe.until(() => probe.bytes === 40_000, 'all bytes');
    expect(received()).toEqual(concat(parts));
    const sizes = writes.map((w) => (w[0] as Uint8Array).length);
    expect(sizes.reduce((s, n) => s + n, 0)).toBe(40_000);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(17_000);
    expect(sizes.length).toBe(3);
  });

  it('writes a lone small part without copying it', async () => {
    const { send, writes, probe } = await setUp();
    const header = bytes(11, 7);
    const payload = bytes(65536, 8);
    send([header, payload]);
    await probe.until(() => probe.bytes === 65547, 'all bytes');
    expect(writes.map((w) => w[0])).toEqual([header, payload]);
    expect(writes[0]![0]).toBe(header);
  });
});
