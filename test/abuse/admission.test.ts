import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { listenDemo } from '../../src/demo/listen.js';
import { Node } from '../../src/index.js';
import { admit } from '../../src/node/admit.js';
import type { LeaveReason } from '../../src/switcher/client.js';
import type { SwitcherOptions } from '../../src/switcher/config.js';
import { type RefusalInfo, Switcher } from '../../src/switcher/switcher.js';
import { listenTcp, listenTls, listenWs, listenWss } from '../../src/switcher-node.js';
import { dialTcp } from '../../src/transport/tcp.js';
import { dialTls } from '../../src/transport/tls.js';
import { dialWs } from '../../src/transport/ws.js';
import { currentTimeNs, sealRequest } from '../../src/wire/admission/index.js';
import { lagMonitor } from '../helpers/faulty-lag.js';
import { captureLogger } from '../helpers/faulty-log.js';
import { resources } from '../helpers/faulty-memory.js';
import { trapUncaught } from '../helpers/faulty-process.js';
import { acceptFailure, listenWithServer } from '../helpers/listen.js';
import { cert, key } from '../unit/transport/tls-fixture.js';

/**
 * Attacks on the switcher's door over real sockets on 127.0.0.1: garbage and protocol probes
 * before admission, WebSocket messages shorter than a header (the Go pre-auth crash, PROTOCOL.md
 * 1.6), slowloris, password guessing, and malformed messages right after admission. The switcher
 * must survive each, free what the attempt held, count it, and log why.
 */

const PASSWORD = 'abuse-admission';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(o: Partial<SwitcherOptions> = {}) {
  const log = captureLogger();
  const sw = new Switcher({ password: PASSWORD, logger: log, ...o });
  cleanups.push(() => sw.close({ timeout: 300 }));
  const refused: RefusalInfo[] = [];
  const left: { domain: string; reason: LeaveReason; err?: string }[] = [];
  sw.on('refused', (r) => refused.push(r));
  sw.on('clientLeft', (c, reason, err) => left.push({ domain: c.domain, reason, err: err?.message }));
  const tcp = await listenTcp(sw, { host: '127.0.0.1', port: 0 });
  const ws = await listenWs(sw, { host: '127.0.0.1', port: 0 });
  return {
    sw,
    log,
    refused,
    left,
    tcpPort: tcp.address.port,
    wsUrl: `ws://127.0.0.1:${ws.address.port}/flex/ws`,
  };
}

/** A raw TCP socket; resolves with everything the switcher sent once it closed the connection. */
function rawTcp(port: number): { socket: net.Socket; closed: Promise<Buffer> } {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  cleanups.push(() => socket.destroy());
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const closed = new Promise<Buffer>((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks))));
  return { socket, closed };
}

/** A raw WebSocket; resolves with the close code once the switcher closed it. */
async function rawWs(url: string): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  const ws = new WebSocket(url);
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, closed };
}

async function legitWsNode(url: string, domain: string): Promise<Node> {
  const { ip, transport } = await admit(await dialWs(url), { password: PASSWORD, domain });
  const n = new Node(transport, { ip, domain, heartbeatInterval: 0 });
  n.on('error', () => {});
  cleanups.push(() => n.destroy());
  return n;
}

async function legitNode(port: number, domain: string): Promise<Node> {
  const { ip, transport } = await admit(await dialTcp('127.0.0.1', port), { password: PASSWORD, domain });
  const n = new Node(transport, { ip, domain, heartbeatInterval: 0 });
  n.on('error', () => {});
  cleanups.push(() => n.destroy());
  return n;
}

