import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createRegistry } from '../../../src/admin/metrics.js';
import { SwitcherMetrics } from '../../../src/admin/switcher-metrics.js';
import { listenDemo } from '../../../src/demo/index.js';
import { Node } from '../../../src/index.js';
import { admit } from '../../../src/node/admit.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { listenTls, listenWs, listenWss, upgradeHandler } from '../../../src/switcher-node.js';
import { dialTls } from '../../../src/transport/tls.js';
import { dialWs } from '../../../src/transport/ws.js';
import { captureLogger } from '../../helpers/faulty-log.js';
import { cert, key } from '../transport/tls-fixture.js';

/**
 * flexmux_switcher_handshake_refusals_total: the connections a switcher's TLS and WebSocket
 * listeners close before their handshake is done, which the switcher's admission never sees
 * (so no refusals_total), were in the log only. Each reason is made happen here over real
 * sockets on 127.0.0.1; the counts are read once the client saw its connection closed (and,
 * the server's close being reported a moment later, polled until there, bounded by waitFor).
 */

const PASSWORD = 'handshake-refusals';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Kind = 'tls' | 'ws' | 'wss';

/** A switcher and its metrics. */
function withMetrics() {
  const log = captureLogger();
  const sw = new Switcher({ password: PASSWORD, logger: log });
  const registry = createRegistry('switcher', false);
  const metrics = new SwitcherMetrics(registry, sw);
  cleanups.push(
    () => sw.close({ timeout: 300 }),
    () => metrics.close(),
  );
  /** Every series of the counter, `transport/reason` -> value. */
  const counts = async (): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    for (const line of (await registry.metrics()).split('\n')) {
      const m =
        /^flexmux_switcher_handshake_refusals_total\{transport="(\w+)",reason="([\w-]+)"\} (\d+)$/.exec(line);
      if (m) out[`${m[1]}/${m[2]}`] = Number(m[3]);
    }
    return out;
  };
  /** The series that are not 0. */
  const counted = async (): Promise<Record<string, number>> =>
    Object.fromEntries(Object.entries(await counts()).filter(([, v]) => v !== 0));
  return { sw, log, counts, counted };
}

/** A switcher with its metrics and one listener of `kind`. */
async function start(kind: Kind, o: { handshakeTimeout?: number; maxPendingHandshakes?: number } = {}) {
  const { sw, log, counts, counted } = withMetrics();
  const at = { host: '127.0.0.1', port: 0, ...o };
  const l =
    kind === 'tls'
      ? await listenTls(sw, { ...at, key, cert })
      : kind === 'ws'
        ? await listenWs(sw, at)
        : await listenWss(sw, { ...at, key, cert });
  cleanups.push(() => l.close());
  return { sw, log, port: l.address.port, close: () => l.close(), counts, counted };
}

/** A raw TCP connection that writes `bytes` (if any); resolves with what it read once closed. */
function raw(port: number, bytes?: string): { socket: net.Socket; closed: Promise<string> } {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  cleanups.push(() => socket.destroy());
  if (bytes !== undefined) socket.write(bytes);
  let text = '';
  socket.on('data', (c: Buffer) => {
    text += c.toString('latin1');
  });
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(text)));
  return { socket, closed };
}

const until = async (f: () => Promise<Record<string, number>>, want: Record<string, number>) =>
  vi.waitFor(async () => expect(await f()).toEqual(want), { timeout: 3_000, interval: 10 });

