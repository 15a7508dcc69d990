import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type FlexStream, Node } from '../../src/index.js';
import { admit } from '../../src/node/admit.js';
import type { SwitcherOptions } from '../../src/switcher/config.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { listenTcp, listenTls, listenWs, listenWss, upgradeHandler } from '../../src/switcher-node.js';
import { memoryPair } from '../../src/transport/memory.js';
import { dialTcp } from '../../src/transport/tcp.js';
import { dialTls } from '../../src/transport/tls.js';
import type { Transport } from '../../src/transport/types.js';
import { dialWs } from '../../src/transport/ws.js';
import { openResponse, sealRequest } from '../../src/wire/admission/index.js';
import { Caps } from '../../src/wire/constants.js';
import { captureLogger } from '../helpers/faulty-log.js';
import { FaultyProxy } from '../helpers/faulty-proxy.js';
import { roundTrip, transferBesidePings } from '../helpers/pings.js';
import { Raw } from '../unit/switcher/helpers.js';
import { cert, key } from '../unit/transport/tls-fixture.js';

const HOST = '127.0.0.1';
const PASSWORD = 'integration-pw';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function switcher(o: Partial<SwitcherOptions> = {}): Switcher {
  const sw = new Switcher({ password: PASSWORD, ...o });
  cleanup.push(() => sw.close({ timeout: 1_000 }));
  return sw;
}

async function node(transport: Transport, domain: string): Promise<Node> {
  const { ip, transport: t } = await admit(transport, { password: PASSWORD, domain });
  const n = new Node(t, { domain, ip });
  cleanup.push(() => n.destroy());
  return n;
}

function serveEcho(n: Node, port: number): void {
  n.listen(port).on('stream', (s: FlexStream) => {
    void pipeline(s, s).catch(() => {});
  });
}

/** A switcher listening on TCP, with bob (an echo on port 7) and alice admitted through it. */
async function bobAndAlice(): Promise<{ sw: Switcher; bob: Node; alice: Node }> {
  const sw = switcher();
  const l = await listenTcp(sw, { host: HOST, port: 0 });
  const bob = await node(await dialTcp(HOST, l.address.port), 'bob');
  const alice = await node(await dialTcp(HOST, l.address.port), 'alice');
  serveEcho(bob, 7);
  return { sw, bob, alice };
}

async function echoThrough(dialer: Node, address: string, bytes: number): Promise<void> {
  const s = await dialer.dial(address);
  const data = randomBytes(bytes);
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of s) chunks.push(c as Buffer);
  })();
  s.end(data);
  await done;
  const got = Buffer.concat(chunks);
  expect(got.length).toBe(data.length);
  expect(createHash('sha256').update(got).digest('hex')).toBe(
    createHash('sha256').update(data).digest('hex'),
  );
}