describe('before admission', () => {
  it('garbage bytes on TCP: refused (decrypt), counted, logged; the switcher serves the next node', async () => {
    const { sw, log, refused, tcpPort } = await start();
    // A header whose size field fits what follows, then 300 random bytes: a complete frame of junk.
    const junk = randomBytes(311);
    junk.writeUInt16BE(300, 9);
    const { socket, closed } = rawTcp(tcpPort);
    socket.write(junk);
    const reply = await closed;
    // A -1 rejection sealed with the shared password (2.7): header + 44 bytes of envelope + JSON.
    expect(reply.length).toBeGreaterThan(11 + 44);
    expect(reply[0]).toBe(0);
    expect(refused.map((r) => [r.reason, r.errCode])).toEqual([['decrypt', -1]]);
    expect(sw.stats().refused).toBe(1);
    expect(log.find('admission refused', { reason: 'decrypt' })[0]).toMatchObject({
      level: 'warn',
      fields: { errCode: -1, remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/) },
    });
    // Counted until the switcher's end of it has closed too (the client's end may close first).
    await expect.poll(() => sw.stats().pendingAdmissions).toBe(0);
    const n = await legitNode(tcpPort, 'after-garbage');
    expect(await n.ping()).toBeGreaterThanOrEqual(0);
  });

  // Before: "GET / HTTP/1.1" read as a header announced a payload of 0x5450 bytes ("TP") that
  // never came, and the connection was held, unanswered, until the admission timeout (a ws://
  // node given the tcp:// port retried that for ever). Now answered at once, and not charged.
  it('an HTTP request (a port scanner, a ws:// URL given the tcp:// port) is answered 400 at once', async () => {
    const { refused, log, tcpPort, sw } = await start({ admissionTimeout: 20_000, failedAdmissionBurst: 1 });
    for (let i = 0; i < 3; i++) {
      const { socket, closed } = rawTcp(tcpPort);
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      const answer = (await closed).toString('latin1');
      expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(answer).toContain('This is a flex TCP port');
    }
    expect(refused.map((r) => [r.reason, r.errCode])).toEqual(Array(3).fill(['http', 0]));
    // One line at info, the rest of the run summed up (the unit test, http-request.test.ts).
    expect(log.find('admission refused', { reason: 'http' })).toHaveLength(1);
    expect(log.find('admission refused', { reason: 'http' })[0]).toMatchObject({ level: 'info' });
    await expect.poll(() => sw.stats().pendingAdmissions).toBe(0);
    // Not charged: a node from the same host still gets in.
    const n = await legitNode(tcpPort, 'after-http');
    expect(await n.ping()).toBeGreaterThanOrEqual(0);
  });

  it('a TLS client (a tls:// URL given the tcp:// port) is closed at once, not at the admission timeout', async () => {
    const { refused, log, tcpPort, sw } = await start({ admissionTimeout: 20_000, failedAdmissionBurst: 1 });
    for (let i = 0; i < 3; i++) {
      const err = await dialTls('127.0.0.1', tcpPort, { rejectUnauthorized: false, timeout: 15_000 }).catch(
        (e: unknown) => e,
      );
      // Its handshake ends without an answer: the connection closed, not the dial's own timeout.
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).name).not.toBe('TimeoutError');
    }
    await expect.poll(() => refused.length).toBe(3);
    expect(refused.map((r) => [r.reason, r.errCode])).toEqual(Array(3).fill(['tls', 0]));
    expect(log.find('admission refused', { reason: 'tls' })[0]).toMatchObject({ level: 'info' });
    await expect.poll(() => sw.stats().pendingAdmissions).toBe(0);
    // Not charged: a node from the same host still gets in.
    const n = await legitNode(tcpPort, 'after-tls');
    expect(await n.ping()).toBeGreaterThanOrEqual(0);
  });

  it('WebSocket messages shorter than a header are refused as malformed (Go panics here, 1.6)', async () => {
    const { sw, log, refused, wsUrl } = await start();
    for (const bytes of [0, 1, 5, 10]) {
      const { ws, closed } = await rawWs(wsUrl);
      ws.send(Buffer.alloc(bytes, 0x41), { binary: true });
      await closed;
    }
    await expect.poll(() => refused.length).toBe(4);
    expect(refused.map((r) => r.reason)).toEqual(Array(4).fill('malformed'));
    expect(refused[2].message).toBe('WebSocket message of 5 bytes is shorter than a frame header');
    expect(log.find('admission refused', { reason: 'malformed' })).toHaveLength(4);
    expect(sw.stats().refused).toBe(4);
    // Still serving, over WebSocket too.
    const { ip, transport } = await admit(await dialWs(wsUrl), { password: PASSWORD, domain: 'ws-ok' });
    const n = new Node(transport, { ip, domain: 'ws-ok', heartbeatInterval: 0 });
    cleanups.push(() => n.destroy());
    expect(await n.ping()).toBeGreaterThanOrEqual(0);
  });

  // Regression (found here, fixed in c1116c1; src/switcher/admission.ts AdmissionReader.close): the WebSocket
  // transport reports a text message as a ProtocolError ("text WebSocket message: flex carries binary
  // messages only") and closes with 1003, but the reader ignores the error it is closed with and refuses the
  // connection as 'closed' ("connection closed before the admission frame"): the log line blames the peer's
  // hang-up, and the attempt is not charged to the host's failure budget as a malformed one is. Fix: in
  // close(err), reject with refusal('malformed', 0, err.message) when err is a ProtocolError.
  it('a text WebSocket message before admission is refused as malformed, with its reason', async () => {
    const { refused, wsUrl } = await start();
    const { ws, closed } = await rawWs(wsUrl);
    ws.send('hello', { binary: false });
    expect(await closed).toBe(1003);
    await expect.poll(() => refused.length).toBe(1);
    expect(refused[0]).toMatchObject({
      reason: 'malformed',
      message: expect.stringMatching(/text WebSocket message/),
    });
  });

  it('slowloris: an admission frame dribbled a byte at a time is cut off at the admission timeout', async () => {
    const { refused, tcpPort, sw } = await start({ admissionTimeout: 400 });
    const frame = await sealRequest(PASSWORD, { domain: 'slow', timestamp: currentTimeNs() });
    const { socket, closed } = rawTcp(tcpPort);
    let sent = 0;
    const drip = setInterval(() => {
      if (sent < frame.length && !socket.destroyed) socket.write(frame.subarray(sent, ++sent));
    }, 20);
    cleanups.push(() => clearInterval(drip));
    const lag = lagMonitor();
    cleanups.push(() => lag.stop());
    const t0 = performance.now();
    await closed;
    clearInterval(drip);
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(380);
    expect(elapsed).toBeLessThan(400 + 300 + 2 * lag.maxMs());
    expect(sent).toBeLessThan(frame.length);
    expect(refused.map((r) => r.reason)).toEqual(['timeout']);
    expect(sw.client('slow')).toBeUndefined();
  });

  // Found by the robustness audit: the WebSocket listener's HTTP server kept Node's defaults
  // (60 s for headers, checked every 30 s), and a connection that has not upgraded yet is not an
  // admission, so a crowd of half-sent upgrade requests was held for a minute or more, outside
  // admissionTimeout and maxPendingAdmissions, unlogged; enough of them use up the switcher's
  // file descriptors and turn every node away, on TCP too.
  it('slowloris on the WebSocket listener: a half-sent upgrade request is cut off at the admission timeout', async () => {
    const { wsUrl, sw } = await start({ admissionTimeout: 400 });
    const port = Number(new URL(wsUrl).port);
    const silent = rawTcp(port);
    const { socket, closed } = rawTcp(port);
    socket.write('GET /flex/ws HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const drip = setInterval(() => {
      if (!socket.destroyed) socket.write('X');
    }, 50);
    cleanups.push(() => clearInterval(drip));
    const lag = lagMonitor();
    cleanups.push(() => lag.stop());
    const t0 = performance.now();
    let guard: ReturnType<typeof setTimeout> | undefined;
    const tooLong = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error('upgrade requests still open after 5 s')), 5_000);
    });
    cleanups.push(() => clearTimeout(guard));
    await Promise.race([Promise.all([closed, silent.closed]), tooLong]);
    clearTimeout(guard);
    clearInterval(drip);
    // Node checks its HTTP timeouts on an interval: allow one interval beyond the timeout.
    expect(performance.now() - t0).toBeLessThan(400 + 400 + 300 + 2 * lag.maxMs());
    // An upgraded connection is the admission's business, and an admitted one stays however idle.
    const n = await legitWsNode(wsUrl, 'ws-idle');
    // Two admission timeouts in a row (each cut off on time) outlast the handshake deadline and
    // one checking interval: the idle admitted node must still be there.
    for (let i = 0; i < 2; i++) await (await rawWs(wsUrl)).closed;
    expect(await n.ping()).toBeGreaterThanOrEqual(0);
    expect(sw.client('ws-idle')).toBeDefined();
  });

  // Found by the transport audit: the TLS and WSS listeners kept Node's TLS handshakeTimeout
  // (120 s), so a connection that never sent its ClientHello was held for two minutes, outside
  // admissionTimeout and maxPendingAdmissions, as the half-sent upgrade requests above were.
  for (const kind of ['tls', 'wss'] as const) {
    it(`a ${kind} connection that never starts its TLS handshake is cut off at the admission timeout`, async () => {
      const sw = new Switcher({ password: PASSWORD, admissionTimeout: 400 });
      cleanups.push(() => sw.close({ timeout: 300 }));
      const listen = kind === 'tls' ? listenTls : listenWss;
      const listener = await listen(sw, { host: '127.0.0.1', port: 0, key, cert });
      const lag = lagMonitor();
      cleanups.push(() => lag.stop());
      const t0 = performance.now();
      const { closed } = rawTcp(listener.address.port);
      let guard: ReturnType<typeof setTimeout> | undefined;
      const tooLong = new Promise<never>((_, reject) => {
        guard = setTimeout(() => reject(new Error('silent TLS connection still open after 5 s')), 5_000);
      });
      cleanups.push(() => clearTimeout(guard));
      expect((await Promise.race([closed, tooLong])).length).toBe(0);
      clearTimeout(guard);
      expect(performance.now() - t0).toBeLessThan(400 + 300 + 2 * lag.maxMs());
    });
  }

  it('a slowloris crowd: beyond maxPendingAdmissions refused at once; all freed after the timeout', async () => {
    const { refused, tcpPort, sw, log } = await start({ admissionTimeout: 500, maxPendingAdmissions: 20 });
    const timers = resources().Timeout ?? 0;
    const sockets = Array.from({ length: 60 }, () => rawTcp(tcpPort));
    for (const s of sockets) s.socket.write(Buffer.from([0]));
    await expect.poll(() => refused.filter((r) => r.reason === 'overloaded').length).toBe(40);
    expect(sw.stats().pendingAdmissions).toBe(20);
    await Promise.all(sockets.map((s) => s.closed));
    await expect.poll(() => sw.stats().pendingAdmissions).toBe(0);
    expect(refused.filter((r) => r.reason === 'timeout')).toHaveLength(20);
    expect(log.find('admission refused', { reason: 'overloaded' })[0]).toMatchObject({
      fields: { err: '20 admissions already pending' },
    });
    await expect.poll(() => resources().Timeout ?? 0).toBeLessThanOrEqual(timers + 1);
  });

  it('password guessing as fast as it can: one line for a run of rate-limited refusals, then a count', async () => {
    let clock = 1_000_000;
    const { refused, tcpPort, log } = await start({
      failedAdmissionBurst: 2,
      failedAdmissionRate: 0.001,
      monotonicClock: () => clock,
    });
    const guess = async (i: number): Promise<void> => {
      const { socket, closed } = rawTcp(tcpPort);
      socket.write(await sealRequest(`guess-${i}`, { domain: 'root', timestamp: currentTimeNs() }));
      await closed;
    };
    for (let i = 0; i < 22; i++) await guess(i);
    expect(refused.filter((r) => r.reason === 'rate-limited')).toHaveLength(20);
    // Before: 20 lines, one per connection.
    const lines = () => log.find('admission refused', { reason: 'rate-limited' });
    expect(lines()).toHaveLength(1);
    expect(lines()[0]!.fields).toMatchObject({ more: 'further rate-limited refusals are summed up' });
    expect(log.find('admissions refused: rate-limited')).toHaveLength(0);
    // A second later the run is over: the next connection has its count said, and starts a new one.
    clock += 1_000;
    await guess(22);
    const summary = log.find('admissions refused: rate-limited');
    expect(summary).toHaveLength(1);
    expect(summary[0]!.fields).toMatchObject({
      refused: 19,
      total: 20,
      over: true,
      remote: expect.stringMatching(/^127\.0\.0\.1:/),
    });
    expect(lines()).toHaveLength(2);
  });

  it('password guessing: after the burst the host is turned away unheard; other hosts are not', async () => {
    const { refused, tcpPort, log, sw } = await start({ failedAdmissionBurst: 10, failedAdmissionRate: 0.5 });
    const replies: number[] = [];
    for (let i = 0; i < 30; i++) {
      const { socket, closed } = rawTcp(tcpPort);
      socket.write(await sealRequest(`guess-${i}`, { domain: 'root', timestamp: currentTimeNs() }));
      replies.push((await closed).length);
    }
    const reasons = refused.map((r) => r.reason);
    expect(reasons.slice(0, 10)).toEqual(Array(10).fill('decrypt'));
    expect(reasons.slice(10).every((r) => r === 'rate-limited')).toBe(true);
    // Turned away unheard: no crypto spent, no reply sent.
    expect(replies.slice(10).every((n) => n === 0)).toBe(true);
    expect(log.find('admission refused', { reason: 'rate-limited' })[0]).toMatchObject({
      level: 'warn',
      fields: { err: 'too many failed admissions from this host', errCode: 0 },
    });
    // The right password from the same host waits for the bucket too: the price of the limit.
    // (A raw socket: admit() itself would trip over the instant close, see the next test.)
    const late = rawTcp(tcpPort);
    late.socket.write(await sealRequest(PASSWORD, { domain: 'late', timestamp: currentTimeNs() }));
    expect((await late.closed).length).toBe(0);
    expect(refused.at(-1)?.reason).toBe('rate-limited');
    // Another host is not affected (memory transport with another address).
    const { memoryPair } = await import('../../src/transport/memory.js');
    const [a, b] = memoryPair({ remoteAddresses: ['switcher', '198.51.100.7:1234'] });
    sw.handle(b);
    const other = await admit(a, { password: PASSWORD, domain: 'other-host' });
    expect(other.ip).toBeGreaterThan(0);
    other.transport.destroy();
  });
});