describe('switcher /metrics: flexmux_switcher_handshake_refusals_total', () => {
  it("serves each listener's every reason at 0 from the start", async () => {
    const { counts } = await start('ws');
    const tlsReasons = ['overloaded', 'timeout', 'not-tls', 'tls', 'closed', 'shutdown'];
    const wsReasons = [
      'overloaded',
      'timeout',
      'bad-request',
      'not-upgrade',
      'path',
      'bad-upgrade',
      'closed',
      'shutdown',
    ];
    const wssReasons = [...new Set([...tlsReasons, ...wsReasons])];
    const want = [
      ...tlsReasons.map((r) => `tls/${r}`),
      ...wsReasons.map((r) => `ws/${r}`),
      ...wssReasons.map((r) => `wss/${r}`),
    ];
    const got = await counts();
    expect(Object.keys(got).sort()).toEqual(want.sort());
    expect(Object.values(got).every((v) => v === 0)).toBe(true);
  });

  it('counts nothing for connections that finish their handshake, whatever admission then says', async () => {
    for (const kind of ['tls', 'ws', 'wss'] as const) {
      const { port, counted } = await start(kind);
      const t =
        kind === 'tls'
          ? await dialTls('127.0.0.1', port, { rejectUnauthorized: false })
          : await dialWs(`${kind}://127.0.0.1:${port}/flex/ws`, { rejectUnauthorized: false });
      const { ip, transport } = await admit(t, { password: PASSWORD, domain: `ok-${kind}` });
      const n = new Node(transport, { ip, domain: `ok-${kind}`, heartbeatInterval: 0 });
      await n.ping();
      n.destroy();
      // A refused admission is the switcher's to count (refusals_total), not the listener's.
      const wrong =
        kind === 'tls'
          ? await dialTls('127.0.0.1', port, { rejectUnauthorized: false })
          : await dialWs(`${kind}://127.0.0.1:${port}/flex/ws`, { rejectUnauthorized: false });
      await expect(admit(wrong, { password: 'wrong', domain: 'x' })).rejects.toThrow();
      expect(await counted()).toEqual({});
    }
  });

  it('leaves an admission frame too big for a WebSocket message to admission (refusals_total)', async () => {
    const { sw, port, counted } = await start('ws');
    const refused = new Promise<string>((resolve) => sw.once('refused', (r) => resolve(r.reason)));
    const ws = new WebSocket(`ws://127.0.0.1:${port}/flex/ws`);
    ws.on('error', () => {});
    cleanups.push(() => ws.terminate());
    await new Promise((resolve) => ws.once('open', resolve));
    // More than one flex frame (the listener's maxPayload): ws closes it with 1009.
    ws.send(new Uint8Array(70_000));
    expect(await refused).toBe('malformed');
    expect(await counted()).toEqual({});
  });

  it('tls://: bytes that are not TLS, a ClientHello that does not parse, a hang-up', async () => {
    const { port, counted } = await start('tls', { handshakeTimeout: 60_000 });
    // An HTTP request, and a frame header as a tcp:// node sends: answered in the clear (400, alert).
    await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n').closed;
    await raw(port, '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00').closed;
    await until(counted, { 'tls/not-tls': 2 });
    // A ClientHello the server cannot read (a handshake record of 5 bytes): its handshake fails
    // (ERR_SSL_LENGTH_TOO_SHORT on Node 20 and 26), as for a client that refuses the certificate
    // with an alert (Node's own hangs up instead: below). A client offering only TLS 1.0/1.1
    // failed on the server for no version in common on Node 20, but on Node 26 its own OpenSSL
    // sends nothing (no protocols available), a hang-up.
    await raw(port, '\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00').closed;
    await until(counted, { 'tls/not-tls': 2, 'tls/tls': 1 });
    // Connects, and hangs up before saying anything.
    const hangUp = raw(port);
    await new Promise((resolve) => hangUp.socket.once('connect', resolve));
    hangUp.socket.end();
    await hangUp.closed;
    await until(counted, { 'tls/not-tls': 2, 'tls/tls': 1, 'tls/closed': 1 });
  });

  /**
   * A Node client that does not trust the certificate (tls.connect's default rejectUnauthorized,
   * a self-signed one): with TLS 1.3 the server reads its ClientHello, sends its whole first
   * flight, and sees the connection end, with no alert and no Finished (then ECONNRESET, which
   * says nothing of why). It was counted `closed`, as a client that went away; it is `tls`.
   */
  function untrusting(port: number): Promise<string | undefined> {
    return new Promise((resolve) => {
      const c = tls.connect({ host: '127.0.0.1', port, servername: 'localhost' });
      cleanups.push(() => c.destroy());
      let code: string | undefined;
      c.on('error', (e: Error & { code?: string }) => {
        code = e.code;
      });
      c.once('close', () => resolve(code));
    });
  }

  it('tls://, wss://: a Node client that refuses the certificate is a failed handshake, logged', async () => {
    for (const kind of ['tls', 'wss'] as const) {
      const { log, port, counted } = await start(kind, { handshakeTimeout: 60_000 });
      expect(await untrusting(port)).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
      await until(counted, { [`${kind}/tls`]: 1 });
      expect(log.find(/^connection hung up during its TLS handshake/)).toHaveLength(1);
    }
  });

  it('wss://: a hang-up after the TLS handshake, before the HTTP request, stays closed', async () => {
    const { port, counted } = await start('wss', { handshakeTimeout: 60_000 });
    await new Promise<void>((resolve) => {
      const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
      cleanups.push(() => c.destroy());
      c.on('error', () => {});
      // At secureConnect a TLS 1.3 client may not have sent its Finished yet (destroyed then, the
      // server's handshake is not done: `tls`, as above). A session ticket is sent once it is.
      c.once('session', () => c.destroy());
      c.once('close', () => resolve());
    });
    await until(counted, { 'wss/closed': 1 });
  });

  it('tls://: clients that send nothing', async () => {
    const { port, counted } = await start('tls', { handshakeTimeout: 300 });
    await Promise.all([raw(port).closed, raw(port).closed]);
    await until(counted, { 'tls/timeout': 2 });
  });

  it('tls://: connections still in their handshake when the listener closes', async () => {
    const { port, counted, close } = await start('tls', {
      handshakeTimeout: 60_000,
      maxPendingHandshakes: 2,
    });
    const silent = [raw(port), raw(port)];
    await Promise.all(silent.map((s) => new Promise((resolve) => s.socket.once('connect', resolve))));
    // Turned away: so the two before it are the listener's (accepted in order), in their handshake.
    await raw(port).closed;
    await until(counted, { 'tls/overloaded': 1 });
    await close();
    await Promise.all(silent.map((s) => s.closed));
    await until(counted, { 'tls/overloaded': 1, 'tls/shutdown': 2 });
  });

  it('ws://: a wrong path, no upgrade, a malformed request, an upgrade ws refuses, a silent client', async () => {
    const { port, counted } = await start('ws', { handshakeTimeout: 300 });
    const upgrade = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n';
    const key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    expect(await raw(port, `GET /other HTTP/1.1\r\nHost: x\r\n${upgrade}${key}\r\n`).closed).toMatch(
      /^HTTP\/1.1 404/,
    );
    expect(await raw(port, 'GET /flex/ws HTTP/1.1\r\nHost: x\r\n\r\n').closed).toMatch(/^HTTP\/1.1 426/);
    expect(await raw(port, 'NOT HTTP AT ALL\r\n\r\n').closed).toMatch(/^HTTP\/1.1 400/);
    expect(await raw(port, `GET /flex/ws HTTP/1.1\r\nHost: x\r\n${upgrade}\r\n`).closed).toMatch(
      /^HTTP\/1.1 400/,
    );
    expect(await raw(port).closed).toMatch(/^HTTP\/1.1 408/);
    await until(counted, {
      'ws/path': 1,
      'ws/not-upgrade': 1,
      'ws/bad-request': 1,
      'ws/bad-upgrade': 1,
      'ws/timeout': 1,
    });
  });

  it('wss://: plain HTTP at the TLS port, and a silent client', async () => {
    const { port, counted } = await start('wss', { handshakeTimeout: 300 });
    expect(await raw(port, 'GET /flex/ws HTTP/1.1\r\nHost: x\r\n\r\n').closed).toMatch(/^HTTP\/1.1 400/);
    await raw(port).closed;
    await until(counted, { 'wss/not-tls': 1, 'wss/timeout': 1 });
  });
});