describe('switcher over real sockets (127.0.0.1)', () => {
  it('relays streams between TCP nodes', async () => {
    const { sw, bob, alice } = await bobAndAlice();
    await echoThrough(alice, 'bob:7', 3 * 1024 * 1024 + 5);
    expect(await alice.ping('bob')).toBeGreaterThanOrEqual(0);
    expect(sw.client('bob')).toMatchObject({ ip: bob.ip, spoofed: 0 });
    expect(sw.client('alice')?.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(sw.stats().forwarded).toBeGreaterThan(0);
  });

  it('forgets streams released on FIN (caps 04) between two flexmux nodes', async () => {
    const { sw, bob, alice } = await bobAndAlice();
    for (let i = 0; i < 20; i++) await echoThrough(alice, 'bob:7', 1000 + i);
    // The domain dial keeps the caps byte through a flexmux switcher (14.1).
    const s = await alice.dial('bob:7');
    expect(s.core.caps).toBe(0x0f);
    s.end();
    for await (const _ of s) void _;
    await expect.poll(() => alice.streamCount + bob.streamCount).toBe(0);
    await expect.poll(() => sw.client('alice')?.streams).toBe(0);
    expect(sw.client('bob')?.streams).toBe(0);
    expect(sw.client('alice')?.streamsOpened).toBe(21);
  });

  it('carries credit requests (prompt credit, caps 08): a held-back bulk stream beside pings completes', async () => {
    const { bob, alice } = await bobAndAlice();
    const sinkAccepted = bob.listen(9).accept();
    const ping = await alice.dial('bob:7');
    const bulk = await alice.dial('bob:9');
    expect(bulk.core.caps & Caps.PROMPT_CREDIT).toBe(Caps.PROMPT_CREDIT);
    const sink = await sinkAccepted;
    // Two short writes from idle before the bulk starts: it is held back from the first byte.
    await roundTrip(ping, 'a');
    await roundTrip(ping, 'b');
    const maxOnTheWay = await transferBesidePings({ ping, bulk, sink }, randomBytes(6 * 1024 * 1024));
    expect(maxOnTheWay).toBeGreaterThan(0);
    expect(maxOnTheWay).toBeLessThanOrEqual(256 * 1024);
  });

  it('relays between a WebSocket node and a TCP node, and over TLS and WSS', async () => {
    const sw = switcher();
    const tcp = await listenTcp(sw, { host: HOST, port: 0 });
    const ws = await listenWs(sw, { host: HOST, port: 0 });
    const tls = await listenTls(sw, { host: HOST, port: 0, key, cert });
    const wss = await listenWss(sw, { host: HOST, port: 0, key, cert });
    const echo = await node(await dialTcp(HOST, tcp.address.port), 'echo');
    serveEcho(echo, 7);
    const viaWs = await node(await dialWs(`ws://${HOST}:${ws.address.port}/flex/ws`), 'via-ws');
    const viaTls = await node(await dialTls('localhost', tls.address.port, { ca: cert }), 'via-tls');
    const viaWss = await node(
      await dialWs(`wss://localhost:${wss.address.port}/flex/ws`, { ca: cert }),
      'via-wss',
    );
    await Promise.all([
      echoThrough(viaWs, 'ECHO:7', 512 * 1024),
      echoThrough(viaTls, 'echo:7', 512 * 1024),
      echoThrough(viaWss, `${echo.ip}:7`, 512 * 1024),
    ]);
    expect(
      sw
        .clients()
        .map((c) => c.domain)
        .sort(),
    ).toEqual(['echo', 'via-tls', 'via-ws', 'via-wss']);
  });

  it('serves on a user’s http.Server through upgradeHandler', async () => {
    const sw = switcher();
    const server = http.createServer((_req, res) => res.end('hello'));
    const handle = upgradeHandler(sw, { path: '/relay' });
    server.on('upgrade', (req, socket, head) => {
      if (!handle(req, socket, head)) socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const a = await node(await dialWs(`ws://${HOST}:${port}/relay`), 'a');
    const b = await node(await dialWs(`ws://${HOST}:${port}/relay`), 'b');
    serveEcho(b, 1);
    await echoThrough(a, 'b:1', 64 * 1024);
    await expect(dialWs(`ws://${HOST}:${port}/other`, { timeout: 2_000 })).rejects.toThrow();
  });

  it('delivers every rejection whole before closing, over TCP and WebSocket (2.7)', async () => {
    // Without the per-host limit: 16 failures from 127.0.0.1 would exceed its burst.
    const sw = switcher({ failedAdmissionBurst: 0 });
    const tcp = await listenTcp(sw, { host: HOST, port: 0 });
    const ws = await listenWs(sw, { host: HOST, port: 0 });
    const request = await sealRequest('wrong-password', {
      domain: 'mallory',
      timestamp: BigInt(Date.now()) * 1_000_000n,
    });
    const attempt = async (t: Transport): Promise<void> => {
      const raw = new Raw(t);
      raw.send(request);
      const reply = await raw.next();
      expect(await openResponse(PASSWORD, reply.payload)).toMatchObject({
        errCode: -1,
        errMsg: 'handshake rejected',
      });
      await raw.closed;
    };
    for (let i = 0; i < 8; i++) {
      await attempt(await dialTcp(HOST, tcp.address.port));
      await attempt(await dialWs(`ws://${HOST}:${ws.address.port}/flex/ws`));
    }
    expect(sw.stats().refused).toBe(16);
  });

  it('turns a host away after its burst of failures, without a reply', async () => {
    const sw = switcher({ failedAdmissionBurst: 2, failedAdmissionRate: 0.001 });
    const l = await listenTcp(sw, { host: HOST, port: 0 });
    const request = await sealRequest('wrong-password', {
      domain: 'mallory',
      timestamp: BigInt(Date.now()) * 1_000_000n,
    });
    const replies: number[] = [];
    for (let i = 0; i < 3; i++) {
      const raw = new Raw(await dialTcp(HOST, l.address.port));
      raw.send(request);
      await raw.closed;
      replies.push(raw.inbox.length);
    }
    expect(replies).toEqual([1, 1, 0]);
  });

  it('kicks a node and shuts down gracefully: listeners stop, nodes are closed', async () => {
    const sw = new Switcher({ password: PASSWORD, failedAdmissionBurst: 0 });
    const l = await listenTcp(sw, { host: HOST, port: 0 });
    const a = await node(await dialTcp(HOST, l.address.port), 'a');
    const b = await node(await dialTcp(HOST, l.address.port), 'b');
    const aClosed = new Promise((resolve) => a.once('close', resolve));
    expect(sw.kick('a')).toBe(true);
    await aClosed;
    const bClosed = new Promise((resolve) => b.once('close', resolve));
    await sw.close({ timeout: 2_000 });
    await bClosed;
    expect(sw.state).toBe('closed');
    await expect(dialTcp(HOST, l.address.port, { timeout: 2_000 })).rejects.toThrow();
    await expect(listenTcp(sw, { host: HOST, port: 0 })).rejects.toThrow(/closed/);
  });

  it('keeps a live flexmux node’s domain and hands over a dead one’s (7.2 with our Node)', async () => {
    const sw = switcher({ livenessTimeout: 100 });
    const connect = (): Transport => {
      const [a, b] = memoryPair();
      sw.handle(b);
      return a;
    };
    // Configured with a non-normalised name: Go would evict it (12.1.3); ours answers the ping.
    const holder = await node(connect(), 'Holder');
    await expect(node(connect(), 'holder')).rejects.toMatchObject({ errCode: -2 });
    expect(sw.client('holder')?.rtt).toBeGreaterThanOrEqual(0);
    // A holder gone dark (no FIN, no answers) loses the domain after the liveness timeout.
    const [a, b] = memoryPair();
    sw.handle(b);
    const dark = await node(a, 'dark');
    a.blackhole();
    const successor = await node(connect(), 'dark');
    expect(successor.ip).not.toBe(dark.ip);
    expect(sw.client('dark')?.ip).toBe(successor.ip);
    expect(holder.closed).toBe(false);
    // The evicted connection can never finish a graceful close over a dead link: bound it.
    await sw.close({ timeout: 50 });
    expect(holder.closed).toBe(true);
  });
});

describe('a node whose connection is reset', () => {
  // A killed peer's kernel answers with a RST: the switcher read ECONNRESET (or wrote EPIPE) and
  // logged 'client left' at warn with reason 'error', as if something had gone wrong with it.
  it.each(['tcp', 'ws'])("leaves with reason 'reset', logged at info (%s)", async (scheme) => {
    const logger = captureLogger();
    const sw = switcher({ logger });
    const l = await (scheme === 'tcp' ? listenTcp : listenWs)(sw, { host: HOST, port: 0 });
    const proxy = await FaultyProxy.start({ port: l.address.port });
    cleanup.push(() => proxy.close());
    const t =
      scheme === 'tcp' ? await dialTcp(HOST, proxy.port) : await dialWs(`ws://${HOST}:${proxy.port}/flex/ws`);
    const carol = await node(t, 'carol');
    carol.on('error', () => {});
    const left = new Promise<[string, Error | undefined]>((resolve) =>
      sw.once('clientLeft', (_c, reason, err) => resolve([reason, err])),
    );
    proxy.resetAll();
    const [reason, err] = await left;
    expect(reason).toBe('reset');
    expect(err?.message).toMatch(/ECONNRESET|EPIPE|code 1006/);
    const line = logger.find('client left', { domain: 'carol' });
    expect(line).toHaveLength(1);
    expect(line[0]).toMatchObject({ level: 'info', fields: { reason: 'reset' } });
  });
});

describe('Switcher.streams()', () => {
  it('pages the whole list too, as it pages a domain', async () => {
    const { sw, alice } = await bobAndAlice();
    const streams: FlexStream[] = [];
    for (let i = 0; i < 5; i++) streams.push(await alice.dial('bob:7'));
    await expect.poll(() => sw.streams()!.length).toBe(5);
    const all = sw.streams()!;
    // Before: the page was ignored without a domain, and every stream came back.
    expect(sw.streams(undefined, { limit: 2 })).toEqual(all.slice(0, 2));
    expect(sw.streams(undefined, { offset: 3 })).toEqual(all.slice(3));
    expect(sw.streams(undefined, { offset: 1, limit: 2 })).toEqual(all.slice(1, 3));
    expect(sw.streams(undefined, { offset: 9, limit: 2 })).toEqual([]);
    expect(sw.streams(undefined, { limit: 0 })).toEqual([]);
    expect(sw.streams(undefined, { offset: -4, limit: 1 })).toEqual(all.slice(0, 1));
    for (const s of streams) s.destroy();
  });
});