describe('a node turned away at once', () => {
  // Regression (found here, fixed in c1116c1; src/node/admit.ts): admit() created the promise of the first
  // frame and only awaits it after sealing the request (asynchronous Web Crypto, several ms). A switcher that
  // turns the connection away at once (rate-limited, overloaded, closing: the cheap refusals destroy the
  // transport unread) closes it during that window: the promise is rejected with nobody listening, an
  // unhandled rejection, which Node's default mode raises as an uncaught exception: the node's process
  // crashes (connect() and Session go through admit()). Seen in this suite as
  // "PromiseRejectionHandledWarning" then "Uncaught Exception AdmissionError: connection closed during
  // admission". Fix: `first.catch(() => {})` right after creating it, as the switcher's AdmissionReader does
  // for its own `first`.
  it('gets a rejected admit(), and nothing escapes as an uncaught exception', async () => {
    const { sw } = await start({ maxPendingAdmissions: 1 });
    const { memoryPair } = await import('../../src/transport/memory.js');
    const [, holder] = memoryPair();
    sw.handle(holder); // a silent connection holds the only admission slot
    const trap = trapUncaught();
    try {
      const [a, b] = memoryPair();
      sw.handle(b);
      await expect(admit(a, { password: PASSWORD, domain: 'turned-away' })).rejects.toMatchObject({
        code: 'FLEX_ERR_ADMISSION_REJECTED',
      });
      await new Promise((r) => setTimeout(r, 20)); // a turn for anything deferred to surface
    } finally {
      trap.release();
    }
    expect(trap.caught.map(String)).toEqual([]);
  });
});