const UPGRADE = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n';
const KEY = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

describe("flexmux_switcher_handshake_refusals_total beyond the switcher's own listeners", () => {
  it("upgradeHandler on an application's server: an upgrade ws refuses, as ws or wss", async () => {
    const { sw, counted } = withMetrics();
    const handle = upgradeHandler(sw);
    const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
      if (!handle(req, socket, head)) socket.destroy();
    };
    const plain = http.createServer();
    const secure = https.createServer({ key, cert });
    for (const server of [plain, secure]) {
      server.on('upgrade', onUpgrade);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(resolve));
      });
    }
    // No Sec-WebSocket-Key: ws answers 400 itself.
    const bad = `GET /flex/ws HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`;
    expect(await raw((plain.address() as net.AddressInfo).port, bad).closed).toMatch(/^HTTP\/1.1 400/);
    const over = tls.connect({
      host: '127.0.0.1',
      port: (secure.address() as net.AddressInfo).port,
      rejectUnauthorized: false,
    });
    cleanups.push(() => over.destroy());
    over.on('error', () => {});
    over.write(bad);
    let answer = '';
    over.on('data', (c: Buffer) => {
      answer += c.toString('latin1');
    });
    await new Promise((resolve) => over.once('close', resolve));
    expect(answer).toMatch(/^HTTP\/1.1 400/);
    // An upgrade it takes counts nothing.
    const ok = new WebSocket(`ws://127.0.0.1:${(plain.address() as net.AddressInfo).port}/flex/ws`);
    ok.on('error', () => {});
    cleanups.push(() => ok.terminate());
    await new Promise((resolve) => ok.once('open', resolve));
    await until(counted, { 'ws/bad-upgrade': 1, 'wss/bad-upgrade': 1 });
  });

  it('listenDemo: what a ws:// listener refuses, not the pages it serves', async () => {
    const { sw, counted } = withMetrics();
    const demo = await listenDemo(sw, { host: '127.0.0.1', port: 0, echo: false, bundle: new Uint8Array(1) });
    cleanups.push(() => demo.close());
    const port = demo.address.port;
    expect(await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n').closed).toMatch(
      /^HTTP\/1.1 200/,
    );
    expect(await raw(port, 'GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n').closed).toMatch(
      /^HTTP\/1.1 404/,
    );
    expect(await raw(port, 'GET /flex/ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n').closed).toMatch(
      /^HTTP\/1.1 426/,
    );
    expect(await raw(port, `GET /other HTTP/1.1\r\nHost: x\r\n${UPGRADE}${KEY}\r\n`).closed).toMatch(
      /^HTTP\/1.1 404/,
    );
    expect(await raw(port, `GET /flex/ws HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`).closed).toMatch(
      /^HTTP\/1.1 400/,
    );
    expect(await raw(port, 'NOT HTTP AT ALL\r\n\r\n').closed).toMatch(/^HTTP\/1.1 400/);
    await until(counted, {
      'ws/not-upgrade': 1,
      'ws/path': 1,
      'ws/bad-upgrade': 1,
      'ws/bad-request': 1,
    });
  });
});