describe('right after admission', () => {
  it('a short WebSocket message drops the client with reason "protocol"; others are unaffected', async () => {
    const { left, log, wsUrl, tcpPort, sw } = await start();
    const good = await legitNode(tcpPort, 'good');
    const { ws } = await rawWs(wsUrl);
    const first = new Promise<Buffer>((resolve) => ws.once('message', (d: Buffer) => resolve(d)));
    ws.send(Buffer.from(await sealRequest(PASSWORD, { domain: 'evil-ws', timestamp: currentTimeNs() })));
    await first;
    await expect.poll(() => sw.client('evil-ws')).toBeDefined();
    ws.send(Buffer.alloc(3), { binary: true });
    await expect.poll(() => left.map((l) => [l.domain, l.reason])).toEqual([['evil-ws', 'protocol']]);
    expect(left[0].err).toMatch(/shorter than a frame header/);
    expect(log.find('client left', { domain: 'evil-ws', reason: 'protocol' })[0]?.level).toBe('warn');
    expect(await good.ping()).toBeGreaterThanOrEqual(0);
  });

  it('a WebSocket message over one frame (oversized) is refused by the transport, the client dropped', async () => {
    const { left, wsUrl, sw } = await start();
    const { ws, closed } = await rawWs(wsUrl);
    const first = new Promise<void>((resolve) => ws.once('message', () => resolve()));
    ws.send(Buffer.from(await sealRequest(PASSWORD, { domain: 'big', timestamp: currentTimeNs() })));
    await first;
    ws.send(Buffer.alloc(11 + 65_535 + 1), { binary: true });
    expect(await closed).toBe(1009); // ws: message too big
    await expect.poll(() => left.map((l) => l.domain)).toEqual(['big']);
    expect(sw.stats().clients).toBe(0);
  });

  it('a TCP client that ends inside a frame leaves; its partial frame is not forwarded', async () => {
    const { left, log, tcpPort, sw } = await start();
    const target = await legitNode(tcpPort, 'target');
    const { socket } = rawTcp(tcpPort);
    const replied = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write(await sealRequest(PASSWORD, { domain: 'cut', timestamp: currentTimeNs() }));
    await replied;
    const ip = sw.client('cut')!.ip;
    // A data frame to target announcing 1000 bytes; 10 of them; then FIN.
    const partial = Buffer.alloc(11 + 10);
    partial.writeUInt8(6, 0);
    partial.writeUInt16BE(target.ip, 1);
    partial.writeUInt16BE(7, 3);
    partial.writeUInt16BE(ip, 5);
    partial.writeUInt16BE(1000, 7);
    partial.writeUInt16BE(1000, 9);
    socket.end(partial);
    await expect.poll(() => left.map((l) => l.domain)).toEqual(['cut']);
    expect(target.stats.framesIn).toBe(0);
    expect(sw.stats().forwarded).toBe(0);
    // Not a clean hang-up (found by the robustness audit: it was logged as reason "closed", at
    // info, like a graceful leave): a protocol error, as a node reports the same thing.
    expect(left[0]).toMatchObject({ reason: 'protocol', err: expect.stringMatching(/middle of a frame/) });
    const line = log.find('client left', { domain: 'cut', reason: 'protocol' })[0];
    expect(line?.level).toBe('warn');
    // And how much of the frame came: a peer that crashed mid-write reads apart from one that sent
    // a bare header, or that was cut by a proxy at a given byte.
    expect(line?.fields.err).toBe(
      'connection ended in the middle of a frame payload: 10 of its 1000 bytes had arrived (command data)',
    );
  });
});

// Found by the transport hunt: every listener swallowed the errors its server raised after
// listening (failed accepts: ENOBUFS, ENOMEM, or EMFILE once libuv lost its spare descriptor)
// with an empty handler, so a switcher that lost connections at the door said nothing about it.
describe('a listener whose accept fails', () => {
  const listeners = {
    tcp: (sw: Switcher) => listenTcp(sw, { host: '127.0.0.1', port: 0 }),
    ws: (sw: Switcher) => listenWs(sw, { host: '127.0.0.1', port: 0 }),
    tls: (sw: Switcher) => listenTls(sw, { host: '127.0.0.1', port: 0, key, cert }),
    wss: (sw: Switcher) => listenWss(sw, { host: '127.0.0.1', port: 0, key, cert }),
  };
  for (const [kind, listen] of Object.entries(listeners)) {
    it(`${kind}: the switcher logs the error with its reason, and the listener keeps listening`, async () => {
      const log = captureLogger();
      const sw = new Switcher({ password: PASSWORD, logger: log });
      cleanups.push(() => sw.close({ timeout: 300 }));
      const { listener, server } = await listenWithServer(() => listen(sw));
      const port = listener.address.port;
      server.emit('error', acceptFailure());
      expect(log.find('listener error (still listening)')).toEqual([
        {
          level: 'warn',
          msg: 'listener error (still listening)',
          fields: { address: `127.0.0.1:${port}`, code: 'ENOBUFS', err: 'accept ENOBUFS' },
        },
      ]);
      expect(server.listening).toBe(true);
    });
  }
});

// Found by the transport hunt: a connection still in its TLS handshake or WebSocket upgrade is not
// an admission yet, so maxPendingAdmissions did not bound it; only the handshake timeout did. A
// crowd opened faster than that timeout (one per ms for 10 s) held as many sockets as it liked
// and used up the switcher's file descriptors, as TCP's crowd above cannot.
describe('a crowd that never finishes its handshake', () => {
  const MAX = 5;
  const CROWD = 15;
  const kinds = {
    ws: {
      listen: (sw: Switcher) => listenWs(sw, { host: '127.0.0.1', port: 0 }),
      dial: (port: number) => dialWs(`ws://127.0.0.1:${port}/flex/ws`),
    },
    tls: {
      listen: (sw: Switcher) => listenTls(sw, { host: '127.0.0.1', port: 0, key, cert }),
      dial: (port: number) => dialTls('127.0.0.1', port, { ca: cert }),
    },
    wss: {
      listen: (sw: Switcher) => listenWss(sw, { host: '127.0.0.1', port: 0, key, cert }),
      dial: (port: number) => dialWs(`wss://127.0.0.1:${port}/flex/ws`, { ca: cert }),
    },
  };
  for (const [kind, { listen, dial }] of Object.entries(kinds)) {
    it(`${kind}: beyond maxPendingAdmissions turned away at once and logged; a finished or closed handshake frees its place`, async () => {
      const log = captureLogger();
      const sw = new Switcher({
        password: PASSWORD,
        logger: log,
        maxPendingAdmissions: MAX,
        admissionTimeout: 20_000,
      });
      cleanups.push(() => sw.close({ timeout: 300 }));
      const { port } = (await listen(sw)).address;
      // Connections that finished their handshake count no more: twice the bound of them first.
      const admitNode = async (domain: string): Promise<void> => {
        const { transport } = await admit(await dial(port), { password: PASSWORD, domain });
        cleanups.push(() => transport.destroy());
      };
      for (let i = 0; i < 2 * MAX; i++) await admitNode(`early-${i}`);
      const crowd: { socket: net.Socket; closed: Promise<Buffer>; done: boolean }[] = [];
      for (let i = 0; i < CROWD; i++) {
        const c = { ...rawTcp(port), done: false };
        void c.closed.then(() => {
          c.done = true;
        });
        // Half a request line: an HTTP server waits for the rest, a TLS one for a whole record.
        c.socket.write(kind === 'ws' ? 'GET /flex/ws HTTP/1.1\r\n' : Buffer.from([0x16, 0x03, 0x01]));
        crowd.push(c);
      }
      await expect.poll(() => crowd.filter((c) => c.done).length, { timeout: 5_000 }).toBe(CROWD - MAX);
      const turnedAway = log.find('connection turned away before its handshake: too many pending');
      // The first in full, the rest summed up once the crowd is gone (below). Before: one
      // identical line per connection, hundreds for a herd of nodes reconnecting at once.
      expect(turnedAway).toHaveLength(1);
      expect(turnedAway[0]).toMatchObject({
        level: 'warn',
        fields: { remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/), pending: MAX },
      });
      // Once each: a connection turned away is no handshake failure besides.
      expect(log.find('connection failed its handshake')).toHaveLength(0);
      // Those still held free their places when they go (long before the handshake timeout): a
      // node gets in again once the switcher has seen them close.
      for (const c of crowd) if (!c.done) c.socket.destroy();
      const summed = (): unknown[] =>
        log.find('connections turned away before their handshake: too many pending').map((l) => l.fields);
      await expect.poll(summed, { timeout: 5_000 }).toHaveLength(1);
      expect(summed()[0]).toMatchObject({ refused: CROWD - MAX - 1, total: CROWD - MAX, over: true });
      await expect
        .poll(
          () =>
            admitNode('late').then(
              () => true,
              () => false,
            ),
          { timeout: 5_000 },
        )
        .toBe(true);
      expect(sw.client('late')).toBeDefined();
    });
  }
});

// Found by the transport hunt: a connection that failed its TLS handshake (a client speaking plain
// HTTP or garbage, one that never finished in time) or sent a malformed HTTP request to the
// WebSocket listener was closed without a word: no refusal, no log line, nothing to tell an
// operator why clients could not get in.
describe('a connection that fails its handshake', () => {
  const kinds = {
    ws: {
      listen: (sw: Switcher) => listenWs(sw, { host: '127.0.0.1', port: 0 }),
      garbage: 'NOT HTTP AT ALL\r\n\r\n',
    },
    tls: {
      listen: (sw: Switcher) => listenTls(sw, { host: '127.0.0.1', port: 0, key, cert }),
      garbage: 'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
    },
    wss: {
      listen: (sw: Switcher) => listenWss(sw, { host: '127.0.0.1', port: 0, key, cert }),
      garbage: 'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
    },
  };
  for (const [kind, { listen, garbage }] of Object.entries(kinds)) {
    it(`${kind}: is closed and logged with the reason`, async () => {
      const log = captureLogger();
      const sw = new Switcher({ password: PASSWORD, logger: log });
      cleanups.push(() => sw.close({ timeout: 300 }));
      const { port } = (await listen(sw)).address;
      const { socket, closed } = rawTcp(port);
      const localPort = new Promise<number | undefined>((resolve) =>
        socket.once('connect', () => resolve(socket.localPort)),
      );
      socket.write(garbage);
      const answer = (await closed).toString('latin1');
      // The HTTP server still answers a malformed request as Node does.
      if (kind === 'ws') expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      const failed = log.find('connection failed its handshake');
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({
        level: 'warn',
        fields: {
          remote: `127.0.0.1:${await localPort}`,
          code: expect.stringMatching(kind === 'ws' ? /^HPE_/ : /^ERR_SSL_/),
          err: expect.any(String),
        },
      });
    });
  }

  it('ws: a half-sent upgrade request cut off at the timeout gets its 408 and a log line', async () => {
    const log = captureLogger();
    const sw = new Switcher({ password: PASSWORD, logger: log, admissionTimeout: 300 });
    cleanups.push(() => sw.close({ timeout: 300 }));
    const { port } = (await listenWs(sw, { host: '127.0.0.1', port: 0 })).address;
    const { socket, closed } = rawTcp(port);
    socket.write('GET /flex/ws HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    expect((await closed).toString('latin1')).toMatch(/^HTTP\/1\.1 408 /);
    expect(log.find('connection failed its handshake')[0]).toMatchObject({
      fields: { code: 'ERR_HTTP_REQUEST_TIMEOUT' },
    });
  });
});

// Found by the transport hunt: the CLI's --demo listener serves the switcher's WebSocket too, but
// on an HTTP server of its own that kept Node's defaults (60 s for headers, 300 s for a request,
// checked every 30 s) with no bound on connections before their upgrade and no log line: the
// slowloris that listenWs was hardened against (ac6e23f) worked there unchanged.
describe('the demo listener', () => {
  it('cuts a half-sent upgrade request off at the admission timeout, with a 408 and a log line', async () => {
    const log = captureLogger();
    const sw = new Switcher({ password: PASSWORD, logger: log, admissionTimeout: 300 });
    cleanups.push(() => sw.close({ timeout: 300 }));
    const l = await listenDemo(sw, { host: '127.0.0.1', port: 0, bundle: new Uint8Array(1), echo: false });
    cleanups.push(() => l.close());
    const { socket, closed } = rawTcp(l.address.port);
    socket.write('GET /flex/ws HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    let guard: ReturnType<typeof setTimeout> | undefined;
    const tooLong = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error('half-sent upgrade request still open after 5 s')), 5_000);
    });
    cleanups.push(() => clearTimeout(guard));
    expect((await Promise.race([closed, tooLong])).toString('latin1')).toMatch(/^HTTP\/1\.1 408 /);
    expect(log.find('connection failed its handshake')[0]).toMatchObject({
      fields: { code: 'ERR_HTTP_REQUEST_TIMEOUT' },
    });
  });

  it('turns away connections beyond maxPendingAdmissions before their upgrade, and logs it', async () => {
    const log = captureLogger();
    const sw = new Switcher({ password: PASSWORD, logger: log, maxPendingAdmissions: 2 });
    cleanups.push(() => sw.close({ timeout: 300 }));
    const l = await listenDemo(sw, { host: '127.0.0.1', port: 0, bundle: new Uint8Array(1), echo: false });
    cleanups.push(() => l.close());
    const crowd = Array.from({ length: 5 }, () => rawTcp(l.address.port));
    for (const c of crowd) c.socket.write('GET /flex/ws HTTP/1.1\r\n');
    let done = 0;
    for (const c of crowd) void c.closed.then(() => done++);
    await expect.poll(() => done, { timeout: 5_000 }).toBe(3);
    expect(log.find('connection turned away before its handshake: too many pending')).toHaveLength(1);
    for (const c of crowd) c.socket.destroy();
    await expect
      .poll(() => log.find('connections turned away before their handshake: too many pending'), {
        timeout: 5_000,
      })
      .toHaveLength(1);
    expect(log.find(/^connections turned away/)[0]?.fields).toMatchObject({ refused: 2, total: 3 });
  });
});
